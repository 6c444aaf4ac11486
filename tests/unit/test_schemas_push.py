"""`gateway.schemas._push` against the local `schemas` stub: a schema EventBridge cannot
take (an OpenAPI document past its Content limit) is reported on its own and the others
still go; a missing registry is an error unless creating it was asked for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from gateway.schemas import SchemaInfo, SchemaVersion, export, infer
from gateway.schemas._push import MAX_CONTENT, RegistryMissingError, push_schemas
from tests.helpers.aws import offline_env
from tests.helpers.schema_registry import SchemaRegistryStub, serve_schema_registry


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SchemaRegistryStub]:
    for key, value in offline_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    with serve_schema_registry() as served:
        yield served


def schema(detail_type: str, payload: object) -> tuple[SchemaInfo, SchemaVersion]:
    name = f"acme@{detail_type.title().replace('.', '')}"
    info = SchemaInfo(name, "acme", "acme", detail_type, "BACKWARD", 1.0, 1.0, 1, 0)
    return info, SchemaVersion(name, 1, infer({"payload": payload}), 1.0, 1, "evt-1", True, "compatible")


def test_a_schema_too_large_for_eventbridge_fails_alone(registry: SchemaRegistryStub) -> None:
    client = boto3.client("schemas", region_name="us-east-1", endpoint_url=registry.endpoint)
    small = schema("order.created", {"id": "o1"})
    info, _ = schema("order.updated", {"note": "n"})
    fields = {f"field_{n:05}": {"type": "string"} for n in range(4000)}  # past what inference keeps
    content = {"type": "object", "properties": {"payload": {"type": "object", "properties": fields}}}
    huge = (info, SchemaVersion(info.name, 1, content, 1.0, 1, "evt-1", True, "compatible"))
    assert len(json.dumps(export(*huge, "openapi3"))) > MAX_CONTENT

    with pytest.raises(RegistryMissingError, match="--create-registry"):
        push_schemas(client, "shop", [small, huge])
    pushed = push_schemas(client, "shop", [small, huge], create_registry=True)
    assert [(p.name, p.outcome) for p in pushed] == [
        ("acme@OrderCreated", "created"),
        ("acme@OrderUpdated", "failed"),
    ]
    assert pushed[1].error is not None
    assert f"over EventBridge's {MAX_CONTENT}" in pushed[1].error
    assert list(registry.registries["shop"]) == ["acme@OrderCreated"]
    assert registry.stub.rejected == []
