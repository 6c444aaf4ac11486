"""`hookgate schemas push` into an EventBridge schema registry: a local stub of the `schemas`
API that checks every request against botocore's own model (moto has no `schemas`), fed by
what a real `hookgate serve` discovered from Stripe deliveries.

The first push creates the registry and each schema, the content being exactly what
`hookgate schemas export --format openapi3` prints; a second changes nothing; a new version
updates only its schema; a missing registry without `--create-registry` fails with a clear
line; and the stub refuses a request of the wrong shape, as AWS would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers.aws import offline_env
from tests.helpers.schema_registry import SchemaRegistryStub, serve_schema_registry
from tests.helpers.served import Served, free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

NAME = "hookgate.stripe@InvoicePaid"
OTHER = "hookgate.stripe@CustomerCreated"


@pytest.fixture
def registry() -> Iterator[SchemaRegistryStub]:
    with serve_schema_registry() as served:
        yield served


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in offline_env(tmp_path / "aws-home").items():
        monkeypatch.setenv(key, value)


def send(served: Served, kind: str, **extra: Any) -> None:
    event = json.loads(stripe_event(kind=kind))
    event["data"]["object"].update(extra)
    body = json.dumps(event).encode()
    answer = httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert answer.status_code == 200, answer.text


def wait(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("the condition never held")


def latest(served: Served) -> dict[str, str]:
    listed = json.loads(served.cli("schemas", "list", "--json").stdout)["schemas"]
    return {s["name"]: s["latest_version"] for s in listed}


def push(served: Served, registry: SchemaRegistryStub, *args: str, check: bool = True) -> Any:
    return served.cli(
        "schemas", "push", "--endpoint-url", registry.endpoint, "--region", "eu-west-1", *args, check=check
    )


def test_push_creates_then_updates_the_schemas_in_a_registry(
    offline: None, served: Served, registry: SchemaRegistryStub
) -> None:
    for kind in ("invoice.paid", "invoice.paid", "customer.created"):
        send(served, kind)
    wait(lambda: latest(served) == {NAME: "1", OTHER: "1"})

    missing = push(served, registry, "--registry", "webhooks", check=False)
    assert missing.returncode != 0
    assert "no schema registry 'webhooks' (--create-registry creates it)" in missing.stderr
    assert registry.registries == {}

    first = push(served, registry, "--registry", "webhooks", "--create-registry", "--json")
    outcomes = {s["name"]: s for s in json.loads(first.stdout)["schemas"]}
    assert {n: (s["outcome"], s["registry_version"]) for n, s in outcomes.items()} == {
        NAME: ("created", "1"),
        OTHER: ("created", "1"),
    }
    assert registry.operations() == [
        "DescribeRegistry",
        "DescribeRegistry",
        "CreateRegistry",
        *(["DescribeSchema", "CreateSchema"] * 2),
    ]
    created = [c for c in registry.stub.calls if c.operation == "CreateSchema"]
    assert {c.region for c in created} == {"eu-west-1"}
    for call in created:
        assert call.params["Type"] == "OpenApi3"
        exported = served.cli("schemas", "export", call.params["SchemaName"], "--format", "openapi3").stdout
        assert json.loads(call.params["Content"]) == json.loads(exported)

    # the real client reads back what the stub keeps
    client = boto3.client("schemas", region_name="eu-west-1", endpoint_url=registry.endpoint)
    described = client.describe_schema(RegistryName="webhooks", SchemaName=NAME)
    assert (described["SchemaVersion"], described["Type"]) == ("1", "OpenApi3")
    assert json.loads(described["Content"])["components"]["schemas"]["AWSEvent"][
        "x-amazon-events-source"
    ] == ("hookgate.stripe")

    again = push(served, registry, "--registry", "webhooks")
    assert [line.split()[0] for line in again.stdout.splitlines()] == ["unchanged", "unchanged"]
    assert "UpdateSchema" not in registry.operations()

    send(served, "invoice.paid", discount_code="SPRING")
    wait(lambda: latest(served)[NAME] == "2")
    before = len(registry.stub.calls)
    third = push(served, registry, "--registry", "webhooks", "--source", "stripe")
    lines = sorted(third.stdout.splitlines())
    assert lines[0].startswith(f"unchanged {OTHER} v1")
    assert lines[1].startswith(f"updated   {NAME} v2 (registry version 2)")
    assert [c.operation for c in registry.stub.calls[before:]] == [
        "DescribeRegistry",
        "DescribeSchema",
        "DescribeSchema",
        "UpdateSchema",
    ]
    versions = registry.registries["webhooks"][NAME]
    assert [v["SchemaVersion"] for v in versions] == ["1", "2"]
    exported = served.cli("schemas", "export", NAME, "--version", "2", "--format", "openapi3").stdout
    assert json.loads(versions[1]["Content"]) == json.loads(exported)
    assert registry.stub.rejected == []  # every request the push made fitted the model

    nothing = push(served, registry, "--registry", "webhooks", "--source", "github")
    assert nothing.returncode == 0
    assert "no schemas to push" in nothing.stderr


def test_an_unreachable_registry_is_one_line_not_a_traceback(offline: None, served: Served) -> None:
    send(served, "invoice.paid")
    wait(lambda: latest(served))
    down = f"http://127.0.0.1:{free_port()}"
    result = served.cli(
        "schemas", "push", "--registry", "r", "--endpoint-url", down, "--region", "us-east-1", check=False
    )
    assert result.returncode != 0
    assert "hookgate: could not reach the schema registry 'r'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_stub_refuses_a_request_of_the_wrong_shape(offline: None, registry: SchemaRegistryStub) -> None:
    # botocore's own checks are off, so the wrong shapes reach the stub, which has the model's
    unchecked = boto3.client(
        "schemas",
        region_name="us-east-1",
        endpoint_url=registry.endpoint,
        config=Config(parameter_validation=False),
    )
    unchecked.create_registry(RegistryName="r")
    document = {"openapi": "3.0.0", "info": {"title": "T", "version": "1"}, "paths": {}}
    wrong: list[dict[str, Any]] = [
        {"Type": "Avro", "Content": json.dumps(document)},  # not in the Type enum
        {"Type": "OpenApi3"},  # Content is required
        {"Type": "OpenApi3", "Content": "x" * 100_001},  # longer than the model allows
        {"Type": "OpenApi3", "Content": json.dumps({"not": "openapi"})},  # not an OpenAPI document
    ]
    for params in wrong:
        with pytest.raises(ClientError) as refused:
            unchecked.create_schema(RegistryName="r", SchemaName="s@T", **params)
        assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert [why for _, why in registry.stub.rejected] == [
        ["Type: 'Avro' is not one of ['OpenApi3', 'JSONSchemaDraft4']"],
        ["Content: missing"],
        ["Content: longer than 100000"],
    ]
    assert registry.registries == {"r": {}}
    created = unchecked.create_schema(
        RegistryName="r", SchemaName="s@T", Type="OpenApi3", Content=json.dumps(document)
    )
    assert created["SchemaVersion"] == "1"
