"""The `hookgate` command line.

Each subsystem owns its commands: the store's (`events`, `dlq`, `replay`, `db`) live in
`gateway.store.cli`, the router's (`rules`, `test-event-pattern`) in `gateway.router.cli`;
this module holds the main group and the commands of the gateway as a whole.
"""

from __future__ import annotations

import sys
import time
import typing
from typing import Any

import click

import connectors
from connectors import CONNECTORS
from gateway import views
from gateway.cli_options import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    config_option,
    echo_json,
    json_option,
    settings_or_exit,
)
from gateway.config import BUS_TYPE
from gateway.errors import ConfigError, MissingExtraError, StoreError
from gateway.router.cli import match_event_pattern, rules
from gateway.router.targets import TARGETS
from gateway.schemas.cli import schemas
from gateway.sinks import SINKS
from gateway.store import open_store
from gateway.store.cli import db, dlq, events, replay, requests

if typing.TYPE_CHECKING:
    from gateway.observability import LogFormat

__all__ = ["main"]


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
            sys.exit(EXIT_FAILURE)


@click.group(cls=_Main)
@click.version_option(package_name="hookgate")
def main() -> None:
    """hookgate: verify, normalize, persist and forward SaaS webhooks."""


for _command in (db, dlq, events, match_event_pattern, replay, requests, rules, schemas):
    main.add_command(_command)


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

    settings = settings_or_exit(config_path)
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

    settings = settings_or_exit(config_path)
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


def _plugins_command(plural: str, registry: connectors.PluginRegistry[Any], what: str) -> None:
    """Add `hookgate <plural>`: the installed plugins of a kind and their configuration keys."""

    @main.command(plural, help=f"List installed {what} and their configuration keys.")
    @json_option
    def list_plugins(as_json: bool) -> None:
        loaded: dict[str, Any] = {}
        for name in registry.available():
            try:
                loaded[name] = registry.load(name)
            except connectors.PluginError as exc:
                loaded[name] = exc
        document = views.plugins_document(plural, loaded)
        if as_json:
            echo_json(document)
            return
        for found in document[plural]:
            if "error" in found:
                click.echo(f"{found['name']}: BROKEN ({found['error']})")
                continue
            click.echo(f"{found['name']}: {found['summary']}")
            for option in found["options"]:
                required = "required" if option["required"] else f"default {option['default']!r}"
                text = f"{option['type']}, {required}"
                if option["description"]:
                    text += f" — {option['description']}"
                click.echo(f"    {option['key']}: {text}")


_plugins_command("connectors", CONNECTORS, "connectors")
_plugins_command("sinks", SINKS, "sink types")
_plugins_command("targets", TARGETS, "router target types")


@main.command("send-test")
@config_option
@click.argument("source")
@click.option("--url", help="Webhook URL to post to (default: this config's server address).")
def send_test(config_path: str | None, source: str, url: str | None) -> None:
    """Post a correctly signed sample event of the source SOURCE to a running gateway."""
    import httpx  # noqa: PLC0415

    from gateway.app import build_source, sample_delivery  # noqa: PLC0415

    settings = settings_or_exit(config_path)
    spec = settings.sources.get(source)
    if spec is None:
        raise click.UsageError(f"no source {source!r} in the configuration")
    delivery = sample_delivery(build_source(spec), time.time())
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
