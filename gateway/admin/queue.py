"""The delivery queue: how many deliveries wait per destination, and how long the oldest has.

    GET /queue      per sink (or `BUS/RULE/TARGET`): pending, in flight, waiting for a
                    retry, dead; and the age of the oldest event still to deliver

The same numbers as `/metrics`' `hookgate_queue_depth` and `hookgate_oldest_pending_age_seconds`,
read from the store when asked; every configured destination is listed, an idle one with
zeros.
"""

from __future__ import annotations

from typing import Any

from gateway.admin.api import Call, Document, NoBody, NoParams, Routes

__all__ = ["routes"]

routes = Routes("queue")


class QueueRow(Document):
    sink: str
    pending: int
    forwarding: int
    retrying: int
    dead: int
    #: Seconds since the oldest event still to deliver there was received (0: none).
    oldest_pending_seconds: float


class QueueDocument(Document):
    items: list[QueueRow]


@routes.get("/queue", response=QueueDocument)
async def queue(call: Call[NoParams, NoBody]) -> dict[str, Any]:
    """Deliveries waiting per destination, and the age of the oldest still to make."""
    store = call.store
    depth = await store.depth()
    lag = await store.oldest_pending()
    sinks = sorted(set(call.gateway.sinks) | {sink for sink, _ in depth} | set(lag))
    return {
        "items": [
            {
                "sink": sink,
                "pending": depth.get((sink, "pending"), 0),
                "forwarding": depth.get((sink, "forwarding"), 0),
                "retrying": depth.get((sink, "retry"), 0),
                "dead": depth.get((sink, "dead"), 0),
                "oldest_pending_seconds": round(lag.get(sink, 0.0), 3),
            }
            for sink in sinks
        ]
    }
