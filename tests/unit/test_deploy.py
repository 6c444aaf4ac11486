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
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import connectors
from gateway.aws_lambda import LambdaSettings, lambda_settings
from gateway.cli import main
from gateway.config import Settings, apply_env_overrides, load_settings, parse_settings
from gateway.secrets import AwsSecrets
from gateway.sinks.eventbridge import EventBridgeOptions
from tests.helpers.deploy import (
    DOCKERFILE,
    LAMBDA_CONFIG,
    ROOT,
    TEMPLATE,
    Kubernetes,
    Stack,
    iter_probes,
    lint,
    load_dockerfile,
    load_template,
    of_type,
    translate,
)

# -- CloudFormation ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam)


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
    secrets = ["SourceSecrets-id"]
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
    assert set(of_type(cfn, "AWS::SecretsManager::Secret")) == {"SourceSecrets"}


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


class OfflineSecrets(AwsSecrets):
    """Every Secrets Manager secret is a JSON object with a value for each of `keys`."""

    def __init__(self, keys: Iterable[str]) -> None:
        super().__init__()
        self.keys = list(keys)
        self.read_secrets: list[str] = []

    def _get(self, reference: str, secret: str) -> str:
        self.read_secrets.append(secret)
        return json.dumps({key: f"offline-{key}" for key in self.keys})


def offline(raw: dict[str, Any]) -> Settings:
    """`raw` validated, its secrets read from `OfflineSecrets` (every source's key present)."""
    return parse_settings(raw, env={}, secrets=OfflineSecrets(raw["sources"]))


def test_the_function_environment_configures_the_bundled_configuration(sam: dict[str, Any]) -> None:
    parameters = {"EventBusName": "payments", "PublicUrl": "https://hooks.example.com"}
    stack = Stack(sam, parameters)
    env = _lambda_environment(stack)
    assert env["HOOKGATE_CONFIG"] == f"/var/task/{LAMBDA_CONFIG.name}"
    options, raw = lambda_configuration(env)
    assert options.dedup_table == "DedupTable-id"
    settings = offline(raw)
    # Every source reads its own key of the one secret the template creates (and lets the
    # function read), so adding a source changes neither the environment nor the template.
    [secret] = of_type(sam, "AWS::SecretsManager::Secret").values()
    name = stack.resolve(secret["Properties"]["Name"])
    assert json.loads(stack.resolve(secret["Properties"]["SecretString"])) == {}
    references = {source: spec.secret_references for source, spec in settings.sources.items()}
    assert references == {
        source: (f"secretsmanager:{name}#{source}",) for source in ("stripe", "github", "support")
    }
    assert [k for k in env if k.startswith("HOOKGATE_SOURCES__")] == []
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


def test_the_bundled_configuration_has_the_readme_sources() -> None:
    """The README's Freshdesk source, and Stripe's, as the README configures them: only
    their secrets come from elsewhere (the JSON secret instead of the environment)."""
    readme = (ROOT / "README.md").read_text()
    example = tomllib.loads(re.findall(r"```toml\n(.*?)```", readme.split("## Configuration", 1)[1], re.S)[0])
    bundled = tomllib.loads(LAMBDA_CONFIG.read_text())["sources"]
    for name, table in example["sources"].items():
        keys = set(table) | set(bundled[name])
        differ = {k for k in keys if table.get(k) != bundled[name].get(k)}
        assert differ, name
        for key in differ:
            values = bundled[name][key] if isinstance(bundled[name][key], list) else [bundled[name][key]]
            assert all(str(v).startswith("secretsmanager:hookgate/sources#") for v in values), key
    assert bundled["support"]["connector"] == "freshdesk"
    settings = offline(lambda_configuration({})[1])
    assert settings.sources["support"].connector_name == "freshdesk"


def test_the_lambda_answers_before_the_providers_give_up() -> None:
    """The worst case of a put (every attempt timing out) ends before the function's timeout."""
    [bus] = offline(lambda_configuration({})[1]).sinks.values()
    assert isinstance(bus.options, EventBridgeOptions)
    options = bus.options
    worst = options.sdk_max_attempts * (options.connect_timeout_seconds + options.read_timeout_seconds)
    function = of_type(load_template(), "AWS::Serverless::Function")["HookgateFunction"]["Properties"]
    assert worst < function["Timeout"] <= 10  # GitHub's deadline is 10 s


# -- the container image -----------------------------------------------------------------------


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
