"""The live tail: `GET /stream`, Server-Sent Events of what this gateway receives.

The edge publishes each newly stored event (after its commit, duplicates left out) to the
gateway's `LiveFeed`, an in-process broadcast; each open stream is one subscriber with a
bounded queue (a subscriber that cannot keep up loses its oldest items, and is told how
many with a `dropped` event). Publishing costs nothing while nobody listens.

    event: event                 one per stored event: its summary (`views`), and the
    id: EVENT_ID                 destinations it was queued for
    data: {"id": …, "source": …, "detail_type": …, "dedup_key": …, "received_at": …,
           "destinations": [...]}

A comment line (`: keep-alive`) every `KEEPALIVE_SECONDS` keeps proxies from closing an
idle stream. Filters: `source`, `detail_type` (exact), `detail_type_prefix`. Each replica
streams what it receives itself: behind a load balancer over several replicas, a stream
shows the share of the traffic its replica gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from pydantic import Field
from starlette.responses import StreamingResponse

from gateway import views
from gateway.admin.api import ApiError, Call, NoBody, Params, Routes
from gateway.events import Event
from gateway.store import EventSummary

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


class StreamFilter(Params):
    source: str | None = Field(None, description="Only the events of this source.")
    detail_type: str | None = Field(None, description="Only events of this detail-type.")
    detail_type_prefix: str | None = Field(
        None, description="Only events whose detail-type starts with this."
    )


def _wanted(item: Mapping[str, Any], q: StreamFilter) -> bool:
    detail_type = str(item.get("detail_type", ""))
    return (
        (q.source is None or item.get("source") == q.source)
        and (q.detail_type is None or detail_type == q.detail_type)
        and (q.detail_type_prefix is None or detail_type.startswith(q.detail_type_prefix))
    )


@routes.get("/stream", query=StreamFilter, response=None, media_type="text/event-stream")
async def stream(call: Call[StreamFilter, NoBody]) -> StreamingResponse:
    """Server-Sent Events: each event this replica stores from now on.

    `event: event` lines carry an event's summary and its destinations; `event: dropped`
    says how many items a slow reader lost. Each replica streams its own traffic.
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
                if _wanted(item, call.query):
                    yield f"event: {kind}\nid: {item.get('id', '')}\ndata: {json.dumps(item)}\n\n"

    return StreamingResponse(
        lines(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
