"""`hookgate schemas …`: the discovered schemas, their versions, exports and diffs.

Registered on the main group by `gateway.cli`. Commands that only read never create the
store; `set-compatibility` writes to it; `push` copies the schemas into an EventBridge
schema registry (`gateway.schemas._push`).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar, cast

import click

from gateway import views
from gateway.cli_options import EXIT_FAILURE, config_option, echo_json, json_option, settings_or_exit
from gateway.config import Settings
from gateway.events import isoformat
from gateway.schemas._compat import MODES, Mode, compare
from gateway.schemas._curated import PROVIDERS, CuratedSchema, Difference, curated_schema
from gateway.schemas._curated import compare as compare_curated
from gateway.schemas._formats import FORMATS, ExportFormat
from gateway.schemas._push import RegistryMissingError, push_schemas
from gateway.schemas._registry import SchemaInfo, SchemaRegistry, SchemaVersion, binding_schema, export
from gateway.schemas.bindings import BindingSchema, bindings_command
from gateway.store import Store, StoreAdmin
from gateway.store.cli import with_store

__all__ = ["schemas"]

T = TypeVar("T")

_VERSION = click.option(
    "--version", "version", type=click.IntRange(min=1), help="A version number (default: the latest)."
)


def _with_registry(
    settings: Settings, fn: Callable[[SchemaRegistry], Awaitable[T]], *, create: bool = False
) -> T:
    from gateway.schemas import open_registry  # noqa: PLC0415 - the package imports this module's siblings

    async def run(store: StoreAdmin) -> T:
        return await fn(open_registry(cast("Store", store)))

    return with_store(settings, run)


def _missing(name: str, settings: Settings, version: int | None = None) -> NoReturn:
    what = f"schema {name!r}" + (f" version {version}" if version is not None else "")
    click.echo(f"hookgate: no {what} in {settings.store.display_url}", err=True)
    sys.exit(EXIT_FAILURE)


@click.group()
def schemas() -> None:
    """The schema registry: the schemas discovered from stored events, and their versions."""


@schemas.command("list")
@config_option
@click.option("--source", help="Only the schemas of this source.")
@json_option
def schemas_list(config_path: str | None, source: str | None, as_json: bool) -> None:
    """List the schemas, with their latest version, compatibility mode and drift."""
    settings = settings_or_exit(config_path)
    found = _with_registry(settings, lambda r: r.schemas(source))
    if not found:
        click.echo(f"no schemas in {settings.store.display_url}", err=as_json)
    if as_json:
        echo_json(views.schemas_document(found))
        return
    for info in found:
        click.echo(_line(info))


def _line(info: SchemaInfo) -> str:
    drift = "DRIFT v" + ",".join(str(v) for v in info.drifted_versions) if info.drift else "-"
    overflow = f"  overflow={info.overflow}" if info.overflow else ""
    overflow += f"  pinned=v{info.pinned_version}" if info.pinned_version is not None else ""
    return (
        f"{info.name:<50} v{info.latest_version:<4} {info.compatibility:<20} {drift:<12} "
        f"{isoformat(info.updated_at)}{overflow}"
    )


@schemas.command("show")
@config_option
@click.argument("name")
@_VERSION
@json_option
def schemas_show(config_path: str | None, name: str, version: int | None, as_json: bool) -> None:
    """Show a version of a schema (its JSON Schema, counts and verdict), as JSON, with its
    differences from the provider's curated schema where hookgate ships one."""
    settings = settings_or_exit(config_path)
    info, found = _info_and_version(settings, name, version)
    document = views.schema_version_view(found)
    curated = _curated(settings, info, None)
    if curated is None:
        document["curated"] = None
    else:
        document["curated"] = _comparison(curated, compare_curated(found.content, curated))
    echo_json(document)


def _info_and_version(settings: Settings, name: str, version: int | None) -> tuple[SchemaInfo, SchemaVersion]:
    async def run(registry: SchemaRegistry) -> tuple[SchemaInfo | None, SchemaVersion | None]:
        return await registry.schema(name), await registry.version(name, version)

    info, found = _with_registry(settings, run)
    if info is None or found is None:
        _missing(name, settings, version)
    return info, found


