"""The normalized event: a provider event shaped like an Amazon EventBridge entry.

    {"version": "0", "id": …, "detail-type": "invoice.paid", "source": "hookgate.stripe",
     "time": "2026-11-28T03:24:35Z", "resources": [],
     "detail": {"metadata": {…gateway metadata…}, "payload": {…the provider's payload…}}}

With a source's `detail_format = "payload"`, `detail` is the provider payload itself, so
rules written for a provider's native EventBridge integration still match. The JSON
Schema of this envelope ships in `gateway/schema/event.schema.json`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from connectors import MAX_TYPE_LENGTH, MalformedPayloadError, ProviderEvent

__all__ = [
    "MAX_TRACE_HEADER",
    "Event",
    "build_event",
    "dumps",
    "id_floor",
    "isoformat",
    "new_event_id",
    "storable_key",
]


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event. `entry` is the JSON text of the EventBridge-shaped envelope.

    `keep_until`: kept (archived) until then, even once delivered and past the dedup
    window. `replay_name`: set on an event claimed for a delivery that a replay queued.
    `enriched_at`: when its source's enricher completed `entry` (`connectors.Enricher`),
    as claimed deliveries know it. `provider_event_id` and `provider_delivery_id`: the
    provider's own ids (its event id, its delivery id), stored beside the event so the
    admin side can find it by them (not part of its identity: equality ignores them).
    """

    id: str
    source: str
    dedup_key: str
    detail_type: str
    received_at: float
    entry: str
    keep_until: float | None = None
    replay_name: str | None = None
    enriched_at: float | None = None
    provider_event_id: str | None = field(default=None, compare=False)
    provider_delivery_id: str | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.entry)
        return value


def new_event_id(now: float | None = None) -> str:
    """A UUIDv7 (time-ordered) string, so ids sort by arrival.

    The 74 random bits need to be unique, not secret: `random` (reseeded by Python in
    every forked child) is used rather than a system call per id.
    """
    ms = int((time.time() if now is None else now) * 1000)
    rand = _random_bits(74)
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62 | (rand & (2**62 - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_random_bits = random.getrandbits


def id_floor(moment: float) -> str:
    """The smallest event id of the millisecond `moment`: ids compare like their times."""
    ms = int(moment * 1000) & (2**48 - 1)
    return f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-0000-0000-000000000000"


def isoformat(moment: float | datetime) -> str:
    """EventBridge's time format: UTC, whole seconds, `Z`."""
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _utc_second(int(moment // 1)) + "Z"


@functools.lru_cache(maxsize=64)
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _isoformat_ms(moment: float) -> str:
    return f"{_utc_second(int(moment // 1))}.{int(moment * 1000 // 1) % 1000:03d}+00:00"


def dumps(value: Any) -> str:
    """Compact JSON text of a parsed payload or envelope, every value as it was: orjson's,
    else (an integer beyond 64 bits, a lone surrogate such as `"\\ud800"`, which providers
    send when they cut an emoji in half) the standard library's, with the surrogates
    escaped as they arrived, so the text is always valid UTF-8."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: beyond 64 bits, a lone surrogate, deep nesting
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":"))
    return text


def _storable(text: str) -> bool:
    """Whether every store can hold `text` as it is: no NUL (PostgreSQL's text refuses it)
    and valid UTF-8 (no lone surrogate, which JSON escapes can carry)."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def storable_key(key: str) -> str:
    """A key (dedup key, provider event or delivery id) as every store can hold it: as it
    is, or, holding a NUL or a lone surrogate, `sha256:` and its hex digest (the same key
    gives the same digest, so duplicates are still found, and a lookup by the key too)."""
    if _storable(key):
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


#: An AWS X-Ray trace header is passed on (as PutEvents' `TraceHeader`) within this length.
MAX_TRACE_HEADER = 500


def build_event(
    event: ProviderEvent,
    received_at: float,
    *,
    source: str,
    connector: str,
    event_source: str,
    detail_format: Literal["envelope", "payload"] = "envelope",
    trace_header: str | None = None,
) -> Event:
    """Wrap one verified provider event into the stored envelope.

    `source` names the configured source (and `connector` its connector) in the metadata;
    `event_source` is the envelope's `source`; `detail_format` as the source's setting.
    `trace_header` is the delivery's `X-Amzn-Trace-Id`, kept as the envelope's optional
    `trace-header` so an EventBridge sink can continue the X-Ray trace.
    """
    detail_type = event.type
    if not detail_type or len(detail_type) > MAX_TYPE_LENGTH:
        raise MalformedPayloadError("bad_event_type", f"event type must be 1-{MAX_TYPE_LENGTH} characters")
    if not _storable(detail_type):
        raise MalformedPayloadError("bad_event_type", "event type holds a NUL or a lone surrogate")
    dedup_key = storable_key(event.dedup_key)
    event_id = new_event_id(received_at)
    metadata = {
        "event_id": event_id,
        "source": source,
        "connector": connector,
        "provider_event_id": event.provider_event_id,
        "delivery_id": event.delivery_id,
        "dedup_key": dedup_key,
        "received_at": _isoformat_ms(received_at),
    }
    if detail_format == "payload" and isinstance(event.payload, dict):
        detail: Any = event.payload
    else:
        detail = {"metadata": metadata, "payload": event.payload}
    entry = {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": event_source,
        "time": isoformat(event.occurred_at or received_at),
        "resources": [],
        "detail": detail,
    }
    if trace_header and len(trace_header) <= MAX_TRACE_HEADER and trace_header.isprintable():
        entry["trace-header"] = trace_header
    return Event(
        id=event_id,
        source=source,
        dedup_key=dedup_key,
        detail_type=detail_type,
        received_at=received_at,
        entry=dumps(entry),
        provider_event_id=None if event.provider_event_id is None else storable_key(event.provider_event_id),
        provider_delivery_id=None if event.delivery_id is None else storable_key(event.delivery_id),
    )
