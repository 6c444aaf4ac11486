"""The deployment files, read as the tests check them: the SAM template with its
intrinsics evaluated (`Stack`), the container image's final stage (`Dockerfile`) and the
Kubernetes example (`Kubernetes`)."""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import cfnlint.api  # type: ignore[import-untyped]
import yaml  # type: ignore[import-untyped]
from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]

from tests.helpers.aws import REGION

ROOT = Path(__file__).resolve().parents[2]


DEPLOY = ROOT / "deploy"


TEMPLATE = DEPLOY / "aws" / "template.yaml"


LAMBDA_CONFIG = DEPLOY / "aws" / "hookgate.toml"


DOCKERFILE = DEPLOY / "container" / "Dockerfile"


KUBERNETES = DEPLOY / "kubernetes" / "hookgate.yaml"


SHOP = ROOT / "examples" / "event-driven-shop"


SHOP_TEMPLATE = SHOP / "template.yaml"


def _intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader: Any = type("CfnLoader", (yaml.SafeLoader,), {})


CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """A SAM template (hookgate's by default) with its short-form intrinsics in their long form."""
    template: dict[str, Any] = yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506 - a SafeLoader
    return template


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """What `sam deploy` sends CloudFormation: local code and nested templates uploaded, then
    the SAM transform."""
    packaged = json.loads(json.dumps(template))
    functions = packaged.get("Globals", {}).get("Function", {})
    if "CodeUri" in functions:
        functions["CodeUri"] = "s3://artifacts-bucket/code.zip"
    for resource in packaged["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in resource["Properties"]:
            resource["Properties"]["CodeUri"] = "s3://artifacts-bucket/hookgate.zip"
        if resource["Type"] == "AWS::Serverless::Application":
            resource["Properties"]["Location"] = "https://artifacts-bucket.s3.amazonaws.com/nested.template"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    result: dict[str, Any] = translator.translate(
        packaged, parameter_values={}, get_managed_policy_map=lambda: {}
    )
    return result


def lint(text: str) -> list[str]:
    """cfn-lint's findings on a template, informational ones included (offline)."""
    config = cfnlint.api.ManualArgs(regions=[REGION], include_checks=["I"])
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in cfnlint.api.lint(text, config=config)]


class _NoValue:
    """`AWS::NoValue`: the key or list item holding it disappears."""


NO_VALUE = _NoValue()


#: Resource types whose `Ref` is the name they are given, and the property giving it.
REF_IS_NAME = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Events::EventBus": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
}


PSEUDO_PARAMETERS = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::StackName": "hookgate",
}


@dataclass
class Stack:
    """Evaluates a template's intrinsics for given parameter values, as CloudFormation would.

    A resource's `Ref` is what `physical` says once it is created, else its name where
    CloudFormation's is (`REF_IS_NAME`) and one is given, else `<LogicalId>-id`; a `GetAtt`
    is what `attributes` says (`"LogicalId.Attribute"`), else `arn:<LogicalId>.<Attribute>`.
    """

    template: Mapping[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.parameters.update(PSEUDO_PARAMETERS)
        for name, spec in self.template.get("Parameters", {}).items():
            self.parameters.setdefault(name, str(spec.get("Default", "")))

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return self.attributes.get(f"{arg[0]}.{arg[1]}", f"arn:{arg[0]}.{arg[1]}")
            if key == "Fn::Sub":
                text, names = (arg[0], self.resolve(arg[1])) if isinstance(arg, list) else (arg, {})
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(names.get(m[1]) or self._ref(m[1])), text)
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return self.resolve(when_true if self.condition(condition) else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Condition":
                return self.condition(arg)
        if isinstance(value, dict):
            items = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in items.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        return value

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        resource = self.template["Resources"][name]
        name_property = REF_IS_NAME.get(resource["Type"])
        if name_property in resource.get("Properties", {}):
            return self.resolve(resource["Properties"][name_property])
        return f"{name}-id"

    def exists(self, logical_id: str) -> bool:
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)