def _curated(settings: Settings, info: SchemaInfo, provider: str | None) -> CuratedSchema | None:
    """The curated schema of `info`'s detail-type: of `provider`, else of its source's
    connector (the source's name when it is no longer configured)."""
    if provider is None:
        source = settings.sources.get(info.source)
        provider = source.connector_name if source is not None else info.source
    return curated_schema(provider, info.detail_type)


def _comparison(curated: CuratedSchema, differences: list[Difference]) -> dict[str, object]:
    counts = {kind: sum(1 for d in differences if d.kind == kind) for kind in _KINDS}
    return {
        "provider": curated.provider,
        "from": curated.origin["from"],
        "license": curated.origin["license"],
        "counts": counts,
        "differences": [d.as_dict() for d in differences],
    }


_KINDS = ("undocumented", "never_seen", "type_mismatch")
_KIND_LABELS = {
    "undocumented": "undocumented ",
    "never_seen": "never seen   ",
    "type_mismatch": "type mismatch",
}


@schemas.command("compare")
@config_option
@click.argument("name")
@_VERSION
@click.option(
    "--provider",
    type=click.Choice(PROVIDERS),
    help="Whose curated schema (default: the schema's source's connector).",
)
@json_option
def schemas_compare(
    config_path: str | None, name: str, version: int | None, provider: str | None, as_json: bool
) -> None:
    """Compare a version of a schema with the provider's curated schema: properties seen
    that the provider does not document, documented ones never seen, and type mismatches."""
    settings = settings_or_exit(config_path)
    info, found = _info_and_version(settings, name, version)
    curated = _curated(settings, info, provider)
    if curated is None:
        click.echo(f"hookgate: no curated schema for {info.detail_type!r} of {name!r}", err=True)
        sys.exit(EXIT_FAILURE)
    differences = compare_curated(found.content, curated)
    if as_json:
        echo_json({"name": name, "version": str(found.version), **_comparison(curated, differences)})
        return
    click.echo(f"{name} v{found.version} against {curated.provider}'s curated schema")
    click.echo(f"  ({curated.origin['from']}; {curated.origin['license']})")
    for difference in differences:
        click.echo(f"  {_KIND_LABELS[difference.kind]}  {difference.path}  {difference.detail}")
    counts = _comparison(curated, differences)["counts"]
    assert isinstance(counts, dict)
    summary = ", ".join(f"{counts[kind]} {kind.replace('_', ' ')}" for kind in _KINDS)
    click.echo(f"{len(differences)} differences: {summary}")


@schemas.command("export")
@config_option
@click.argument("name")
@_VERSION
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="The document's format.")
def schemas_export(config_path: str | None, name: str, version: int | None, fmt: str) -> None:
    """Print a version of a schema as OpenAPI 3.0 (EventBridge's shape) or JSON Schema Draft 4."""
    settings = settings_or_exit(config_path)

    async def run(registry: SchemaRegistry) -> tuple[SchemaInfo | None, SchemaVersion | None]:
        return await registry.schema(name), await registry.version(name, version)

    info, found = _with_registry(settings, run)
    if info is None or found is None:
        _missing(name, settings, version)
    echo_json(export(info, found, cast("ExportFormat", fmt)))


@schemas.command("diff")
@config_option
@click.argument("name")
@click.argument("v1", type=click.IntRange(min=1))
@click.argument("v2", type=click.IntRange(min=1))
def schemas_diff(config_path: str | None, name: str, v1: int, v2: int) -> None:
    """What changed from version V1 to V2, and the verdict under the schema's mode."""
    settings = settings_or_exit(config_path)

    async def run(registry: SchemaRegistry) -> tuple[SchemaInfo | None, list[SchemaVersion]]:
        return await registry.schema(name), await registry.versions(name)

    info, versions = _with_registry(settings, run)
    by_number = {v.version: v for v in versions}
    if info is None:
        _missing(name, settings)
    for number in (v1, v2):
        if number not in by_number:
            _missing(name, settings, number)
    compared = compare(info.compatibility, by_number[v1].content, by_number[v2].content)
    click.echo(f"{name}: version {v1} → {v2}")
    if not compared.changes:
        click.echo("  no changes")
    for change in compared.changes:
        mark = "compatible  " if change.compatible else "INCOMPATIBLE"
        click.echo(f"  {mark} {change.kind:<48} {change.path or '/'}  {change.detail}")
    suffix = " (the schema's mode is NONE: checked as FULL)" if compared.checked_as_full else ""
    click.echo(f"verdict: {compared.verdict.describe()}{suffix}")


