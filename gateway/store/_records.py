"""What the store keeps beside events for the admin side: the attempts log (every
delivery attempt, with its outcome), the requests log (every request the edge received,
accepted or rejected) and the opaque cursors of paged lists.

Both logs are bounded: an event's attempts go when the event is purged; requests are
kept for `RequestLogPolicy.retention_seconds` and at most `max_rows` of them (oldest
dropped first), so a flood of forged requests cannot fill the disk.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

__all__ = [
    "ATTEMPT_OUTCOMES",
    "DELIVERY_STATUSES",
    "AttemptOutcome",
    "AttemptRecord",
    "CursorError",
    "DeliveryStatus",
    "Page",
    "RequestLogPolicy",
    "RequestOutcome",
    "RequestQuery",
    "RequestRecord",
    "TextSearchUnavailableError",
    "decode_cursor",
    "encode_cursor",
]

T = TypeVar("T")

#: What one attempt came to: delivered; a retry scheduled; dead (out of budget);
#: permanent (the sink refused it for good, so dead at once).
AttemptOutcome = Literal["delivered", "retry", "dead", "permanent"]
ATTEMPT_OUTCOMES: tuple[AttemptOutcome, ...] = ("delivered", "retry", "dead", "permanent")
#: A delivery's state as the admin API names it: `pending` (queued or in flight),
#: `retrying` (waiting for its next attempt), `delivered`, `dead`.
DeliveryStatus = Literal["pending", "retrying", "delivered", "dead"]
DELIVERY_STATUSES: dict[DeliveryStatus, tuple[str, ...]] = {
    "pending": ("pending", "forwarding"),
    "retrying": ("retry",),
    "delivered": ("delivered",),
    "dead": ("dead",),
}
RequestOutcome = Literal["accepted", "rejected"]


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One delivery attempt of an event to one sink (or `BUS/RULE/TARGET`)."""

    sink: str
    attempt: int
    at: float
    duration_ms: float
    outcome: AttemptOutcome
    cause: str | None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the edge received. `id` is a UUIDv7 of its arrival (the list's order
    and cursor); `headers` are already redacted; `body` is kept only for a rejected
    request, and only when the configuration asks (truncated)."""

    id: str
    received_at: float
    source: str
    status: int
    cause: str | None
    size: int
    client: str | None
    headers: tuple[tuple[str, str], ...]
    event_ids: tuple[str, ...] = ()
    body: bytes | None = None

    @property
    def outcome(self) -> RequestOutcome:
        return "accepted" if self.status < 400 else "rejected"


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """Which requests a list selects (each filter given narrows it); `before`: the
    requests older than that id (the keyset of paged lists); `id`: that one request."""

    outcome: RequestOutcome | None = None
    source: str | None = None
    since: float | None = None
    until: float | None = None
    before: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class RequestLogPolicy:
    """How long requests are kept, and how many at most (the oldest go first)."""

    retention_seconds: float = 7 * 24 * 3600.0
    max_rows: int = 100_000


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, newest first; `next_cursor` asks for the next (None: the end)."""

    items: Sequence[T]
    next_cursor: str | None


class CursorError(ValueError):
    """A cursor that no list of this store handed out."""


class TextSearchUnavailableError(ValueError):
    """A text search over payloads that this store keeps sealed (encryption at rest)."""


_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def encode_cursor(last_id: str) -> str:
    """The opaque cursor after the item `last_id` (a UUIDv7: lists are keyset-paged on id,
    so inserts meanwhile never shift a page)."""
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The id a cursor continues after; `CursorError` for anything else."""
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError("invalid cursor") from None
    if not _ID.match(value):
        raise CursorError("invalid cursor")
    return value
