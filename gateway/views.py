"""The JSON shapes of what hookgate shows, defined once.

`hookgate … --json` prints these documents, and an admin API returns the same ones, so a
field has one name wherever it appears:

    event summary   id, source, detail_type, dedup_key, provider_event_id, received_at,
                    deliveries
    event           the summary's fields, archived_until, and `event` (the stored entry);
                    each delivery with its `attempt_log`
    delivery        id (`EVENT_ID/SINK`), event_id, sink, state, status, attempts,
                    last_cause, due_at, updated_at
    attempt         attempt, at, duration_ms, outcome, cause
    request         id, received_at, source, status, outcome, cause, size, client,
                    event_ids, headers (redacted), body (rejected ones, when kept)
    dead letter     a delivery's fields with its event's source, detail_type, received_at
    rule            bus, name, enabled, description, event_pattern, targets
    rule test       bus, rule, enabled, matched, targets (target id → what it receives)
    connector       name, summary, options (or `error` when it cannot be loaded)
    schema          name, source, event_source, detail_type, compatibility, latest_version,
                    created_at, updated_at, overflow, drift, drifted_versions, pinned_version
    schema version  name, version, created_at, event_count, sample_event_id, compatible,
                    verdict, content (the detail's JSON Schema)

Times are RFC 3339 UTC strings with milliseconds (`2026-11-28T10:00:00.123Z`), ids are
strings, and deliveries nest under their event. A list is a document with one key naming
what it holds (`{"events": [...]}`), so it can grow fields without breaking; a paged list
(the admin API's) is `{"items": [...], "next_cursor": ...}` (`page_document`).
"""

from __future__ import annotations

import json
import math
import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from gateway.events import Event
from gateway.store import (
    DELIVERY_STATUSES,
    AttemptRecord,
    DeadLetter,
    DeliveryRecord,
    DeliveryStatus,
    EventSummary,
    RequestRecord,
    State,
    delivery_id,
)

if typing.TYPE_CHECKING:
    from gateway.router.rules import BusSettings, RuleSettings
    from gateway.schemas import Comparison, SchemaInfo, SchemaVersion
    from gateway.schemas._push import Pushed

__all__ = [
    "attempt_view",
    "dead_letter_view",
    "dead_letters_document",
    "delivery_view",
    "event_summary_view",
    "event_view",
    "events_document",
    "option_views",
    "page_document",
    "plugin_view",
    "plugins_document",
    "pushed_view",
    "redrive_document",
    "replay_document",
    "request_view",
    "requests_document",
    "rule_test_document",
    "rule_view",
    "rules_document",
    "schema_comparison_view",
    "schema_detail_view",
    "schema_version_view",
    "schema_view",
    "schemas_document",
    "timestamp",
]


