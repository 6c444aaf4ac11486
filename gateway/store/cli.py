"""The store's commands: `hookgate events list|show`, `hookgate requests list|show`,
`hookgate dlq list|redrive`, `hookgate replay` and `hookgate db upgrade`, over the admin
role (`StoreAdmin`).

Registered on the main group by `gateway.cli`. `--json` prints the documents of
`gateway.views`, the shapes an admin API returns too.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import click

from gateway import views
from gateway.cli_options import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    config_option,
    echo_json,
    json_option,
    settings_or_exit,
)
from gateway.config import Settings
from gateway.errors import StoreError
from gateway.events import isoformat
from gateway.store import STATES, EventSummary, RequestOutcome, RequestRecord, State, StoreAdmin, open_store
from gateway.store._cipher import new_key

__all__ = ["TIME", "db", "dlq", "events", "parse_time", "replay", "requests", "with_store"]

T = TypeVar("T")

#: Candidates `events show` lists for a reference that names several events.
_CANDIDATES = 10


def with_store(settings: Settings, fn: Callable[[StoreAdmin], Awaitable[T]], *, create: bool = False) -> T:
    """Open the configured store, run `fn` on its admin side, close it. A command that only
    reads never creates the store (a missing one is a `StoreError` naming it); one that
    writes passes `create=True`."""

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


#: A time option's value: ISO-8601 or an age (`parse_time`).
TIME = _Time()


def _summary_line(row: EventSummary) -> str:
    states = " ".join(f"{d.sink}={d.state}" for d in row.deliveries)
    return f"{row.id}  {isoformat(row.received_at)}  {row.source:<12} {row.detail_type:<40} {states}"


# -- events ----------------------------------------------------------------------------------


@click.group()
def events() -> None:
    """Inspect stored events and their deliveries."""


@events.command("list")
@config_option
@click.option("--source", help="Only events of this source.")
@click.option("--since", type=TIME, help="Received at or after (ISO-8601 or an age like 2h).")
@click.option("--detail-type", "detail_type", help="Only events of this detail-type (e.g. invoice.paid).")
@click.option(
    "--provider-id",
    "--dedup-key",
    "dedup_key",
    help="Only events with this provider event id (the dedup key, e.g. Stripe's evt_…).",
)
@click.option("--sink", help="Only events with a delivery to this sink (with --state: in that state).")
@click.option(
    "--state",
    type=click.Choice(STATES),
    help="Only events with a delivery in this state (with --sink: the delivery to that sink).",
)
@click.option(
    "--limit", type=int, default=50, show_default=True, help="At most this many events, newest first."
)
@json_option
def events_list(  # noqa: PLR0917 - one parameter per option
    config_path: str | None,
    source: str | None,
    since: float | None,
    detail_type: str | None,
    dedup_key: str | None,
    sink: str | None,
    state: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List stored events, newest first, with each delivery's state."""
    settings = settings_or_exit(config_path)
    rows = with_store(
        settings,
        lambda s: s.list_events(
            source=source,
            since=since,
            detail_type=detail_type,
            dedup_key=dedup_key,
            sink=sink,
            state=cast("State | None", state),
            limit=limit,
        ),
    )
    if not rows:  # say which store was read (on stderr when stdout is a JSON document)
        click.echo(f"no events in {settings.store.display_url}", err=as_json)
    if as_json:
        echo_json(views.events_document(rows))
        return
    for row in rows:
        click.echo(_summary_line(row))


