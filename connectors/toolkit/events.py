"""One event from a JSON body: the type, id and time read at dotted paths.

Most providers send one event per delivery, as a JSON object whose type, id and time sit
at fixed places; `json_event` reads them so that a connector's `normalize` is one call.
"""

from __future__ import annotations

from connectors._base import MalformedPayloadError, ProviderEvent, sha256_of_parts, utc_from_timestamp
from connectors.toolkit.bodies import json_object, lookup, optional_id, optional_type

__all__ = ["json_event"]


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
    event_type = optional_type(payload, type_path)
    if event_type is None:
        raise MalformedPayloadError("missing_field", type_path)
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