def timestamp(moment: float) -> str:
    """An RFC 3339 UTC time with milliseconds: `2026-11-28T10:00:00.123Z`."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- stored events ---------------------------------------------------------------------------


_STATUS: dict[str, DeliveryStatus] = {
    state: status for status, states in DELIVERY_STATUSES.items() for state in states
}


def delivery_status(state: State) -> DeliveryStatus:
    """A delivery's state as the admin API filters it: pending (queued or in flight),
    retrying, delivered, dead."""
    return _STATUS[state]


def attempt_view(record: AttemptRecord) -> dict[str, Any]:
    """One delivery attempt: its number, when it was settled, how long the sink took (the
    batch it was part of), what it came to (delivered, retry, dead: out of budget,
    permanent: refused for good) and why."""
    return {
        "attempt": record.attempt,
        "at": timestamp(record.at),
        "duration_ms": record.duration_ms,
        "outcome": record.outcome,
        "cause": record.cause,
    }


def delivery_view(event_id: str, record: DeliveryRecord) -> dict[str, Any]:
    """One delivery of an event to one sink (a sink, or a router's `BUS/RULE/TARGET`).
    `status`: the state as the admin API filters it (`delivery_status`). `due_at`: when a
    pending or retrying delivery is next tried, or when the lease of one in flight ends."""
    return {
        "id": delivery_id(event_id, record.sink),
        "event_id": event_id,
        "sink": record.sink,
        "state": record.state,
        "status": delivery_status(record.state),
        "attempts": record.attempts,
        "last_cause": record.last_cause,
        "due_at": timestamp(record.due_at),
        "updated_at": timestamp(record.updated_at),
    }


def event_summary_view(summary: EventSummary) -> dict[str, Any]:
    """A stored event without its entry: what a list shows."""
    return {
        "id": summary.id,
        "source": summary.source,
        "detail_type": summary.detail_type,
        "dedup_key": summary.dedup_key,
        "provider_event_id": summary.provider_event_id,
        "received_at": timestamp(summary.received_at),
        "deliveries": [delivery_view(summary.id, record) for record in summary.deliveries],
    }


def event_view(
    event: Event, deliveries: Sequence[DeliveryRecord], attempts: Sequence[AttemptRecord] = ()
) -> dict[str, Any]:
    """A stored event in full: the summary's fields, each delivery with its `attempt_log`
    (every attempt recorded, oldest first), `archived_until` (kept by a router's archive
    past the dedup window until then; "forever": no end; null: not archived) and `event`,
    the EventBridge-shaped entry as stored (its `detail.metadata`: the gateway's metadata)."""
    kept = event.keep_until
    summary = event_summary_view(
        EventSummary(
            event.id,
            event.source,
            event.detail_type,
            event.dedup_key,
            event.received_at,
            tuple(deliveries),
            event.provider_event_id,
        )
    )
    for delivery in summary["deliveries"]:
        delivery["attempt_log"] = [attempt_view(a) for a in attempts if a.sink == delivery["sink"]]
    return {
        **summary,
        "archived_until": None if kept is None else ("forever" if kept == math.inf else timestamp(kept)),
        "event": event.as_dict(),
    }


def events_document(summaries: Iterable[EventSummary]) -> dict[str, Any]:
    return {"events": [event_summary_view(summary) for summary in summaries]}


def requests_document(records: Iterable[RequestRecord]) -> dict[str, Any]:
    return {"requests": [request_view(record) for record in records]}


def request_view(record: RequestRecord) -> dict[str, Any]:
    """One request the edge received: `outcome` accepted (a 2xx/3xx answer) or rejected,
    `cause` the reason of a rejection (`bad_signature`, `stale_timestamp`, `unknown_source`,
    `too_large`, …), `event_ids` the events it stored (or their first copies), `headers`
    by lowercase name with secret values `[redacted]` (repeated headers joined by `, `),
    `body` a rejected request's body as text when the configuration keeps it (truncated)."""
    headers: dict[str, str] = {}
    for name, value in record.headers:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return {
        "id": record.id,
        "received_at": timestamp(record.received_at),
        "source": record.source,
        "status": record.status,
        "outcome": record.outcome,
        "cause": record.cause,
        "size": record.size,
        "client": record.client,
        "event_ids": list(record.event_ids),
        "headers": headers,
        "body": None if record.body is None else record.body.decode("utf-8", "replace"),
    }


def page_document(items: Iterable[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    """A page of a list, newest first: `next_cursor` asks for the next one (null: the end)."""
    return {"items": list(items), "next_cursor": next_cursor}


def dead_letter_view(row: DeadLetter) -> dict[str, Any]:
    """A dead-lettered delivery, with what identifies its event."""
    return {
        "id": delivery_id(row.event_id, row.sink),
        "event_id": row.event_id,
        "sink": row.sink,
        "source": row.source,
        "detail_type": row.detail_type,
        "attempts": row.attempts,
        "last_cause": row.last_cause,
        "received_at": timestamp(row.received_at),
        "updated_at": timestamp(row.updated_at),
    }


def dead_letters_document(rows: Iterable[DeadLetter]) -> dict[str, Any]:
    return {"dead_letters": [dead_letter_view(row) for row in rows]}


def redrive_document(count: int) -> dict[str, Any]:
    """What `redrive` did: how many dead deliveries were queued again."""
    return {"redriven": count}


def replay_document(
    count: int, *, name: str | None, sinks: Sequence[str], rules: Sequence[str]
) -> dict[str, Any]:
    """What a replay did: how many events it queued again, under which name, for which
    sinks, and for the targets of which router rules (`BUS` for all of a bus's rules,
    `BUS/RULE` for one)."""
    return {"replayed": count, "name": name, "sinks": list(sinks), "rules": list(rules)}


# -- configuration ---------------------------------------------------------------------------


def rule_view(bus: str, name: str, rule: RuleSettings) -> dict[str, Any]:
    """One rule of a router. `event_pattern` is the pattern as a JSON value."""
    pattern = rule.event_pattern
    return {
        "bus": bus,
        "name": name,
        "enabled": rule.enabled,
        "description": rule.description,
        "event_pattern": json.loads(pattern) if isinstance(pattern, str) else pattern,
        "targets": [
            {
                "id": target.id,
                "type": target.type,
                "maximum_retry_attempts": target.retry_policy.maximum_retry_attempts,
            }
            for target in rule.targets
        ],
    }


def rules_document(buses: Mapping[str, BusSettings]) -> dict[str, Any]:
    return {
        "rules": [
            rule_view(bus, name, rule)
            for bus, settings in buses.items()
            for name, rule in settings.rules.items()
        ]
    }


def rule_test_document(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """`rules test`: per rule (bus, rule, enabled), whether the event matched and what each
    target would receive (`targets`: target id → its input)."""
    return {"results": list(results)}


def option_views(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The configuration keys of a connector's `Options`: key, type, required, default
    (null when required), description."""
    rows = []
    for key, info in model.model_fields.items():
        kind = getattr(info.annotation, "__name__", None) or str(info.annotation)
        kind = re.sub(r"typing\.|pydantic\.types\.", "", kind)
        if typing.get_origin(info.annotation) is typing.Literal:
            kind = " | ".join(repr(a) for a in typing.get_args(info.annotation))
        required = info.is_required()
        rows.append(
            {
                "key": key,
                "type": kind,
                "required": required,
                "default": None if required else info.get_default(call_default_factory=True),
                "description": info.description or "",
            }
        )
    return rows


class Plugin(Protocol):
    """What `hookgate connectors`, `sinks` and `targets` show of a plugin class."""

    summary: ClassVar[str]
    Options: ClassVar[type[BaseModel]]


def plugin_view(name: str, cls: type[Plugin]) -> dict[str, Any]:
    return {"name": name, "summary": cls.summary, "options": option_views(cls.Options)}


def plugins_document(plural: str, loaded: Mapping[str, type[Plugin] | Exception]) -> dict[str, Any]:
    """Every installed plugin of a kind (`{"connectors": [...]}`); one that cannot be loaded
    has its `error` instead."""
    return {
        plural: [
            {"name": name, "error": str(found)} if isinstance(found, Exception) else plugin_view(name, found)
            for name, found in loaded.items()
        ]
    }


def schema_view(info: SchemaInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "source": info.source,
        "event_source": info.event_source,
        "detail_type": info.detail_type,
        "compatibility": info.compatibility,
        "latest_version": str(info.latest_version),
        "created_at": timestamp(info.created_at),
        "updated_at": timestamp(info.updated_at),
        "overflow": info.overflow,
        "drift": info.drift,
        "drifted_versions": [str(v) for v in info.drifted_versions],
        "pinned_version": None if info.pinned_version is None else str(info.pinned_version),
    }


def schemas_document(infos: Iterable[SchemaInfo]) -> dict[str, Any]:
    return {"schemas": [schema_view(i) for i in infos]}


def pushed_view(pushed: Pushed) -> dict[str, Any]:
    return {
        "name": pushed.name,
        "version": str(pushed.version),
        "outcome": pushed.outcome,
        "registry_version": pushed.registry_version,
        "error": pushed.error,
    }


def schema_detail_view(info: SchemaInfo, versions: Iterable[SchemaVersion]) -> dict[str, Any]:
    """A schema and its versions (oldest first), without their contents."""
    return {
        **schema_view(info),
        "versions": [
            {k: v for k, v in schema_version_view(version).items() if k not in ("name", "content")}
            for version in versions
        ],
    }


def schema_comparison_view(name: str, old: int, new: int, comparison: Comparison) -> dict[str, Any]:
    """The changes from version `old` to `new` of a schema, and the verdict."""
    return {
        "name": name,
        "from": str(old),
        "to": str(new),
        "compatibility": comparison.mode,
        "checked_as": comparison.verdict.mode,
        "changes": [change.as_dict() for change in comparison.changes],
        "compatible": comparison.verdict.compatible,
        "verdict": comparison.verdict.describe(),
    }


def schema_version_view(version: SchemaVersion) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": str(version.version),
        "created_at": timestamp(version.created_at),
        "event_count": version.event_count,
        "sample_event_id": version.sample_event_id,
        "compatible": version.compatible,
        "verdict": version.verdict,
        "content": version.content,
    }