@events.command("show")
@config_option
@click.argument("reference")
@click.option(
    "--json", "as_json", is_flag=True, help="Accepted like elsewhere: the event is shown as JSON anyway."
)
def events_show(config_path: str | None, reference: str, as_json: bool) -> None:
    """Show one stored event, its entry and its deliveries with every attempt, as JSON.

    REFERENCE is an event id, a unique prefix of one, a provider event id (the dedup key,
    e.g. Stripe's evt_…) or a delivery id (EVENT_ID/SINK). A reference that names several
    events lists them and exits with status 2.
    """
    settings = settings_or_exit(config_path)

    async def run(store: StoreAdmin) -> tuple[list[EventSummary], dict[str, Any] | None]:
        found = await store.find_events(reference, limit=_CANDIDATES)
        if len(found) != 1:
            return found, None
        stored = await store.get_event(found[0].id)
        if stored is None:
            return found, None
        return found, views.event_view(*stored, await store.attempts(found[0].id))

    candidates, shown = with_store(settings, run)
    if shown is not None:
        echo_json(shown)
        return
    if not candidates:
        click.echo(f"hookgate: no event matches {reference!r} in {settings.store.display_url}", err=True)
        sys.exit(EXIT_FAILURE)
    more = " or more" if len(candidates) == _CANDIDATES else ""
    click.echo(f"hookgate: {reference!r} names {len(candidates)}{more} events; give one id:", err=True)
    for row in candidates:
        click.echo(f"  {row.id}  {isoformat(row.received_at)}  {row.source}  {row.dedup_key}", err=True)
    sys.exit(EXIT_CONFIG)


# -- the requests log --------------------------------------------------------------------------


@click.group()
def requests() -> None:
    """Inspect the requests log: every request the edge received, accepted or rejected."""


def _request_line(row: RequestRecord) -> str:
    why = row.cause or ",".join(row.event_ids)
    return (
        f"{row.id}  {isoformat(row.received_at)}  {row.source:<12} {row.status}  "
        f"{row.outcome:<8}  {row.client or '-':<15}  {why}"
    )


@requests.command("list")
@config_option
@click.option("--source", help="Only requests to this source (the name in the webhook path).")
@click.option(
    "--outcome",
    type=click.Choice(["accepted", "rejected"]),
    help="Only accepted (a 2xx/3xx answer) or rejected requests.",
)
@click.option("--since", type=TIME, help="Received at or after (ISO-8601 or an age like 2h).")
@click.option("--until", type=TIME, help="Received before (ISO-8601 or an age like 2h).")
@click.option(
    "--limit", type=int, default=50, show_default=True, help="At most this many requests, newest first."
)
@json_option
def requests_list(  # noqa: PLR0917 - one parameter per option
    config_path: str | None,
    source: str | None,
    outcome: str | None,
    since: float | None,
    until: float | None,
    limit: int,
    as_json: bool,
) -> None:
    """List received requests, newest first: status, outcome, and the cause of a rejection
    (or the stored event ids). Secret and signature headers are stored redacted."""
    settings = settings_or_exit(config_path)
    page = with_store(
        settings,
        lambda s: s.list_requests(
            outcome=cast("RequestOutcome | None", outcome),
            source=source,
            since=since,
            until=until,
            limit=limit,
        ),
    )
    if not page.items:  # say which store was read (on stderr when stdout is a JSON document)
        click.echo(f"no requests in {settings.store.display_url}", err=as_json)
    if as_json:
        echo_json(views.requests_document(page.items))
        return
    for row in page.items:
        click.echo(_request_line(row))


@requests.command("show")
@config_option
@click.argument("request_id")
@click.option(
    "--json", "as_json", is_flag=True, help="Accepted like elsewhere: the request is shown as JSON anyway."
)
def requests_show(config_path: str | None, request_id: str, as_json: bool) -> None:
    """Show one received request as JSON: its outcome, cause, redacted headers, and the
    events it stored (REQUEST_ID as `requests list` prints it)."""
    settings = settings_or_exit(config_path)
    found = with_store(settings, lambda s: s.get_request(request_id))
    if found is None:
        click.echo(f"hookgate: no request {request_id!r} in {settings.store.display_url}", err=True)
        sys.exit(EXIT_FAILURE)
    echo_json(views.request_view(found))


# -- the dead-letter store -------------------------------------------------------------------


@click.group()
def dlq() -> None:
    """The dead-letter store: deliveries that failed for good."""


@dlq.command("list")
@config_option
@click.option("--sink", help="Only deliveries to this sink.")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many, newest first.")
@json_option
def dlq_list(config_path: str | None, sink: str | None, limit: int, as_json: bool) -> None:
    """List dead-lettered deliveries, most recently failed first, with their cause."""
    settings = settings_or_exit(config_path)
    rows = with_store(settings, lambda s: s.list_dead(sink=sink, limit=limit))
    if not rows:
        click.echo(f"no dead letters in {settings.store.display_url}", err=as_json)
    if as_json:
        echo_json(views.dead_letters_document(rows))
        return
    for row in rows:
        click.echo(
            f"{row.event_id}  {row.sink:<12} {row.source:<12} {row.detail_type:<32} "
            f"attempts={row.attempts}  cause={row.last_cause}"
        )


