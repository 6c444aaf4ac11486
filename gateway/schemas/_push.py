"""`hookgate schemas push`: the discovered schemas into an Amazon EventBridge schema registry.

Each schema's latest version goes to the registry as its OpenAPI 3 export (the document
`hookgate schemas export --format openapi3` prints), through boto3's `schemas` client:

    DescribeRegistry     the registry exists (else CreateRegistry, with --create-registry)
    DescribeSchema       per schema: absent → CreateSchema; its content differs → UpdateSchema
                         (EventBridge then makes a new version); the same → nothing

A schema whose push fails is reported and the others still go; the command then fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from gateway.schemas._registry import SchemaInfo, SchemaVersion, export

__all__ = ["MAX_CONTENT", "Pushed", "RegistryMissingError", "push_schemas"]

#: The largest `Content` EventBridge takes (its API model's limit, in characters).
MAX_CONTENT = 100_000
SCHEMA_TYPE = "OpenApi3"

Outcome = Literal["created", "updated", "unchanged", "failed"]


class RegistryMissingError(Exception):
    """The registry does not exist, and creating it was not asked for."""


@dataclass(frozen=True, slots=True)
class Pushed:
    """What happened to one schema: its name, the hookgate version pushed, the outcome, the
    registry's version after it (when it said), or why it failed."""

    name: str
    version: int
    outcome: Outcome
    registry_version: str | None = None
    error: str | None = None


def _why(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip(": ")
    return f"{type(exc).__name__}: {exc}"


def ensure_registry(client: Any, registry: str, *, create: bool) -> bool:
    """Whether the registry had to be created (raises `RegistryMissingError` when it is
    missing and `create` is false)."""
    try:
        client.describe_registry(RegistryName=registry)
    except client.exceptions.NotFoundException:
        if not create:
            raise RegistryMissingError(
                f"no schema registry {registry!r} (--create-registry creates it)"
            ) from None
        client.create_registry(
            RegistryName=registry, Description="Schemas discovered by hookgate from stored webhooks."
        )
        return True
    return False


def _same(described: str | None, content: str) -> bool:
    if described is None:
        return False
    try:
        return bool(json.loads(described) == json.loads(content))
    except ValueError:
        return False


def push_one(client: Any, registry: str, info: SchemaInfo, version: SchemaVersion) -> Pushed:
    """Create or update one schema in `registry` from `version`, its latest."""
    content = json.dumps(export(info, version, "openapi3"), sort_keys=True)
    if len(content) > MAX_CONTENT:
        reason = f"its OpenAPI document has {len(content)} characters, over EventBridge's {MAX_CONTENT}"
        return Pushed(info.name, version.version, "failed", error=reason)
    description = f"Discovered by hookgate from source {info.source!r}: version {version.version}."
    try:
        fields = {
            "RegistryName": registry,
            "SchemaName": info.name,
            "Type": SCHEMA_TYPE,
            "Content": content,
            "Description": description,
        }
        try:
            described = client.describe_schema(RegistryName=registry, SchemaName=info.name)
        except client.exceptions.NotFoundException:
            answer = client.create_schema(**fields)
            return Pushed(info.name, version.version, "created", answer.get("SchemaVersion"))
        if _same(described.get("Content"), content):
            return Pushed(info.name, version.version, "unchanged", described.get("SchemaVersion"))
        answer = client.update_schema(**fields)
        return Pushed(info.name, version.version, "updated", answer.get("SchemaVersion"))
    except (BotoCoreError, ClientError) as exc:  # reported per schema; the others still go
        return Pushed(info.name, version.version, "failed", error=_why(exc))


def push_schemas(
    client: Any,
    registry: str,
    schemas: Iterable[tuple[SchemaInfo, SchemaVersion]],
    *,
    create_registry: bool = False,
) -> list[Pushed]:
    """Push each (schema, its latest version) into `registry`, in order."""
    ensure_registry(client, registry, create=create_registry)
    return [push_one(client, registry, info, version) for info, version in schemas]
