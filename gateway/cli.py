"""The `hookgate` command line."""

from __future__ import annotations

import asyncio
import json
import math
import re
import sys
import time
import typing
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from pydantic import BaseModel

import connectors
from gateway.cli_options import EXIT_CONFIG, config_option
from gateway.cli_options import settings_or_exit as _settings
from gateway.config import BUS_TYPE, Settings
from gateway.errors import ConfigError, MissingExtraError, StoreError
from gateway.events import isoformat
from gateway.router.cli import match_event_pattern, rules
from gateway.store import StoreAdmin, open_store

if typing.TYPE_CHECKING:
    from gateway.observability import LogFormat

__all__ = ["main"]

T = TypeVar("T")

#: The exit status of a command whose store failed.
EXIT_STORE = 1


def _with_store(settings: Settings, fn: Callable[[StoreAdmin], Awaitable[T]], *, create: bool = False) -> T:
    """`fn` over the configured store. A command that only reads never creates it (a
    missing store is a `StoreError` naming it); one that writes passes `create=True`."""

    async def run() -> T:
        store = open_store(settings.store, settings.dispatcher, time.time)
        await store.open(create=create)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(run())


def parse_time(value: str, now: float | None = None) -> float:
    """ISO-8601 (`2026-11-28T10:00:00Z`) or a relative age (`90s`, `30m`, `2h`, `7d`)."""
    now = time.time() if now is None else now
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", value.strip())
    if match:
        factor = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
        return now - float(match[1]) * factor
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither ISO-8601 nor an age like 2h") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class _Time(click.ParamType):  # type: ignore[type-arg]
    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        return value if isinstance(value, float) else parse_time(str(value))


TIME = _Time()


