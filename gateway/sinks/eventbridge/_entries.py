"""Pure preparation of `PutEvents` entries: validation, sizing as AWS counts it, packing,
and the claim-check pointer for events too large for the bus. No I/O here."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from connectors import MAX_TYPE_LENGTH
from gateway.events import MAX_TRACE_HEADER, Event, dumps
from gateway.sinks import Permanent

__all__ = [
    "INT64",
    "MAX_DETAIL_DEPTH",
    "MAX_ENTRIES_PER_REQUEST",
    "MAX_SOURCE",
    "PAYLOAD_EVENT_ID_KEY",
    "PreparedEntry",
    "TooLarge",
    "claim_check_key",
    "entry_size",
    "pack",
    "pointer",
    "prepare",
]

MAX_ENTRIES_PER_REQUEST = 10
MAX_DETAIL_DEPTH = 1000
MAX_SOURCE = 256

INT64 = range(-(2**63), 2**63)
#: The key added to `detail_format = "payload"` details so consumers can dedupe.
PAYLOAD_EVENT_ID_KEY = "hookgate_event_id"
_LONG_DIGITS = re.compile(r"\d{19,}")  # 18 digits or fewer always fit in int64
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


# -- prepare (pure) -------------------------------------------------------------------------


@dataclass(slots=True)
class PreparedEntry:
    """One PutEventsRequestEntry for the event at `index` of the batch."""

    index: int
    request: dict[str, Any]
    size: int


@dataclass(frozen=True, slots=True)
class TooLarge:
    """An event whose entry alone reaches the request limit: a claim check or `too_large`."""

    index: int
    event: Event
    request: dict[str, Any]  # the entry, without Detail
    detail: bytes  # the Detail the entry would carry
    pointer_detail: dict[str, Any]  # the pointer's detail, without the claim_check key


def entry_size(entry: dict[str, Any]) -> int:
    """Bytes EventBridge counts for one entry: Source + DetailType + Detail + Resources, +14 for
    Time (EventBusName and TraceHeader are not counted)."""
    size = 14 if entry.get("Time") is not None else 0
    size += len(entry["Source"].encode()) + len(entry["DetailType"].encode())
    if entry.get("Detail") is not None:
        size += len(entry["Detail"].encode())
    for resource in entry.get("Resources") or ():
        size += len(resource.encode())
    return size


def _nesting(text: str) -> int:
    """The deepest bracket nesting of a JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    for match in _JSON_TOKEN.finditer(text):
        lead = match.group()[0]  # a bracket, or the quote opening a string
        if lead in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif lead in "]}":
            depth -= 1
    return deepest


def _integers_in_range(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool) and item not in INT64:
            return False
    return True


def _load(text: str) -> tuple[dict[str, Any], bool]:
    """Parse a stored envelope; `exact` tells whether stdlib json had to be used."""
    exact = _LONG_DIGITS.search(text) is not None  # orjson would read integers past 64 bits as floats
    try:
        value = json.loads(text) if exact else orjson.loads(text)
    except orjson.JSONDecodeError:  # a lone surrogate escape, deep nesting: orjson refuses them
        value = json.loads(text)
        exact = True
    if not isinstance(value, dict):
        raise TypeError("the stored entry is not a JSON object")
    return value, exact


def _dumps(value: Any, exact: bool) -> bytes:
    """Compact JSON. orjson stops at 255 levels and at 64-bit integers; the rest is rare."""
    try:
        if not exact:
            return orjson.dumps(value)
        return dumps(value).encode()
    except (TypeError, RecursionError):
        return _dumps_iteratively(value).encode()


class _Text(str):
    """JSON text already encoded (a token of `_dumps_iteratively`)."""

    __slots__ = ()


def _dumps_iteratively(value: Any) -> str:
    """Compact JSON of arbitrarily deep data, without recursion."""
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Text):
            out.append(item)
        elif isinstance(item, dict | list):
            todo: list[Any] = [_Text("{" if isinstance(item, dict) else "[")]
            pairs = item.items() if isinstance(item, dict) else ((None, v) for v in item)
            for n, (key, element) in enumerate(pairs):
                comma = "," if n else ""
                label = "" if key is None else _scalar(str(key)) + ":"
                todo += [_Text(comma + label), element]
            todo.append(_Text("}" if isinstance(item, dict) else "]"))
            stack.extend(reversed(todo))
        else:
            out.append(_scalar(item))
    return "".join(out)


