"""The deployment files are tested like code.

- `deploy/aws/template.yaml`: cfn-lint passes on it and on what the SAM translator makes of
  it (offline: both run from their installed schemas); the role grants each action on its
  one resource; the function's environment, applied to the bundled configuration, is a
  configuration hookgate accepts and that names what the template creates.
- `deploy/container/Dockerfile` and `deploy/kubernetes/hookgate.yaml`: parsed, checked
  against each other (user, port, probes, mounts, secrets), and their environment accepted
  by `hookgate check-config`. The end-to-end tests run the same command lines.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import cfnlint.api  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]
from click.testing import CliRunner, Result
from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]

import connectors
from gateway.aws_lambda import LambdaSettings, lambda_settings
from gateway.cli import main
from gateway.config import Settings, apply_env_overrides, load_settings, parse_settings
from gateway.sinks.eventbridge import EventBridgeOptions

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TEMPLATE = DEPLOY / "aws" / "template.yaml"
LAMBDA_CONFIG = DEPLOY / "aws" / "hookgate.toml"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"
KUBERNETES = DEPLOY / "kubernetes" / "hookgate.yaml"
REGION = "us-east-1"


# -- CloudFormation ----------------------------------------------------------------------------


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


def load_template() -> dict[str, Any]:
    """The SAM template with its short-form intrinsics in their long form."""
    template: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)  # noqa: S506 - a SafeLoader
    return template


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """What `sam deploy` sends CloudFormation: local code uploaded, then the SAM transform."""
    packaged = json.loads(json.dumps(template))
    for resource in packaged["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts-bucket/hookgate.zip"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    result: dict[str, Any] = translator.translate(
        packaged, parameter_values={}, get_managed_policy_map=lambda: {}
    )
    return result


def lint(text: str) -> list[str]:
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
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._ref(m[1])), arg)
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


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam)


def of_type(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_sam_template_passes_cfn_lint() -> None:
    assert lint(TEMPLATE.read_text()) == []


def test_translated_template_passes_cfn_lint(cfn: dict[str, Any]) -> None:
    assert lint(json.dumps(cfn, indent=1)) == []


def test_sam_translates_to_the_function_behind_a_public_function_url(cfn: dict[str, Any]) -> None:
    (function_id, function), *others = of_type(cfn, "AWS::Lambda::Function").items()
    assert others == []
    assert function["Properties"]["Handler"] == "gateway.aws_lambda.handler"
    assert function["Properties"]["Role"] == {"Fn::GetAtt": ["HookgateFunctionRole", "Arn"]}
    assert function["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogGroup"}
    [url] = of_type(cfn, "AWS::Lambda::Url").values()
    assert url["Properties"]["TargetFunctionArn"] == {"Ref": function_id}
    assert url["Properties"]["AuthType"] == "NONE"
    permissions = {
        p["Properties"]["Action"]: p["Properties"]
        for p in of_type(cfn, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Ref": function_id}
    }
    assert permissions["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert permissions["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    # The explicit role is the function's only one: SAM added no managed policies.
    assert list(of_type(cfn, "AWS::IAM::Role")) == ["HookgateFunctionRole"]


def _grants(cfn: Mapping[str, Any], deduplicate: str) -> dict[str, list[Any]]:
    stack = Stack(cfn, {"Deduplicate": deduplicate})
    [role] = of_type(cfn, "AWS::IAM::Role").values()
    grants: dict[str, list[Any]] = {}
    for policy in stack.resolve(role["Properties"]["Policies"]):
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"]
            for action in actions:
                grants.setdefault(action, []).extend(
                    resources if isinstance(resources, list) else [resources]
                )
    return grants


def test_the_role_grants_each_action_on_its_one_resource(cfn: dict[str, Any]) -> None:
    secrets = ["StripeSecret-id", "GitHubSecret-id"]
    expected = {
        "logs:CreateLogStream": ["arn:FunctionLogGroup.Arn"],
        "logs:PutLogEvents": ["arn:FunctionLogGroup.Arn"],
        "events:PutEvents": ["arn:EventBus.Arn"],
        "secretsmanager:GetSecretValue": secrets,
    }
    table = ["arn:DedupTable.Arn"]
    assert _grants(cfn, "true") == {**expected, "dynamodb:PutItem": table, "dynamodb:DeleteItem": table}
    assert _grants(cfn, "false") == expected
    [bus] = of_type(cfn, "AWS::Events::EventBus")
    assert bus == "EventBus"
    assert set(of_type(cfn, "AWS::SecretsManager::Secret")) == {"StripeSecret", "GitHubSecret"}


def test_the_example_rule_delivers_to_sqs_with_a_dead_letter_queue(cfn: dict[str, Any]) -> None:
    [(rule_id, rule)] = of_type(cfn, "AWS::Events::Rule").items()
    assert rule["Properties"]["EventBusName"] == {"Ref": "EventBus"}
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["EventsQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    queue = cfn["Resources"]["EventsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    # EventBridge may send to both queues, for this rule only.
    [policy] = of_type(cfn, "AWS::SQS::QueuePolicy").values()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == [target["Arn"], target["DeadLetterConfig"]["Arn"]]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    # The rule's pattern matches what hookgate puts on the bus.
    assert rule["Properties"]["EventPattern"] == {"source": [{"prefix": "hookgate."}]}


def test_alarms_watch_errors_throttles_and_the_dead_letter_queue(cfn: dict[str, Any]) -> None:
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]["Dimensions"]
        for a in of_type(cfn, "AWS::CloudWatch::Alarm").values()
    }
    function = [{"Name": "FunctionName", "Value": {"Ref": "HookgateFunction"}}]
    assert watched == {
        ("AWS/Lambda", "Errors"): function,
        ("AWS/Lambda", "Url5xxCount"): function,
        ("AWS/Lambda", "Throttles"): function,
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
        ],
    }
    topic = "arn:aws:sns:us-east-1:123456789012:ops"
    for alarm in of_type(cfn, "AWS::CloudWatch::Alarm").values():
        assert Stack(cfn, {"AlarmTopicArn": topic}).resolve(alarm["Properties"])["AlarmActions"] == [topic]
        assert "AlarmActions" not in Stack(cfn).resolve(alarm["Properties"])


def test_logs_are_kept_for_the_chosen_retention(cfn: dict[str, Any]) -> None:
    [group] = of_type(cfn, "AWS::Logs::LogGroup").values()
    assert Stack(cfn, {"LogRetentionDays": "14"}).resolve(group["Properties"])["RetentionInDays"] == "14"


def _lambda_environment(stack: Stack) -> dict[str, str]:
    [function] = of_type(stack.template, "AWS::Serverless::Function").values()
    variables: dict[str, str] = stack.resolve(function["Properties"]["Environment"]["Variables"])
    return variables


def lambda_configuration(env: Mapping[str, str]) -> tuple[LambdaSettings, dict[str, Any]]:
    """What the handler reads: its own variables, and the bundled file with the rest applied
    (secret references not fetched: the end-to-end test fetches them)."""
    options, rest = lambda_settings(env)
    return options, apply_env_overrides(tomllib.loads(LAMBDA_CONFIG.read_text()), rest)


def offline(raw: dict[str, Any]) -> Settings:
    """`raw` validated, every `secretsmanager:` reference replaced by a literal."""
    copy = json.loads(json.dumps(raw))
    for table in copy["sources"].values():
        table["secrets"] = [s.replace("secretsmanager:", "literal:") for s in table["secrets"]]
    return parse_settings(copy, env={})


def test_the_function_environment_configures_the_bundled_configuration(sam: dict[str, Any]) -> None:
    parameters = {
        "EventBusName": "payments",
        "StripeSecretName": "prod/stripe",
        "GitHubSecretName": "prod/github",
        "PublicUrl": "https://hooks.example.com",
    }
    stack = Stack(sam, parameters)
    env = _lambda_environment(stack)
    assert env["HOOKGATE_CONFIG"] == f"/var/task/{LAMBDA_CONFIG.name}"
    options, raw = lambda_configuration(env)
    assert options.dedup_table == "DedupTable-id"
    # Each source reads the secret the template creates for it, under that name.
    references = {name: table["secrets"] for name, table in raw["sources"].items()}
    assert references == {"stripe": ["secretsmanager:prod/stripe"], "github": ["secretsmanager:prod/github"]}
    secret_resources = of_type(sam, "AWS::SecretsManager::Secret").values()
    assert {stack.resolve(r["Properties"]["Name"]) for r in secret_resources} == {
        "prod/stripe",
        "prod/github",
    }
    settings = offline(raw)
    [(name, bus)] = settings.sinks.items()
    assert isinstance(bus.options, EventBridgeOptions)
    assert (bus.cls.kind, bus.options.event_bus_name) == ("eventbridge", "payments")
    assert settings.server.public_url == "https://hooks.example.com"
    assert {source.sinks for source in settings.sources.values()} == {(name,)}


def test_optional_settings_leave_the_environment_when_off(sam: dict[str, Any]) -> None:
    env = _lambda_environment(Stack(sam, {"Deduplicate": "false"}))
    assert "HOOKGATE_SERVER__PUBLIC_URL" not in env
    assert not Stack(sam, {"Deduplicate": "false"}).exists("DedupTable")
    options, raw = lambda_configuration(env)
    assert options.dedup_table is None
    assert offline(raw).server.public_url is None
    function = of_type(sam, "AWS::Serverless::Function")["HookgateFunction"]["Properties"]
    assert "ReservedConcurrentExecutions" not in Stack(sam).resolve(function)
    assert Stack(sam, {"ReservedConcurrency": "50"}).resolve(function)["ReservedConcurrentExecutions"] == "50"


def test_the_lambda_answers_before_the_providers_give_up() -> None:
    """The worst case of a put (every attempt timing out) ends before the function's timeout."""
    [bus] = offline(lambda_configuration({})[1]).sinks.values()
    assert isinstance(bus.options, EventBridgeOptions)
    options = bus.options
    worst = options.sdk_max_attempts * (options.connect_timeout_seconds + options.read_timeout_seconds)
    function = of_type(load_template(), "AWS::Serverless::Function")["HookgateFunction"]["Properties"]
    assert worst < function["Timeout"] <= 10  # GitHub's deadline is 10 s