class _Main(click.Group):
    """The command group; a feature whose extra is not installed, or a store that fails
    (or does not exist, for a command that only reads), ends any command in one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MissingExtraError as exc:
            click.echo(f"hookgate: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        except StoreError as exc:
            click.echo(f"hookgate: {exc}", err=True)
            sys.exit(EXIT_STORE)


@click.group(cls=_Main)
@click.version_option(package_name="hookgate")
def main() -> None:
    """hookgate: verify, normalize, persist and forward SaaS webhooks."""


main.add_command(rules)
main.add_command(match_event_pattern)


@main.command()
@config_option
@click.option("--host", help="Interface to listen on (overrides [server] host).")
@click.option("--port", type=int, help="Port to listen on (overrides [server] port).")
@click.option(
    "--log-format",
    type=click.Choice(["console", "json"]),
    help="Log lines for people or JSON (default: console when stderr is a terminal, else json).",
)
def serve(config_path: str | None, host: str | None, port: int | None, log_format: LogFormat | None) -> None:
    """Run the gateway."""
    from gateway.app import create_app  # noqa: PLC0415 - only `serve` needs the server
    from gateway.observability import configure_logging  # noqa: PLC0415
    from gateway.preflight import open_outputs  # noqa: PLC0415
    from gateway.server import GatewayServer, ListenError  # noqa: PLC0415

    settings = _settings(config_path)
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    log_stream = configure_logging(settings.server.log_level, log_format=log_format)
    app = create_app(settings)
    server = GatewayServer(app, host, port, log_stream)
    try:  # a sink's file that cannot be opened, an address in use: before anything runs
        open_outputs(settings)
    except ConfigError as exc:
        click.echo(f"hookgate: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    try:
        server.listen()
    except ListenError as exc:
        click.echo(f"hookgate: {exc}", err=True)
        sys.exit(1)
    base = settings.server.public_url or f"http://{host}:{port}"
    click.echo(f"hookgate listening on http://{host}:{port}")
    for name, source in settings.sources.items():
        click.echo(f"  {name} ({source.connector_name}): {source.public_url or base}/webhooks/{name}")
    if not settings.sources:
        click.echo("  no [sources] configured: every webhook URL answers 404")
    sys.stdout.flush()
    server.run()


@main.command("check-config")
@config_option
def check_config(config_path: str | None) -> None:
    """Validate the configuration and say what it defines; warn (on stderr) about what
    looks wrong in a valid one: no source, a source going to no sink, an unwritable file."""
    from gateway.preflight import warnings  # noqa: PLC0415

    settings = _settings(config_path)
    open_store(settings.store, settings.dispatcher, time.time)  # its backend is installed
    for warning in warnings(settings):
        click.echo(f"hookgate: warning: {warning}", err=True)
    click.echo(f"configuration OK: {settings.path or '(defaults)'}")
    click.echo(f"  store: {settings.store.display_url}")
    for name, source in settings.sources.items():
        routes = ", ".join(source.sinks) or "(none)"
        click.echo(f"  source {name}: connector {source.connector_name} → sinks {routes}")
    for name, spec in settings.sinks.items():
        click.echo(f"  sink {name}: {spec.cls.kind}")
    for name, bus in settings.buses.items():
        bus_rules = bus.rules.values()
        detail = f" ({len(bus_rules)} rule(s), {sum(len(r.targets) for r in bus_rules)} target(s))"
        click.echo(f"  sink {name}: {BUS_TYPE}{detail}")


@main.command("connectors")
def list_connectors() -> None:
    """List installed connectors and their configuration keys."""
    for name in connectors.available():
        try:
            cls = connectors.load(name)
        except connectors.PluginError as exc:
            click.echo(f"{name}: BROKEN ({exc})")
            continue
        click.echo(f"{name}: {cls.summary}")
        for key, desc in _option_keys(cls.Options):
            click.echo(f"    {key}: {desc}")


def _option_keys(model: type[BaseModel]) -> list[tuple[str, str]]:
    rows = []
    for key, info in model.model_fields.items():
        kind = getattr(info.annotation, "__name__", None) or str(info.annotation)
        kind = re.sub(r"typing\.|pydantic\.types\.", "", kind)
        required = (
            "required" if info.is_required() else f"default {info.get_default(call_default_factory=True)!r}"
        )
        if typing.get_origin(info.annotation) is typing.Literal:
            kind = " | ".join(repr(a) for a in typing.get_args(info.annotation))
        text = f"{kind}, {required}"
        if info.description:
            text += f" — {info.description}"
        rows.append((key, text))
    return rows


@main.command("send-test")
@config_option
@click.argument("source")
@click.option("--url", help="Webhook URL to post to (default: this config's server address).")
def send_test(config_path: str | None, source: str, url: str | None) -> None:
    """Post a correctly signed sample event to a running gateway."""
    import httpx  # noqa: PLC0415

    from gateway.app import build_source  # noqa: PLC0415

    settings = _settings(config_path)
    spec = settings.sources.get(source)
    if spec is None:
        raise click.UsageError(f"no source {source!r} in the configuration")
    connector = build_source(spec).connector
    now = time.time()
    delivery = connector.sign(connector.sample_body(now), now)
    if url is None:
        host = settings.server.host
        if host in ("0.0.0.0", "::"):  # noqa: S104 - a wildcard listener is reached on loopback
            host = "127.0.0.1"
        url = f"http://{host}:{settings.server.port}/webhooks/{source}"
    try:
        response = httpx.request(
            delivery.method,
            url,
            content=delivery.body,
            headers=delivery.headers,
            params=delivery.query,
            timeout=10,
        )
    except httpx.HTTPError as exc:
        click.echo(f"could not reach {url}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{response.status_code} {response.text}")
    sys.exit(0 if response.is_success else 1)


@main.group()
def events() -> None:
    """Inspect stored events."""


@events.command("list")
@config_option
@click.option("--source", help="Only this source.")
@click.option("--since", type=TIME, help="Received at or after (ISO-8601 or an age like 2h).")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def events_list(
    config_path: str | None, source: str | None, since: float | None, limit: int, as_json: bool
) -> None:
    settings = _settings(config_path)
    rows = _with_store(settings, lambda s: s.list_events(source=source, since=since, limit=limit))
    if not rows:
        click.echo(f"no events in {settings.store.display_url}", err=as_json)
    for row in rows:
        states = {d.sink: d.state for d in row.deliveries}
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": row.id,
                        "source": row.source,
                        "detail_type": row.detail_type,
                        "received_at": isoformat(row.received_at),
                        "deliveries": states,
                    }
                )
            )
        else:
            summary = " ".join(f"{k}={v}" for k, v in states.items())
            click.echo(
                f"{row.id}  {isoformat(row.received_at)}  {row.source:<12} {row.detail_type:<40} {summary}"
            )


@events.command("show")
@config_option
@click.argument("event_id")
def events_show(config_path: str | None, event_id: str) -> None:
    settings = _settings(config_path)
    found = _with_store(settings, lambda s: s.get_event(event_id))
    if found is None:
        click.echo(f"no event {event_id} in {settings.store.display_url}", err=True)
        sys.exit(1)
    event, deliveries = found
    kept = event.keep_until
    out = {
        "event": event.as_dict(),
        # archived by a router: kept past the dedup window until then ("forever": no end)
        "archived_until": None if kept is None else ("forever" if kept == math.inf else isoformat(kept)),
        "deliveries": [
            {
                "sink": d.sink,
                "state": d.state,
                "attempts": d.attempts,
                "last_cause": d.last_cause,
                "updated_at": isoformat(d.updated_at),
            }
            for d in deliveries
        ],
    }
    click.echo(json.dumps(out, indent=2, ensure_ascii=False))


@main.group()
def dlq() -> None:
    """The dead-letter store: deliveries that failed for good."""


@dlq.command("list")
@config_option
@click.option("--sink", help="Only this sink.")
@click.option("--limit", type=int, default=100, show_default=True)
def dlq_list(config_path: str | None, sink: str | None, limit: int) -> None:
    settings = _settings(config_path)
    rows = _with_store(settings, lambda s: s.list_dead(sink=sink, limit=limit))
    for row in rows:
        click.echo(
            f"{row.event_id}  {row.sink:<12} {row.source:<12} {row.detail_type:<32} "
            f"attempts={row.attempts}  cause={row.last_cause}"
        )
    if not rows:
        click.echo(f"no dead letters in {settings.store.display_url}")


@dlq.command("redrive")
@config_option
@click.argument("event_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every dead delivery.")
@click.option("--sink", help="Only deliveries to this sink.")
def dlq_redrive(
    config_path: str | None, event_ids: tuple[str, ...], everything: bool, sink: str | None
) -> None:
    """Queue dead deliveries again with a fresh retry budget."""
    if not event_ids and not everything:
        raise click.UsageError("name EVENT_IDS or pass --all")
    settings = _settings(config_path)
    count = _with_store(settings, lambda s: s.redrive(None if everything else event_ids, sink), create=True)
    click.echo(f"redriven: {count}")


@main.command()
@config_option
@click.option("--source", help="Only events of this source.")
@click.option(
    "--from", "--since", "since", type=TIME, required=True, help="From (ISO-8601 or an age like 2h)."
)
@click.option("--to", "--until", "until", type=TIME, help="Up to (exclusive).")
@click.option("--sink", "sinks", multiple=True, help="Only to these sinks (default: the source's sinks).")
@click.option("--rule", help="Only to the targets of this router rule (`RULE` or `BUS/RULE`).")
@click.option("--name", help="The replay's name, set as `replay-name` on what router targets receive.")
def replay(  # noqa: PLR0917 - one parameter per option
    config_path: str | None,
    source: str | None,
    since: float,
    until: float | None,
    sinks: tuple[str, ...],
    rule: str | None,
    name: str | None,
) -> None:
    """Deliver stored events again (a running gateway picks them up).

    A router among the sinks matches each event against its rules again: the targets of
    the rules it matches receive it, with `replay-name` set.
    """
    from gateway.router.bus import Bus, replay_route  # noqa: PLC0415 - only this command needs it

    settings = _settings(config_path)
    if source is not None and source not in settings.sources:
        raise click.UsageError(f"no source {source!r} in the configuration")
    targets = sinks or tuple(sorted({s for src in settings.sources.values() for s in src.sinks}))
    if source is not None and not sinks:
        targets = settings.sources[source].sinks
    unknown = [s for s in targets if s not in settings.sinks and s not in settings.buses]
    if unknown:
        raise click.UsageError(f"unknown sink(s): {', '.join(unknown)}")
    buses = [Bus(t, settings.buses[t]) for t in targets if t in settings.buses]
    plain = tuple(t for t in targets if t not in settings.buses)
    if rule is not None:
        bus_name, _, rule_name = rule.rpartition("/")
        buses = [b for b in buses if rule_name in b.settings.rules and bus_name in ("", b.name)]
        if not buses:
            raise click.UsageError(
                f"no router rule {rule!r} among the sinks {', '.join(targets) or '(none)'}"
            )
        plain, rule = (), rule_name
    route = replay_route(buses, rule=rule) if buses else None
    if buses and name is None:
        name = f"replay-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"

    async def run(store: StoreAdmin) -> int:
        with click.progressbar(length=0, label="replaying", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            return await store.replay(
                plain, route=route, name=name, source=source, since=since, until=until, progress=progress
            )

    count = _with_store(settings, run, create=True)
    where = [*plain, *(f"{b.name} (rules{f' {rule}' if rule else ''})" for b in buses)]
    named = f" as {name}" if name else ""
    click.echo(f"replayed{named}: {count} event(s) to {', '.join(where) or '(no sinks)'}")


@main.group()
def db() -> None:
    """The store's database schema."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: str | None) -> None:
    """Create the store's schema or apply its pending migrations (`serve` does it too)."""
    settings = _settings(config_path)
    try:
        version = _with_store(settings, lambda s: s.schema_version(), create=True)
    except StoreError as exc:
        click.echo(f"hookgate: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{settings.store.display_url}: schema version {version}")