def _scalar(value: Any) -> str:
    """A string or number as JSON text; a lone surrogate stays an escape (valid UTF-8)."""
    text = json.dumps(value, ensure_ascii=False)
    return json.dumps(value) if isinstance(value, str) and not text.isascii() and _unencodable(text) else text


def _unencodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def prepare(
    index: int, event: Event, *, bus: str, limit: int, payload_event_id: bool = True
) -> PreparedEntry | TooLarge | Permanent:
    """The PutEvents entry of a stored event, or why it cannot be one. Never raises."""
    text = event.entry
    if text.count("{") + text.count("[") > MAX_DETAIL_DEPTH and _nesting(text) - 1 > MAX_DETAIL_DEPTH:
        return Permanent(f"invalid_detail: nested deeper than {MAX_DETAIL_DEPTH} levels")
    try:
        envelope, exact = _load(text)
    except (ValueError, TypeError, RecursionError) as exc:
        return Permanent(f"invalid_entry: stored entry is not valid JSON ({type(exc).__name__})")
    source, detail_type, detail = envelope.get("source"), envelope.get("detail-type"), envelope.get("detail")
    if not isinstance(detail_type, str) or not 1 <= len(detail_type) <= MAX_TYPE_LENGTH:
        return Permanent(f"invalid_detail_type: must be 1-{MAX_TYPE_LENGTH} characters")
    if not isinstance(source, str) or not 1 <= len(source) <= MAX_SOURCE:
        return Permanent(f"invalid_source: must be 1-{MAX_SOURCE} characters")
    if source.startswith("aws."):
        return Permanent("invalid_source: must not start with 'aws.' (reserved for AWS services)")
    if not isinstance(detail, dict):
        return Permanent("invalid_detail: detail must be a JSON object")
    if exact and not _integers_in_range(detail):
        return Permanent("invalid_detail: an integer is outside the int64 range")

    metadata = detail.get("metadata")
    envelope_format = isinstance(metadata, dict) and metadata.get("event_id") == event.id
    if not envelope_format and payload_event_id:
        detail = {**detail, PAYLOAD_EVENT_ID_KEY: event.id}
    pointer_detail: dict[str, Any] = (
        {"metadata": metadata} if envelope_format else {PAYLOAD_EVENT_ID_KEY: event.id}
    )
    request: dict[str, Any] = {"Source": source, "DetailType": detail_type, "EventBusName": bus}
    stamp = envelope.get("time")
    if isinstance(stamp, str):
        with contextlib.suppress(ValueError):  # else EventBridge stamps the time it got the entry
            request["Time"] = datetime.fromisoformat(stamp)
    resources = envelope.get("resources")
    if resources and isinstance(resources, list) and all(isinstance(r, str) for r in resources):
        request["Resources"] = resources
    trace = envelope.get("trace-header")
    if isinstance(trace, str) and 1 <= len(trace) <= MAX_TRACE_HEADER:
        request["TraceHeader"] = trace
    try:
        body = _dumps(detail, exact)
    except (TypeError, ValueError, RecursionError) as exc:
        return Permanent(f"invalid_detail: cannot serialize ({type(exc).__name__})")
    size = entry_size(request) + len(body)
    if size >= limit:
        return TooLarge(index, event, request, body, pointer_detail)
    request["Detail"] = body.decode()
    return PreparedEntry(index, request, size)


def claim_check_key(prefix: str, event: Event) -> str:
    return f"{prefix}{event.source}/{event.id}.json"


def pointer(item: TooLarge, *, bucket: str, key: str, limit: int) -> PreparedEntry | Permanent:
    """The pointer entry sent in place of an offloaded event."""
    claim = {
        "bucket": bucket,
        "key": key,
        "size": len(item.detail),
        "sha256": hashlib.sha256(item.detail).hexdigest(),
    }
    request = {**item.request, "Detail": orjson.dumps({**item.pointer_detail, "claim_check": claim}).decode()}
    size = entry_size(request)
    if size >= limit:
        return Permanent(f"too_large: even the claim-check pointer is {size} bytes (limit {limit})")
    return PreparedEntry(item.index, request, size)


def pack(entries: Iterable[PreparedEntry], limit: int) -> Iterator[list[PreparedEntry]]:
    """Requests of ≤ 10 entries whose total size stays under `limit`, in order."""
    chunk: list[PreparedEntry] = []
    total = 0
    for entry in entries:
        if chunk and (len(chunk) == MAX_ENTRIES_PER_REQUEST or total + entry.size >= limit):
            yield chunk
            chunk, total = [], 0
        chunk.append(entry)
        total += entry.size
    if chunk:
        yield chunk
