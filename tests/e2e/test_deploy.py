"""The deployment files, run.

No container engine here: each process gets what the image and the manifest would give it
(the image's environment and command, the manifest's variables, secrets and mounted
configuration) and runs on this machine. No AWS either: the SAM template's resources are
created as it declares them on a local moto server, and the Lambda handler runs with the
function's environment from the template."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

import connectors
from connectors import WebhookRequest
from connectors.testing import signed_request
from gateway.app import build_source
from gateway.aws_lambda import LambdaHandler, create_handler
from gateway.config import load_settings
from tests.helpers.aws import REGION, LocalAws, aws_event, invoke, moto_server, use_offline_env
from tests.helpers.deploy import (
    LAMBDA_CONFIG,
    Dockerfile,
    Kubernetes,
    Stack,
    iter_probes,
    load_dockerfile,
    load_template,
    of_type,
)
from tests.helpers.served import FRESHDESK_PASSWORD, GITHUB_SECRET, free_port, jsonl_entries
from tests.unit._postgres import postgres_schema

pytestmark = pytest.mark.e2e

STRIPE_SECRET = "whsec_deploy_test_secret_0123456789"
HOST_PATH = "/usr/local/bin:/usr/bin:/bin"
#: Fake AWS credentials and no instance metadata: the sinks never look beyond this machine.
AWS_OFFLINE = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def run(argv: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def healthy(image: Dockerfile, env: Mapping[str, str], cwd: Path) -> bool:
    """Runs the image's HEALTHCHECK command, as the container engine would."""
    return run(image.healthcheck, env, cwd).returncode == 0


