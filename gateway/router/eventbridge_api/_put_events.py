"""`PutEvents`, sans-I/O: the request checked as EventBridge checks it, each entry either an
event for a bus (with EventBridge's envelope) or its `ErrorCode` and `ErrorMessage`.

Whole request (`ValidationException`, nothing is stored): 1 to 10 entries; the entries'
size as EventBridge counts it (`entry_size`) below the smallest `max_request_bytes` of the
buses they name; `EventBusName` and `TraceHeader` within the model's constraints; at least
one entry with `Source`, `DetailType` and `Detail`. Wrong JSON types are a `SerializationException`.

Per entry, in this order: `Source`, `DetailType` and `Detail` present (`InvalidArgument`);
a source starting with `aws.` (`NotAuthorizedForSourceException`); `DetailType` at most
128 characters (`InvalidArgument`); `Detail` a JSON object of int64 integers nested at
most 500 levels (`MalformedDetail`; EventBridge: 1000); the bus: a name or an ARN of this endpoint's buses,
the default bus without one (`ResourceNotFoundException`), that the signing key may put
on (`AccessDeniedException`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from connectors import MAX_TYPE_LENGTH
from gateway.events import MAX_TRACE_HEADER, Event, isoformat, new_event_id
from gateway.router.eventbridge_api._errors import ApiError
from gateway.sinks.eventbridge._entries import (
    MAX_ENTRIES_PER_REQUEST,
    _integers_in_range,
    _nesting,
    entry_size,
)

__all__ = [
    "API_SOURCE",
    "MAX_DETAIL_DEPTH",
    "Accepted",
    "BusView",
    "Refused",
    "plan_put_events",
    "resolve_bus",
]

#: The store source of the events put through the API (their dedup key is their own id:
#: EventBridge gives every entry a new event, so nothing put through the API is a duplicate).
API_SOURCE = "api"
_BUS_PATTERN = re.compile(
    r"^(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[\.\-_A-Za-z0-9]+$"
)
_ARN = re.compile(r"^arn:aws[\w-]*:events:([a-z]+-[a-z]+-[\w-]+):([0-9]{12}):event-bus/(.+)$")
_REQUIRED = ("Source", "DetailType", "Detail")
#: EventBridge takes 1000 levels; the router reads events with Python's JSON parser, whose
#: recursion limit (1000 frames in all) leaves room for about 900 in a delivery: 500 is safe.
MAX_DETAIL_DEPTH = 500
_YEAR_10000 = 253_402_300_800
_LONG_DIGITS = re.compile(r"\d{19,}")  # 18 digits or fewer always fit in int64
_STRINGS = ("Source", "DetailType", "Detail", "EventBusName", "TraceHeader")


@dataclass(frozen=True, slots=True)
class Accepted:
    """An entry that becomes `event` on `bus`."""

    bus: str
    event: Event


@dataclass(frozen=True, slots=True)
class Refused:
    code: str
    message: str


def _serialization(message: str) -> ApiError:
    return ApiError("SerializationException", message)


def _constraint(value: Any, where: str, constraint: str) -> ApiError:
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value '{str(value)[:256]}' at '{where}' failed to satisfy constraint: "
        f"{constraint}",
    )


@dataclass(frozen=True, slots=True)
class BusView:
    """A bus as one request sees it: its account and Region (of its events and ARNs), and
    whether the key that signed the request may use it."""

    account: str
    region: str
    allowed: bool
    max_request_bytes: int = 1_048_576

    def arn(self, bus: str) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:event-bus/{bus}"


def resolve_bus(named: str | None, buses: Mapping[str, BusView], default: str | None) -> str | None:
    """The bus an `EventBusName` names: a name, an ARN (of that bus's account and Region),
    or none or `default` for the default bus; None when it names none of `buses`."""
    if named is None or named == "default":
        return default if default in buses else None
    found = _ARN.match(named)
    if found is None:
        return named if named in buses else None
    arn_region, arn_account, name = found.groups()
    view = buses.get(name)
    return name if view is not None and (view.region, view.account) == (arn_region, arn_account) else None


def _entries(request: Any) -> list[dict[str, Any]]:
    if not isinstance(request, dict):
        raise _serialization("The request body must be a JSON object.")
    entries = request.get("Entries")
    if entries is None:
        raise _constraint("null", "entries", "Member must not be null")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _serialization("Entries must be a list of structures.")
    if not 1 <= len(entries) <= MAX_ENTRIES_PER_REQUEST:
        raise _constraint(
            "[PutEventsRequestEntry]",
            "entries",
            "Member must have length less than or equal to 10"
            if entries
            else "Member must have length greater than or equal to 1",
        )
    for i, entry in enumerate(entries):
        for name in _STRINGS:
            if entry.get(name) is not None and not isinstance(entry[name], str):
                raise _serialization(f"{name} must be a string.")
        resources = entry.get("Resources")
        if resources is not None and (
            not isinstance(resources, list) or not all(isinstance(r, str) for r in resources)
        ):
            raise _serialization("Resources must be a list of strings.")
        time = entry.get("Time")
        if time is not None and (isinstance(time, bool) or not isinstance(time, int | float | str)):
            raise _serialization("Time must be a timestamp.")
        bus = entry.get("EventBusName")
        where = f"entries.{i + 1}.member"
        if bus is not None and not (1 <= len(bus) <= 1600 and _BUS_PATTERN.match(bus)):
            raise _constraint(
                bus,
                f"{where}.eventBusName",
                f"Member must satisfy regular expression pattern: {_BUS_PATTERN.pattern}",
            )
        trace = entry.get("TraceHeader")
        if trace is not None and not 1 <= len(trace) <= MAX_TRACE_HEADER:
            raise _constraint(
                trace, f"{where}.traceHeader", "Member must have length less than or equal to 500"
            )
    return entries


def _time(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        if not 0 <= value < _YEAR_10000:
            raise _serialization("Time must be a timestamp.")
        return float(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _serialization("Time must be a timestamp.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _size(entries: list[dict[str, Any]]) -> int:
    total = 0
    for entry in entries:
        counted = {name: entry.get(name) or "" for name in ("Source", "DetailType")}
        total += entry_size({**entry, **counted})
    return total


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _detail(text: str) -> bool:
    """Whether `Detail` is what this bus takes: a JSON object of int64 integers, at most
    `MAX_DETAIL_DEPTH` levels deep."""
    if text.count("{") + text.count("[") > MAX_DETAIL_DEPTH and _nesting(text) > MAX_DETAIL_DEPTH:
        return False
    try:  # orjson reads 1000 levels; the standard library, integers past 64 bits exactly
        value = (
            json.loads(text, parse_constant=_not_json) if _LONG_DIGITS.search(text) else orjson.loads(text)
        )
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and _integers_in_range(value)


def plan_put_events(
    request: Any,
    *,
    buses: Mapping[str, BusView],
    default: str | None,
    now: float,
    new_id: Callable[[float], str] = new_event_id,
) -> list[Accepted | Refused]:
    """Per entry, in order: its event and bus, or why EventBridge refuses it (`buses`: this
    endpoint's). `ApiError` when the request fails as a whole: its size is checked against
    the smallest `max_request_bytes` of the buses its entries name."""
    entries = _entries(request)
    named = {resolve_bus(e.get("EventBusName"), buses, default) for e in entries} - {None}
    limit = min(buses[b].max_request_bytes for b in named or buses if b is not None)
    if _size(entries) >= limit:
        raise ApiError("ValidationException", "Total size of the entries in the request is over the limit.")
    if not any(all(entry.get(name) for name in _REQUIRED) for entry in entries):
        raise ApiError(
            "ValidationException",
            "None of the entries has all of the required Source, DetailType and Detail.",
        )
    return [_plan(entry, buses, default, now, new_id) for entry in entries]


def _plan(
    entry: dict[str, Any],
    buses: Mapping[str, BusView],
    default: str | None,
    now: float,
    new_id: Callable[[float], str],
) -> Accepted | Refused:
    for name in _REQUIRED:
        if not entry.get(name):
            return Refused(
                "InvalidArgument", f"Parameter {name} is not valid. Reason: {name} is a required argument."
            )
    source, detail_type = entry["Source"], entry["DetailType"]
    if source.startswith("aws."):
        return Refused("NotAuthorizedForSourceException", "Not authorized for the source.")
    if len(detail_type) > MAX_TYPE_LENGTH:
        return Refused(
            "InvalidArgument",
            "Parameter DetailType is not valid. "
            f"Reason: DetailType is longer than {MAX_TYPE_LENGTH} characters.",
        )
    if not _detail(entry["Detail"]):
        return Refused("MalformedDetail", "Detail is malformed.")
    named = entry.get("EventBusName")
    bus = resolve_bus(named, buses, default)
    if bus is None:
        return Refused("ResourceNotFoundException", f"Event bus {named or 'default'} does not exist.")
    view = buses[bus]
    if not view.allowed:
        return Refused(
            "AccessDeniedException",
            f"User is not authorized to perform: events:PutEvents on resource: {view.arn(bus)}",
        )
    time = _time(entry.get("Time"))
    event_id = new_id(now)
    envelope: dict[str, Any] = {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": view.account,
        "time": isoformat(now if time is None else time),
        "region": view.region,
        "resources": list(entry.get("Resources") or ()),
    }
    trace = entry.get("TraceHeader")
    if trace and trace.isprintable():
        envelope["trace-header"] = trace
    # `detail` as it came (checked above): no depth or integer is lost by writing it again
    text = orjson.dumps(envelope).decode()[:-1] + ',"detail":' + entry["Detail"].strip() + "}"
    event = Event(
        id=event_id,
        source=API_SOURCE,
        dedup_key=event_id,
        detail_type=detail_type,
        received_at=now,
        entry=text,
    )
    return Accepted(bus, event)