@schemas.command("pin")
@config_option
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1), required=False)
@click.option("--unpin", is_flag=True, help="Remove the pin instead.")
def schemas_pin(config_path: str | None, name: str, version: int | None, unpin: bool) -> None:
    """Pin VERSION of a schema: the version sources with `schema_enforcement` check events
    against (applied by a running gateway within seconds)."""
    settings = settings_or_exit(config_path)
    if (version is None) != unpin:
        raise click.UsageError("give a VERSION to pin, or --unpin")
    if not _with_registry(settings, lambda r: r.pin(name, version)):
        _missing(name, settings, version)
    click.echo(f"{name}: " + (f"version {version} pinned" if version is not None else "unpinned"))


@schemas.command("set-compatibility")
@config_option
@click.argument("name")
@click.argument("mode", type=click.Choice(MODES, case_sensitive=False))
def schemas_set_compatibility(config_path: str | None, name: str, mode: str) -> None:
    """Set the compatibility mode a schema's next versions are checked under."""
    settings = settings_or_exit(config_path)
    chosen = cast("Mode", mode.upper())
    if not _with_registry(settings, lambda r: r.set_compatibility(name, chosen)):
        _missing(name, settings)
    click.echo(f"{name}: compatibility {chosen}")


@schemas.command("push")
@config_option
@click.option("--registry", required=True, help="The EventBridge schema registry's name.")
@click.option("--source", help="Only the schemas of this source.")
@click.option("--create-registry", is_flag=True, help="Create the registry when it does not exist.")
@click.option("--region", help="The AWS Region (default: boto3's chain).")
@click.option("--endpoint-url", help="Another endpoint for the schemas API (a test server).")
@json_option
def schemas_push(  # noqa: PLR0917 - click passes each option as an argument
    config_path: str | None,
    registry: str,
    source: str | None,
    create_registry: bool,
    region: str | None,
    endpoint_url: str | None,
    as_json: bool,
) -> None:
    """Create or update each schema's latest version in an Amazon EventBridge schema
    registry (CreateSchema / UpdateSchema, Type OpenApi3, the OpenAPI 3 export)."""
    import boto3  # noqa: PLC0415 - only this command talks to AWS
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    settings = settings_or_exit(config_path)

    async def latest(registry_: SchemaRegistry) -> list[tuple[SchemaInfo, SchemaVersion]]:
        found = []
        for info in await registry_.schemas(source):
            version = await registry_.version(info.name)
            if version is not None:
                found.append((info, version))
        return found

    found = _with_registry(settings, latest)
    if not found:
        click.echo(f"no schemas to push in {settings.store.display_url}", err=True)
        return
    try:
        client = boto3.session.Session(region_name=region).client("schemas", endpoint_url=endpoint_url)
        pushed = push_schemas(client, registry, found, create_registry=create_registry)
    except RegistryMissingError as exc:
        click.echo(f"hookgate: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    except ClientError as exc:
        click.echo(f"hookgate: the schema registry {registry!r} refused: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    except BotoCoreError as exc:
        click.echo(f"hookgate: could not reach the schema registry {registry!r}: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    if as_json:
        echo_json({"registry": registry, "schemas": [views.pushed_view(p) for p in pushed]})
    else:
        for p in pushed:
            where = f" (registry version {p.registry_version})" if p.registry_version else ""
            problem = f": {p.error}" if p.error else ""
            click.echo(f"{p.outcome:<9} {p.name} v{p.version}{where}{problem}")
    if any(p.outcome == "failed" for p in pushed):
        sys.exit(EXIT_FAILURE)


def _binding_schema(config_path: str | None, name: str, version: str | None) -> BindingSchema:
    """The registry's schema `name` at `version` (the latest when None), for `bindings`."""
    if version is not None and not (version.isascii() and version.isdigit() and int(version) >= 1):
        raise click.BadParameter(f"{version!r} is not a version number", param_hint="--version")
    settings = settings_or_exit(config_path)
    number = None if version is None else int(version)

    async def run(registry: SchemaRegistry) -> tuple[SchemaInfo | None, SchemaVersion | None]:
        return await registry.schema(name), await registry.version(name, number)

    info, found = _with_registry(settings, run)
    if info is None or found is None:
        _missing(name, settings, number)
    return binding_schema(info, found)


schemas.add_command(bindings_command(_binding_schema))