@dlq.command("redrive")
@config_option
@click.argument("event_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every dead delivery.")
@click.option("--sink", help="Only deliveries to this sink.")
@json_option
def dlq_redrive(
    config_path: str | None, event_ids: tuple[str, ...], everything: bool, sink: str | None, as_json: bool
) -> None:
    """Queue dead deliveries again with a fresh retry budget.

    EVENT_IDS name the events whose dead deliveries are queued again (or pass --all).
    """
    if not event_ids and not everything:
        raise click.UsageError("name EVENT_IDS or pass --all")
    settings = settings_or_exit(config_path)
    count = with_store(settings, lambda s: s.redrive(None if everything else event_ids, sink), create=True)
    if as_json:
        echo_json(views.redrive_document(count))
    else:
        click.echo(f"redriven: {count}")


# -- replay ------------------------------------------------------------------------------------


@click.command()
@config_option
@click.option("--source", help="Only events of this source.")
@click.option(
    "--from", "--since", "since", type=TIME, required=True, help="From (ISO-8601 or an age like 2h)."
)
@click.option("--to", "--until", "until", type=TIME, help="Up to (exclusive).")
@click.option("--sink", "sinks", multiple=True, help="Only to these sinks (default: the source's sinks).")
@click.option("--rule", help="Only to the targets of this router rule (`RULE` or `BUS/RULE`).")
@click.option("--name", help="The replay's name, set as `replay-name` on what router targets receive.")
@json_option
def replay(  # noqa: PLR0917 - one parameter per option
    config_path: str | None,
    source: str | None,
    since: float,
    until: float | None,
    sinks: tuple[str, ...],
    rule: str | None,
    name: str | None,
    as_json: bool,
) -> None:
    """Deliver stored events again (a running gateway picks them up).

    A router among the sinks matches each event against its rules again: the targets of
    the rules it matches receive it, with `replay-name` set.
    """
    from gateway.router.bus import plan_replay  # noqa: PLC0415 - only this command needs it

    settings = settings_or_exit(config_path)
    try:
        plan = plan_replay(settings, source=source, sinks=sinks, rule=rule)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    plain, buses, rule, route = plan.sinks, plan.buses, plan.rule, plan.route
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

    count = with_store(settings, run, create=True)
    if as_json:
        echo_json(views.replay_document(count, name=name, sinks=plain, rules=plan.rules))
        return
    where = [*plain, *(f"{b.name} (rules{f' {rule}' if rule else ''})" for b in buses)]
    named = f" as {name}" if name else ""
    click.echo(f"replayed{named}: {count} event(s) to {', '.join(where) or '(no sinks)'}")


# -- the database ------------------------------------------------------------------------------


@click.group()
def db() -> None:
    """The store's database schema."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: str | None) -> None:
    """Create the store's schema or apply its pending migrations (`serve` does it too)."""
    settings = settings_or_exit(config_path)
    try:
        version = with_store(settings, lambda s: s.schema_version(), create=True)
    except StoreError as exc:
        click.echo(f"hookgate: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    click.echo(f"{settings.store.display_url}: schema version {version}")


@db.command("new-key")
def db_new_key() -> None:
    """Print a new random encryption key for `[store] encryption_keys` (keep it secret:
    store it where a secret reference can read it, e.g. an environment variable)."""
    click.echo(new_key())


@db.command("rotate-key")
@config_option
def db_rotate_key(config_path: str | None) -> None:
    """Seal every stored payload, header list and kept body under the first of `[store]
    encryption_keys` (rows stored in clear or under an older key), with a progress bar.

    Safe while the gateway runs. Once it has run, the older keys can be removed.
    """
    settings = settings_or_exit(config_path)

    async def run(store: StoreAdmin) -> int:
        with click.progressbar(length=0, label="sealing events", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            return await store.reseal(progress=progress)

    try:
        changed = with_store(settings, run)
    except StoreError as exc:
        click.echo(f"hookgate: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    click.echo(f"{settings.store.display_url}: {changed} row(s) sealed under the current key")
