"""The live tail: `GET /stream`, Server-Sent Events of what this gateway receives.

The edge publishes each newly stored event (after its commit, duplicates left out) and
every request it receives, accepted or rejected, to the gateway's `LiveFeed`, an
in-process broadcast; each open stream is one subscriber with a bounded queue (a
subscriber that cannot keep up loses its oldest items, and is told how many with a
`dropped` event). Publishing costs nothing while nobody listens.

    event: event                 one per stored event: its summary (`views`), and the
    id: EVENT_ID                 destinations it was queued for
    data: {"id": …, "source": …, "detail_type": …, "dedup_key": …, "received_at": …,
           "destinations": [...]}

    event: request               one per received request: what `GET /requests` lists
    id: REQUEST_ID               (`views.request_view`: headers redacted)
    data: {"id": …, "source": …, "status": …, "outcome": …, "cause": …, "headers": {…}, …}

A comment line (`: keep-alive`) every `KEEPALIVE_SECONDS` keeps proxies from closing an
idle stream. Filters narrow the stream to the items matching every one given: `types`
(`event`, `request`, or both: the default), `source`, `outcome` (a request's; an event
counts as accepted), `detail_type` (exact) and `detail_type_prefix` (an event's: requests
have none, so they are left out). Each replica streams what it receives itself: behind a
load balancer over several replicas, a stream shows the share of the traffic its replica
gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from starlette.responses import StreamingResponse

from gateway import views
from gateway.admin.api import ApiError, Call, NoBody, Params, Routes
from gateway.events import Event
from gateway.store import EventSummary, RequestOutcome, RequestRecord

__all__ = ["KEEPALIVE_SECONDS", "LiveFeed", "routes"]

routes = Routes("live")

#: Seconds between keep-alive comments on an idle stream.
KEEPALIVE_SECONDS = 15.0
#: Items a subscriber may fall behind by before it loses the oldest.
_QUEUE = 1000
#: Streams open at once, at most (more: 503).
_MAX_SUBSCRIBERS = 100


class _Subscriber:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(_QUEUE)
        self.dropped = 0

    def put(self, kind: str, item: dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait((kind, item))


class LiveFeed:
    """An in-process broadcast of what the gateway receives, to the open streams."""

    def __init__(self) -> None:
        self._subscribers: set[_Subscriber] = set()

    @property
    def active(self) -> bool:
        """Whether anyone listens (the edge publishes nothing otherwise)."""
        return bool(self._subscribers)

    def publish_events(self, events: Sequence[Event], routes: Sequence[Sequence[str]]) -> None:
        """Each newly stored event, with the destinations it was queued for."""
        for event, route in zip(events, routes, strict=True):
            summary = views.event_summary_view(
                EventSummary(event.id, event.source, event.detail_type, event.dedup_key, event.received_at)
            )
            del summary["deliveries"]
            self.publish("event", {**summary, "destinations": list(route)})

    def publish_request(self, record: RequestRecord) -> None:
        """A request the edge received, as the requests log lists it (redacted)."""
        self.publish("request", views.request_view(record))

    def publish(self, kind: str, item: dict[str, Any]) -> None:
        """`item` to every subscriber as an SSE event named `kind`."""
        for subscriber in self._subscribers:
            subscriber.put(kind, item)

    @property
    def full(self) -> bool:
        return len(self._subscribers) >= _MAX_SUBSCRIBERS

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[_Subscriber]:
        subscriber = _Subscriber()
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)


ItemType = Literal["event", "request"]


def _split(value: Any) -> Any:
    """`types=event,request` as well as `types=event&types=request`."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
    return value


class StreamFilter(Params):
    types: Annotated[list[ItemType], BeforeValidator(_split)] = Field(
        ["event", "request"],
        min_length=1,
        description="What to stream: `event`, `request`, or both (repeated or comma-separated).",
    )
    source: str | None = Field(None, description="Only the events and requests of this source.")
    outcome: RequestOutcome | None = Field(
        None, description="Only requests with this outcome (events count as accepted)."
    )
    detail_type: str | None = Field(None, description="Only events of this detail-type.")
    detail_type_prefix: str | None = Field(
        None, description="Only events whose detail-type starts with this."
    )


def _wanted(kind: str, item: Mapping[str, Any], q: StreamFilter) -> bool:
    if kind not in q.types:
        return False
    if kind == "request" and (q.detail_type is not None or q.detail_type_prefix is not None):
        return False
    detail_type = str(item.get("detail_type", ""))
    return (
        (q.source is None or item.get("source") == q.source)
        and (q.outcome is None or item.get("outcome", "accepted") == q.outcome)
        and (q.detail_type is None or detail_type == q.detail_type)
        and (q.detail_type_prefix is None or detail_type.startswith(q.detail_type_prefix))
    )


@routes.get("/stream", query=StreamFilter, response=None, media_type="text/event-stream")
async def stream(call: Call[StreamFilter, NoBody]) -> StreamingResponse:
    """Server-Sent Events: each event this replica stores and each request it receives, from now on.

    `event: event` lines carry an event's summary and its destinations; `event: request`
    lines a received request as `GET /requests` lists it (accepted or rejected, headers
    redacted); `event: dropped` says how many items a slow reader lost. Every filter given
    narrows the stream: `types`, `source`, `outcome` (events count as accepted),
    `detail_type` and `detail_type_prefix` (events only). Each replica streams its own
    traffic.
    """
    feed = call.gateway.feed
    if feed.full:
        raise ApiError(503, "too_many_streams", "too many live streams are open; retry later")

    async def lines() -> AsyncIterator[str]:
        with feed.subscribe() as subscriber:  # subscribed before `connected` is sent
            yield "retry: 2000\n: connected\n\n"
            while True:
                try:
                    kind, item = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if subscriber.dropped:
                    yield f"event: dropped\ndata: {json.dumps({'dropped': subscriber.dropped})}\n\n"
                    subscriber.dropped = 0
                if _wanted(kind, item, call.query):
                    yield f"event: {kind}\nid: {item.get('id', '')}\ndata: {json.dumps(item)}\n\n"

    return StreamingResponse(
        lines(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
