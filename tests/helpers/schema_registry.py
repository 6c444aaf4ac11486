"""An Amazon EventBridge schema registry on a local port, for `hookgate schemas push`.

moto has no `schemas` service, so this serves exactly the operations the push makes
(DescribeRegistry, CreateRegistry, DescribeSchema, CreateSchema, UpdateSchema) through
`tests.helpers.aws_stub`: each request is read and checked against botocore's own model of
`schemas`, and a wrong shape is answered `BadRequestException` as AWS answers it. Like
EventBridge, an `OpenApi3` schema's content must be an OpenAPI 3 document (checked with
openapi-spec-validator), and an update whose content differs makes the next version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from openapi_spec_validator import validate as validate_openapi

from tests.helpers.aws_stub import AwsStub, StubError, serve_aws_stub

__all__ = ["OPERATIONS", "SchemaRegistryStub", "serve_schema_registry"]

OPERATIONS = ("DescribeRegistry", "CreateRegistry", "DescribeSchema", "CreateSchema", "UpdateSchema")
_ARN = "arn:aws:schemas:us-east-1:123456789012"


@dataclass
class SchemaRegistryStub:
    """The registries (name → schema name → its versions, oldest first) and the stub."""

    stub: AwsStub
    registries: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return self.stub.endpoint

    def operations(self) -> list[str]:
        """The operations called so far, in order (requests that fit their shape)."""
        return [c.operation for c in self.stub.calls]

    def latest(self, registry: str, name: str) -> dict[str, Any]:
        return self.registries[registry][name][-1]

    # -- the operations -------------------------------------------------------------------
    def _registry(self, params: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        found = self.registries.get(params["RegistryName"])
        if found is None:
            raise StubError("NotFoundException", f"registry {params['RegistryName']} does not exist")
        return found

    def describe_registry(self, params: dict[str, Any]) -> dict[str, Any]:
        self._registry(params)
        name = params["RegistryName"]
        return {"RegistryName": name, "RegistryArn": f"{_ARN}:registry/{name}"}

    def create_registry(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["RegistryName"]
        if name in self.registries:
            raise StubError("ConflictException", f"registry {name} already exists")
        self.registries[name] = {}
        return {
            "RegistryName": name,
            "RegistryArn": f"{_ARN}:registry/{name}",
            "Description": params.get("Description", ""),
        }

    def _answer(self, registry: str, name: str, version: dict[str, Any], *, content: bool) -> dict[str, Any]:
        answer = {
            "SchemaName": name,
            "SchemaArn": f"{_ARN}:schema/{registry}/{name}",
            "SchemaVersion": version["SchemaVersion"],
            "Type": version["Type"],
            "Description": version["Description"],
            "VersionCreatedDate": version["VersionCreatedDate"],
            "LastModified": version["VersionCreatedDate"],
        }
        return answer | ({"Content": version["Content"]} if content else {})

    def describe_schema(self, params: dict[str, Any]) -> dict[str, Any]:
        versions = self._registry(params).get(params["SchemaName"])
        if not versions:
            raise StubError("NotFoundException", f"schema {params['SchemaName']} does not exist")
        wanted = params.get("SchemaVersion")
        found = next((v for v in versions if v["SchemaVersion"] == wanted), None) if wanted else versions[-1]
        if found is None:
            raise StubError("NotFoundException", f"version {wanted} does not exist")
        return self._answer(params["RegistryName"], params["SchemaName"], found, content=True)

    def _version(
        self, params: dict[str, Any], number: int, previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        kind = params.get("Type") or (previous or {}).get("Type")
        content = params.get("Content") or (previous or {}).get("Content")
        if kind == "OpenApi3":
            try:
                validate_openapi(json.loads(content or ""))
            except Exception as exc:  # noqa: BLE001 - any refusal of the validator is a bad request
                raise StubError("BadRequestException", f"not an OpenAPI 3 document: {exc}") from None
        return {
            "SchemaVersion": str(number),
            "Type": kind,
            "Content": content,
            "Description": params.get("Description", (previous or {}).get("Description", "")),
            "VersionCreatedDate": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }

    def create_schema(self, params: dict[str, Any]) -> dict[str, Any]:
        schemas = self.registries.get(params["RegistryName"])
        if schemas is None:
            raise StubError("BadRequestException", f"registry {params['RegistryName']} does not exist")
        if params["SchemaName"] in schemas:
            raise StubError("BadRequestException", f"schema {params['SchemaName']} already exists")
        version = self._version(params, 1, None)
        schemas[params["SchemaName"]] = [version]
        return self._answer(params["RegistryName"], params["SchemaName"], version, content=False)

    def update_schema(self, params: dict[str, Any]) -> dict[str, Any]:
        versions = self._registry(params).get(params["SchemaName"])
        if not versions:
            raise StubError("NotFoundException", f"schema {params['SchemaName']} does not exist")
        version = self._version(params, len(versions) + 1, versions[-1])
        if version["Content"] != versions[-1]["Content"]:
            versions.append(version)
        return self._answer(params["RegistryName"], params["SchemaName"], versions[-1], content=False)


@contextmanager
def serve_schema_registry(*registries: str) -> Iterator[SchemaRegistryStub]:
    """A schema registry service on a free local port, holding the (empty) `registries`."""
    with serve_aws_stub() as stub:
        served = SchemaRegistryStub(stub, {name: {} for name in registries})
        for operation in OPERATIONS:
            handler = getattr(served, "_".join(w.lower() for w in _words(operation)))
            stub.serve("schemas", operation, handler)
        yield served


def _words(operation: str) -> list[str]:
    words: list[str] = []
    for char in operation:
        if char.isupper():
            words.append(char)
        else:
            words[-1] += char
    return words