@contextmanager
def started(
    argv: list[str], env: Mapping[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until(check: Callable[[], object], what: str, log: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited: {log.read_text(errors='replace')}"
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} never happened: {log.read_text(errors='replace')}")


def test_the_image_command_serves_and_passes_its_health_check(tmp_path: Path) -> None:
    image = load_dockerfile()
    port = free_port()
    config = tmp_path / "hookgate.toml"
    config.write_text(
        f"""
[sources.stripe]
connector = "stripe"
secrets = ["env:STRIPE_WEBHOOK_SECRET"]

[sinks.archive]
type = "jsonl"
path = "{tmp_path / "events.jsonl"}"
"""
    )
    # `docker run -e …`: the configuration file, a secret, a free port, and loopback only.
    env = {
        **image.environment(HOST_PATH),
        "HOOKGATE_CONFIG": str(config),
        "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
        "HOOKGATE_SERVER__PORT": str(port),
        "HOOKGATE_SERVER__HOST": "127.0.0.1",
    }
    argv = [*image.entrypoint, *image.cmd]
    assert shutil.which(argv[0], path=env["PATH"]) == str(Path(sys.prefix) / "bin" / argv[0])
    assert not healthy(image, env, tmp_path)
    log = tmp_path / "serve.log"
    with started(argv, env, tmp_path, log) as process:
        wait_until(lambda: healthy(image, env, tmp_path), "the health check passing", log, process)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        sent = run(["hookgate", "send-test", "stripe"], env, tmp_path)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert sent.stdout.startswith("200 ")
        wait_until(
            lambda: (tmp_path / "events.jsonl").exists() and (tmp_path / "events.jsonl").read_text(),
            "the delivery",
            log,
            process,
        )
        [entry] = jsonl_entries(tmp_path / "events.jsonl")
        assert entry["source"] == "hookgate.stripe"
        assert (tmp_path / "hookgate.db").exists()  # the default store, in the image's WORKDIR
        process.send_signal(signal.SIGTERM)  # `docker stop`
        # uvicorn shuts down, then ends by the signal it caught (the engine sees 143).
        assert process.wait(20) == -signal.SIGTERM
    assert not (tmp_path / "hookgate.db-wal").exists(), "the store was not closed"
    assert not healthy(image, env, tmp_path)


def test_kubernetes_replicas_share_one_postgresql_database(tmp_path: Path) -> None:
    image = load_dockerfile()
    manifest = Kubernetes.load()
    argv = [*image.entrypoint, *manifest.container["args"]]
    probes = list(iter_probes(manifest.container))
    with postgres_schema() as store:
        # What the operator's Secret and ConfigMap would hold here: this machine's database,
        # and the bus on an address where nothing listens (no request leaves the machine).
        base = {
            **image.environment(HOST_PATH),
            **manifest.environment(tmp_path),
            **AWS_OFFLINE,
            "HOOKGATE_STORE__URL": store["url"],
            "HOOKGATE_STORE__SCHEMA_NAME": store["schema_name"],
            "HOOKGATE_SINKS__BUS__ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
            "HOOKGATE_SERVER__HOST": "127.0.0.1",
        }
        replicas = []
        for index in range(2):
            env = {**base, "HOOKGATE_SERVER__PORT": str(free_port())}
            replicas.append((env, tmp_path / f"replica-{index}.log"))
        with (
            started(argv, replicas[0][0], tmp_path, replicas[0][1]) as first,
            started(argv, replicas[1][0], tmp_path, replicas[1][1]) as second,
        ):
            for process, (env, log) in zip((first, second), replicas, strict=True):
                url = f"http://127.0.0.1:{env['HOOKGATE_SERVER__PORT']}"
                for kind, path, _ in probes:
                    wait_until(partial(_answers, url + path), f"{kind} {path}", log, process)
            # One delivery, retried by the provider to the other replica: stored once.
            settings = load_settings(env=replicas[0][0])
            connector = build_source(settings.sources["stripe"]).connector
            now = time.time()
            delivery = connector.sign(connector.sample_body(now), now)
            answers = []
            for env, _ in replicas:
                response = httpx.post(
                    f"http://127.0.0.1:{env['HOOKGATE_SERVER__PORT']}/webhooks/stripe",
                    content=delivery.body,
                    headers=delivery.headers,
                    timeout=10,
                )
                answers.append(response.status_code)
            assert answers == [200, 200]
            listed = run(["hookgate", "events", "list", "--json"], replicas[1][0], tmp_path)
            assert listed.returncode == 0, listed.stderr
            [event] = json.loads(listed.stdout)["events"]
            assert event["source"] == "stripe"
            assert {delivery["sink"] for delivery in event["deliveries"]} == {"bus"}
            for process in (first, second):
                process.send_signal(signal.SIGTERM)
                assert process.wait(20) == -signal.SIGTERM


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


# -- the SAM stack -----------------------------------------------------------------------------


@pytest.fixture
def local_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LocalAws]:
    """A moto server on a free port; boto3 in this process pointed at it by environment."""
    with moto_server() as endpoint:
        use_offline_env(monkeypatch, tmp_path / "aws", region=REGION, endpoint=endpoint)
        yield LocalAws(endpoint, REGION)


def create_stack(stack: Stack, aws: LocalAws) -> None:
    """Creates the template's bus, secrets, table, queues and rule as it declares them
    (the rest, IAM, the function, logs and alarms, has no part in a delivery here)."""
    resources = stack.template["Resources"]

    def created(kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in resources.items():
            if resource["Type"] == kind and stack.exists(logical_id):
                yield logical_id, stack.resolve(resource.get("Properties", {}))

    for logical_id, props in created("AWS::Events::EventBus"):
        arn = aws.client("events").create_event_bus(Name=props["Name"])["EventBusArn"]
        stack.physical[logical_id], stack.attributes[f"{logical_id}.Arn"] = props["Name"], arn
    for logical_id, props in created("AWS::SecretsManager::Secret"):
        arn = aws.client("secretsmanager").create_secret(
            Name=props["Name"], SecretString=props["SecretString"]
        )["ARN"]
        stack.physical[logical_id] = arn
    for logical_id, props in created("AWS::DynamoDB::Table"):
        name = f"{stack.parameters['AWS::StackName']}-{logical_id}"
        keys = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")}
        aws.client("dynamodb").create_table(TableName=name, **keys)
        aws.client("dynamodb").update_time_to_live(
            TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"]
        )
        stack.physical[logical_id] = name
    queues = sorted(created("AWS::SQS::Queue"), key=lambda q: "RedrivePolicy" in q[1])
    for logical_id, _ in queues:
        props = stack.resolve(resources[logical_id]["Properties"])
        attributes = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in props.items()}
        url = aws.client("sqs").create_queue(QueueName=logical_id, Attributes=attributes)["QueueUrl"]
        found = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        stack.physical[logical_id] = url
        stack.attributes[f"{logical_id}.Arn"] = found["Attributes"]["QueueArn"]
        stack.attributes[f"{logical_id}.QueueName"] = logical_id
    for logical_id, props in created("AWS::Events::Rule"):
        bus, pattern = props["EventBusName"], json.dumps(props["EventPattern"])
        aws.client("events").put_rule(
            Name=logical_id, EventBusName=bus, EventPattern=pattern, State=props["State"]
        )
        aws.client("events").put_targets(Rule=logical_id, EventBusName=bus, Targets=props["Targets"])


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def deploy_locally(aws: LocalAws, source_secrets: Mapping[str, str]) -> Stack:
    """The stack created on moto, then the operator's step after deploying: every source's
    secret, under the source's name, into the one JSON secret."""
    stack = Stack(load_template())
    create_stack(stack, aws)
    aws.client("secretsmanager").put_secret_value(
        SecretId=stack.physical["SourceSecrets"], SecretString=json.dumps(source_secrets)
    )
    return stack


def function_handler(stack: Stack, config: Path) -> LambdaHandler:
    """The real handler, with the function's environment from the template and `config`
    where packaging puts the bundled file."""
    [function] = of_type(stack.template, "AWS::Serverless::Function").values()
    env: dict[str, str] = stack.resolve(function["Properties"]["Environment"]["Variables"])
    assert env["HOOKGATE_CONFIG"] == f"/var/task/{LAMBDA_CONFIG.name}"
    env["HOOKGATE_CONFIG"] = str(config)
    aws_env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    return create_handler(env={**aws_env, **env})


#: The bundled sources' secrets, as the operator puts them; the Freshdesk source `support`
#: authenticates with HTTP Basic, username "hookgate" as in the README.
SOURCE_SECRETS = {"stripe": STRIPE_SECRET, "github": GITHUB_SECRET, "support": FRESHDESK_PASSWORD}
SIGNERS: dict[str, dict[str, Any]] = {
    "stripe": {"connector": "stripe", "secrets": [STRIPE_SECRET]},
    "github": {"connector": "github", "secrets": [GITHUB_SECRET]},
    "support": {"connector": "freshdesk", "username": "hookgate", "password": FRESHDESK_PASSWORD},
}


def delivery_for(signer: Mapping[str, Any]) -> WebhookRequest:
    options = {k: v for k, v in signer.items() if k != "connector"}
    return signed_request(connectors.load(signer["connector"]).from_config(options), now=time.time())


def test_the_sam_stack_takes_signed_deliveries_onto_its_bus_and_queue(local_aws: LocalAws) -> None:
    stack = deploy_locally(local_aws, SOURCE_SECRETS)
    handler = function_handler(stack, LAMBDA_CONFIG)
    try:
        deliveries = {name: delivery_for(signer) for name, signer in SIGNERS.items()}
        answers = {
            name: invoke(handler, aws_event("function-url", name, delivery))
            for name, delivery in deliveries.items()
        }
        retried = invoke(handler, aws_event("function-url", "github", deliveries["github"]))
        forged = signed_request(connectors.load("github").from_config({"secrets": ["not-it"]}))
        refused = invoke(handler, aws_event("function-url", "github", forged))
    finally:
        handler.close()
    assert {name: status for name, (status, _) in answers.items()} == {
        "stripe": 200,
        "github": 200,
        "support": 200,
    }
    assert retried == (200, {"status": "duplicate", "event_ids": answers["github"][1]["event_ids"]})
    assert refused[0] == 401
    # The example rule delivered each event once to its queue.
    events = received(local_aws.client("sqs"), stack.physical["EventsQueue"])
    assert sorted(e["source"] for e in events) == ["hookgate.github", "hookgate.stripe", "hookgate.support"]
    ids = {e["detail"]["metadata"]["event_id"] for e in events}
    assert ids == {i for _, answer in answers.values() for i in answer["event_ids"]}
    # The dedup table holds the keys, with the TTL attribute the template names.
    table = stack.physical["DedupTable"]
    ttl = local_aws.client("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    items = local_aws.client("dynamodb").scan(TableName=table)["Items"]
    assert len(items) == 3
    assert all(item["state"]["S"] == "done" and ttl["AttributeName"] in item for item in items)
    assert received(local_aws.client("sqs"), stack.physical["DeadLetterQueue"]) == []


def test_a_source_added_to_the_bundled_file_needs_only_its_key_in_the_secret(
    local_aws: LocalAws, tmp_path: Path
) -> None:
    """Adding a source is one edit: its table in hookgate.toml (and its key in the secret);
    the template, the function's environment and its role stay as they are."""
    config = tmp_path / LAMBDA_CONFIG.name
    config.write_text(
        LAMBDA_CONFIG.read_text()
        + '\n[sources.shop]\nconnector = "shopify"\nsecrets = ["secretsmanager:hookgate/sources#shop"]\n'
    )
    stack = deploy_locally(local_aws, {**SOURCE_SECRETS, "shop": "shpss_deploy_test_0123"})
    handler = function_handler(stack, config)
    try:
        shop = delivery_for({"connector": "shopify", "secrets": ["shpss_deploy_test_0123"]})
        status, answer = invoke(handler, aws_event("function-url", "shop", shop))
    finally:
        handler.close()
    assert status == 200, answer
    [event] = received(local_aws.client("sqs"), stack.physical["EventsQueue"])
    assert event["source"] == "hookgate.shop"
