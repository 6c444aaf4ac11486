"""Events of providers that name each event: a type, an id and a time at known places in
the body.

Most providers put the event type and a unique event id in the body (`type` and `id`,
`event.type` and `event.id`, ...). `typed_id` reads both or refuses the body,
`required_type` the type alone; `keyed_event` builds the event deduplicated on that id;
`json_event` reads a whole one-event JSON body, so a connector's `normalize` is one call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors._base import MalformedPayloadError, ProviderEvent, sha256_of_parts, utc_from_timestamp
from connectors.toolkit.bodies import json_object, lookup, optional_id, optional_type

__all__ = ["json_event", "keyed_event", "required_type", "typed_id"]


def required_type(payload: Any, path: str) -> str:
    """The event type at a dotted path: `MalformedPayloadError` when absent
    (`missing_field`) or unusable (`bad_event_type`)."""
    event_type = optional_type(payload, path)
    if event_type is None:
        raise MalformedPayloadError("missing_field", path)
    return event_type


def typed_id(payload: Any, type_path: str, id_path: str) -> tuple[str, str]:
    """The event type and id at two dotted paths; `MalformedPayloadError("missing_field")`
    naming the first that is absent (and `bad_event_type` for an unusable type)."""
    event_type = required_type(payload, type_path)
    event_id = optional_id(lookup(payload, id_path))
    if event_id is None:
        raise MalformedPayloadError("missing_field", id_path)
    return event_type, event_id


def keyed_event(
    event_type: str,
    payload: Any,
    event_id: str,
    *,
    delivery_id: str | None = None,
    occurred_at: datetime | None = None,
) -> ProviderEvent:
    """An event deduplicated on the provider's event id (retries keep it)."""
    return ProviderEvent(
        type=event_type,
        payload=payload,
        dedup_key=event_id,
        provider_event_id=event_id,
        delivery_id=delivery_id,
        occurred_at=occurred_at,
    )


def json_event(
    connector: str,
    body: bytes,
    *,
    type_path: str,
    id_path: str | None = None,
    time_path: str | None = None,
    delivery_id: str | None = None,
) -> list[ProviderEvent]:
    """The body as one event: its type at `type_path` (`MalformedPayloadError` when absent),
    dedup on the id at `id_path`, else on `delivery_id`, else on a hash of the body."""
    payload = json_object(body)
    event_type = required_type(payload, type_path)
    event_id = optional_id(lookup(payload, id_path)) if id_path else None
    return [
        ProviderEvent(
            type=event_type,
            payload=payload,
            dedup_key=event_id or delivery_id or sha256_of_parts(connector, body),
            provider_event_id=event_id,
            delivery_id=delivery_id,
            occurred_at=utc_from_timestamp(lookup(payload, time_path)) if time_path else None,
        )
    ]