def of_type(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


@dataclass(frozen=True)
class Dockerfile:
    """The final stage of a Dockerfile, as far as running it goes."""

    env: dict[str, str]
    user: str
    workdir: str
    expose: list[int]
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]
    copied_from_build: list[tuple[str, str]]

    @classmethod
    def parse(cls, text: str) -> Dockerfile:
        lines = [line.strip() for line in re.sub(r"\\\n", " ", text).splitlines()]
        instructions = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
        last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
        env: dict[str, str] = {}
        found: dict[str, Any] = {"EXPOSE": [], "COPY": []}
        for word, rest in instructions[last_from + 1 :]:
            if word == "ENV":
                for pair in shlex.split(rest):
                    key, value = pair.split("=", 1)
                    env[key] = value
            elif word == "EXPOSE":
                found["EXPOSE"] += [int(p.split("/")[0]) for p in rest.split()]
            elif word == "COPY":
                parts = rest.split()
                if parts[0] == "--from=build":
                    found["COPY"].append((parts[1], parts[2]))
            elif word == "HEALTHCHECK":
                found[word] = json.loads(rest.split(" CMD ", 1)[1])
            elif word in ("ENTRYPOINT", "CMD"):
                found[word] = json.loads(rest)
            else:
                found[word] = rest
        return cls(
            env=env,
            user=found["USER"],
            workdir=found["WORKDIR"],
            expose=found["EXPOSE"],
            entrypoint=found["ENTRYPOINT"],
            cmd=found["CMD"],
            healthcheck=found["HEALTHCHECK"],
            copied_from_build=found["COPY"],
        )

    @property
    def prefix(self) -> str:
        """Where the image's virtual environment is, the first directory of its PATH, less /bin."""
        return self.env["PATH"].split(":", 1)[0].removesuffix("/bin")

    def environment(self, host_path: str) -> dict[str, str]:
        """The image's environment on this machine: its virtual environment is this test's."""
        env = dict(self.env)
        env["PATH"] = env["PATH"].replace("$PATH", host_path).replace(self.prefix, sys.prefix)
        return env


def load_dockerfile() -> Dockerfile:
    return Dockerfile.parse(DOCKERFILE.read_text())


@dataclass(frozen=True)
class Kubernetes:
    """The example manifest's objects, by kind."""

    objects: dict[str, dict[str, Any]]

    @classmethod
    def load(cls) -> Kubernetes:
        documents = [d for d in yaml.safe_load_all(KUBERNETES.read_text()) if d]
        objects = {d["kind"]: d for d in documents}
        assert len(objects) == len(documents), "one object per kind"
        return cls(objects)

    @property
    def pod(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.objects["Deployment"]["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> dict[str, Any]:
        [container] = self.pod["containers"]
        return dict(container)

    def mounted_files(self, root: Path) -> dict[str, Path]:
        """Writes the ConfigMap's files under `root` where the pod mounts them; mount path → dir."""
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        mounts: dict[str, Path] = {}
        for mount in self.container["volumeMounts"]:
            local = root / mount["mountPath"].lstrip("/")
            local.mkdir(parents=True, exist_ok=True)
            mounts[mount["mountPath"]] = local
            config_map = volumes[mount["name"]].get("configMap")
            if config_map is not None:
                assert config_map["name"] == self.objects["ConfigMap"]["metadata"]["name"]
                for name, content in self.objects["ConfigMap"]["data"].items():
                    (local / name).write_text(content)
        return mounts

    def environment(self, root: Path) -> dict[str, str]:
        """The container's variables, secrets filled in from the Secret, paths under `root`."""
        secret = self.objects["Secret"]
        mounts = self.mounted_files(root)
        env: dict[str, str] = {}
        for var in self.container["env"]:
            if "value" in var:
                value = var["value"]
                for mount_path, local in mounts.items():
                    if var["value"].startswith(mount_path + "/"):
                        value = str(local / var["value"].removeprefix(mount_path + "/"))
                env[var["name"]] = value
            else:
                ref = var["valueFrom"]["secretKeyRef"]
                assert ref["name"] == secret["metadata"]["name"]
                env[var["name"]] = secret["stringData"][ref["key"]]
        return env


def iter_probes(container: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container[kind]["httpGet"]
        yield kind, probe["path"], probe["port"]
