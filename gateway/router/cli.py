"""The local router's commands: `hookgate rules list|test` and `hookgate test-event-pattern`.

Registered on the main group by `gateway.cli`. The bus itself (its targets, their
clients) is imported only when `rules test` runs.
"""

from __future__ import annotations

import json
import sys

import click

from gateway import views
from gateway.cli_options import (
    EXIT_CONFIG,
    JSON_INPUT,
    config_option,
    echo_json,
    json_option,
    settings_or_exit,
)
from gateway.router import EventPattern, InvalidEventPatternError

__all__ = ["match_event_pattern", "rules"]


@click.group()
def rules() -> None:
    """The rules of the local routers (`type = "router"` sinks)."""


@rules.command("list")
@config_option
@json_option
def rules_list(config_path: str | None, as_json: bool) -> None:
    """Every rule of every router: state, pattern and targets."""
    settings = settings_or_exit(config_path)
    if as_json:
        echo_json(views.rules_document(settings.buses))
        return
    found = False
    for bus, bus_settings in settings.buses.items():
        for rule_name, rule in bus_settings.rules.items():
            found = True
            state = "enabled" if rule.enabled else "disabled"
            pattern = (
                rule.event_pattern if isinstance(rule.event_pattern, str) else json.dumps(rule.event_pattern)
            )
            click.echo(f"{bus}/{rule_name}  {state}  {pattern}")
            for target in rule.targets:
                click.echo(
                    f"    → {target.id}  ({target.type})  "
                    f"retries ≤ {target.retry_policy.maximum_retry_attempts}"
                )
    if not found:
        click.echo("no router rules configured")


@rules.command("test")
@config_option
@click.option(
    "--event",
    "event_text",
    type=JSON_INPUT,
    required=True,
    help="The event: JSON text, @FILE, or - for stdin.",
)
@click.option("--rule", help="Only this rule (`RULE` or `BUS/RULE`).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document instead of a JSON line per rule."
)
def rules_test(config_path: str | None, event_text: str, rule: str | None, as_json: bool) -> None:
    """Match an event against the rules; print what each matching rule's targets would receive."""
    from gateway.router.bus import Bus  # noqa: PLC0415 - loaded on use

    settings = settings_or_exit(config_path)
    buses = [Bus(name, bus_settings) for name, bus_settings in settings.buses.items()]
    try:
        results = [r for bus in buses for r in bus.explain(event_text)]
    except ValueError as exc:
        click.echo(f"hookgate: invalid event: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    if rule is not None:
        results = [r for r in results if rule in (r["rule"], f"{r['bus']}/{r['rule']}")]
        if not results:
            raise click.UsageError(f"no rule {rule!r} in the configuration")
    if as_json:
        echo_json(views.rule_test_document(results))
        return
    for result in results:
        click.echo(json.dumps(result, ensure_ascii=False))


@click.command("test-event-pattern")
@click.option(
    "--event-pattern",
    "event_pattern",
    type=JSON_INPUT,
    required=True,
    help="The event pattern: JSON text, @FILE, or - for stdin.",
)
@click.option(
    "--event",
    "event",
    type=JSON_INPUT,
    required=True,
    help="The event to test: JSON text, @FILE, or - for stdin.",
)
def match_event_pattern(event_pattern: str, event: str) -> None:
    """Say whether an event matches an EventBridge event pattern, like `aws events test-event-pattern`."""
    try:
        pattern = EventPattern(event_pattern)
    except InvalidEventPatternError as exc:
        click.echo(f"hookgate: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    try:
        result = pattern.matches(event)
    except ValueError as exc:
        click.echo(f"hookgate: invalid event: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(json.dumps({"Result": result}))