# -- the container image -----------------------------------------------------------------------


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


def check_config(env: Mapping[str, str]) -> Result:
    """`hookgate check-config` in exactly this environment's `HOOKGATE_…` variables."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("HOOKGATE_")}
    return CliRunner().invoke(main, ["check-config"], env={**unset, **env})


def test_the_image_runs_hookgate_serve_as_an_unprivileged_user() -> None:
    image = load_dockerfile()
    assert [*image.entrypoint, *image.cmd] == ["hookgate", "serve"]
    uid, _, gid = image.user.partition(":")
    assert int(uid) >= 1000
    assert int(gid) >= 1000
    assert (image.prefix, image.prefix) in image.copied_from_build
    assert image.expose == [int(image.env["HOOKGATE_SERVER__PORT"])]
    assert image.env["HOOKGATE_SERVER__HOST"] == "0.0.0.0"  # noqa: S104 - a container's listener
    assert "/healthz" in " ".join(image.healthcheck)
    assert image.healthcheck[0] == "python"


def test_the_image_environment_alone_is_a_valid_configuration() -> None:
    image = load_dockerfile()
    result = check_config(image.environment("/usr/bin"))
    assert result.exit_code == 0, result.output
    assert "configuration OK: (defaults)" in result.output


# -- Kubernetes --------------------------------------------------------------------------------


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


def test_kubernetes_runs_replicas_of_the_image_with_probes() -> None:
    manifest = Kubernetes.load()
    image = load_dockerfile()
    deployment = manifest.objects["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod, container = manifest.pod, manifest.container
    assert [*image.entrypoint, *container["args"]] == ["hookgate", "serve"]
    uid, _, gid = image.user.partition(":")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (int(uid), int(gid))
    [port] = container["ports"]
    assert port["containerPort"] == int(image.env["HOOKGATE_SERVER__PORT"])
    probes = {kind: (path, probe_port) for kind, path, probe_port in iter_probes(container)}
    assert probes == {
        "startupProbe": ("/healthz", port["name"]),
        "readinessProbe": ("/readyz", port["name"]),
        "livenessProbe": ("/healthz", port["name"]),
    }
    service = manifest.objects["Service"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["selector"] == labels == deployment["spec"]["selector"]["matchLabels"]
    assert service["ports"][0]["targetPort"] == port["name"]
    assert manifest.objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    assert pod["serviceAccountName"] == manifest.objects["ServiceAccount"]["metadata"]["name"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert image.workdir in mounted  # the image's volume, writable


def test_kubernetes_configuration_is_accepted_on_postgresql(tmp_path: Path) -> None:
    manifest = Kubernetes.load()
    image = load_dockerfile()
    env = {**image.environment("/usr/bin"), **manifest.environment(tmp_path)}
    assert Path(env["HOOKGATE_CONFIG"]).is_file()
    result = check_config(env)
    assert result.exit_code == 0, result.output
    assert "store: postgresql://hookgate@postgres.example.internal:5432/hookgate" in result.output
    assert "source stripe: connector stripe → sinks bus" in result.output
    assert "source github: connector github → sinks bus" in result.output
    assert "sink bus: eventbridge" in result.output
    settings = load_settings(env=env)
    assert settings.store.is_postgres
    assert settings.server.host == "0.0.0.0"  # noqa: S104 - the image's listener
    for source in settings.sources.values():
        assert isinstance(source.options, connectors.SecretsOptions)
        [secret] = connectors.secret_values(source.options.secrets)
        assert secret.decode() in manifest.objects["Secret"]["stringData"].values()


# -- the extras each deployment installs ---------------------------------------------------------


def image_extras() -> set[str]:
    """The extras the image's build stage installs: `.[${HOOKGATE_EXTRAS}]`, the ARG's default."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    assert re.search(r'pip install "\.\[\$\{HOOKGATE_EXTRAS\}\]"', text)
    default = re.search(r"^ARG HOOKGATE_EXTRAS=(\S*)$", text, re.MULTILINE)
    assert default is not None
    return {extra for extra in default[1].split(",") if extra}


def test_the_image_installs_the_postgres_extra_kubernetes_needs(tmp_path: Path) -> None:
    image = load_dockerfile()
    env = {**image.environment("/usr/bin"), **Kubernetes.load().environment(tmp_path)}
    assert load_settings(env=env).store.is_postgres
    assert "postgres" in image_extras()


def test_the_lambda_package_is_built_with_the_lambda_extra() -> None:
    deploying = (ROOT / "docs" / "deploying.md").read_text()
    [install] = re.findall(
        r"^pip install --target build/lambda .*?\n(?=\S)", deploying, re.MULTILINE | re.DOTALL
    )
    assert "[lambda]" in install
