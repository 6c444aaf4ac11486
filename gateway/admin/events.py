"""The admin API's stored events and received requests: `GET /events` (filtered, paged
newest first), `GET /events/{id}` (the event, its deliveries and every attempt),
`POST /events/{id}/redeliver` (send it again) and `GET /requests` (the requests log).
The JSON shapes are `gateway.views`'."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field

from gateway import views
from gateway.admin.api import ApiError, Call, Document, NoBody, NoParams, Params, Routes
from gateway.store import (
    CursorError,
    DeliveryStatus,
    EventQuery,
    RequestOutcome,
    TextSearchUnavailableError,
    split_delivery_id,
)

__all__ = ["routes"]

routes = Routes("events")

#: The largest page a list answers.
MAX_LIMIT = 500


class EventFilter(Params):
    source: str | None = Field(None, description="the configured source's name")
    detail_type: str | None = Field(None, description="exactly this detail-type")
    detail_type_prefix: str | None = Field(None, min_length=1, description="detail-types starting with this")
    provider_event_id: str | None = Field(None, description="the provider's event id (Stripe's `evt_…`)")
    delivery_id: str | None = Field(
        None,
        description="hookgate's delivery id (`EVENT_ID/SINK`) or the provider's (X-GitHub-Delivery)",
    )
    dedup_key: str | None = Field(None, description="the key the event was deduplicated on")
    state: DeliveryStatus | None = Field(None, description="events with a delivery in this state")
    since: AwareDatetime | None = Field(None, description="received at or after (RFC 3339)")
    until: AwareDatetime | None = Field(None, description="received before (RFC 3339)")
    q: str | None = Field(
        None, min_length=1, max_length=200, description="case-insensitive text in the stored payload"
    )
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, description="the previous page's `next_cursor`")


class EventPage(Document):
    items: list[dict[str, Any]]
    next_cursor: str | None


class EventDocument(Document):
    id: str
    source: str
    detail_type: str
    dedup_key: str
    provider_event_id: str | None
    received_at: str
    deliveries: list[dict[str, Any]]
    archived_until: str | None
    event: dict[str, Any]


class RedeliverBody(Params):
    destination: str | None = Field(
        None,
        min_length=1,
        description="only this destination (a sink, or `BUS/RULE/TARGET`); default: every one",
    )


class RedeliverResult(Document):
    event_id: str
    redelivered: list[str]


class RequestFilter(Params):
    outcome: RequestOutcome | None = Field(None, description="accepted (2xx) or rejected")
    source: str | None = Field(None, description="the source named in the path")
    since: AwareDatetime | None = Field(None, description="received at or after (RFC 3339)")
    until: AwareDatetime | None = Field(None, description="received before (RFC 3339)")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, description="the previous page's `next_cursor`")


class RequestPage(Document):
    items: list[dict[str, Any]]
    next_cursor: str | None


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def event_query(f: EventFilter) -> EventQuery:
    """The store query of the API's filters."""
    id_prefix = sink = provider_delivery_id = None
    if f.delivery_id is not None:
        split = split_delivery_id(f.delivery_id)
        if split is not None:  # hookgate's: that event's delivery to that sink
            id_prefix, sink = split
        else:
            provider_delivery_id = f.delivery_id
    return EventQuery(
        source=f.source,
        since=_seconds(f.since),
        until=_seconds(f.until),
        detail_type=f.detail_type,
        dedup_key=f.dedup_key,
        id_prefix=id_prefix,
        sink=sink,
        detail_type_prefix=f.detail_type_prefix,
        provider_event_id=f.provider_event_id,
        provider_delivery_id=provider_delivery_id,
        status=f.state,
        text=f.q,
    )


@routes.get("/events", query=EventFilter, response=EventPage)
async def list_events(call: Call[EventFilter, NoBody]) -> dict[str, Any]:
    """Stored events, newest first, each with its deliveries' states.

    Every filter given narrows the list. Page with `next_cursor`: events stored meanwhile
    never shift a page, so each event is listed once. `q` reads the stored payloads
    (newest first, until a page is full): combine it with other filters on a large store."""
    query = call.query
    try:
        page = await call.store.search_events(event_query(query), limit=query.limit, cursor=query.cursor)
    except CursorError:
        raise ApiError(400, "invalid_query", "cursor: not a cursor this API handed out") from None
    except TextSearchUnavailableError as exc:
        raise ApiError(400, "invalid_query", f"q: {exc}") from None
    return views.page_document((views.event_summary_view(s) for s in page.items), page.next_cursor)


@routes.get("/events/{id}", response=EventDocument)
async def show_event(call: Call[NoParams, NoBody]) -> dict[str, Any]:
    """One stored event: its entry (with the gateway's metadata), and each delivery (a
    sink, or a router's `BUS/RULE/TARGET`) with its state and every attempt."""
    event_id = call.params["id"]
    store = call.store
    stored = await store.get_event(event_id)
    if stored is None:
        raise ApiError(404, "not_found", "no such event")
    return views.event_view(*stored, await store.attempts(event_id))


@routes.post("/events/{id}/redeliver", body=RedeliverBody, response=RedeliverResult)
async def redeliver_event(call: Call[NoParams, RedeliverBody]) -> dict[str, Any]:
    """Send a stored event again, whatever its state (delivered too), to every destination
    or to `destination` only.

    Each delivery is queued again with a fresh retry budget; its earlier attempts stay in
    its attempt log. The answer lists the destinations queued."""
    event_id, destination = call.params["id"], call.body.destination
    redelivered = await call.store.redeliver(event_id, None if destination is None else [destination])
    if not redelivered:
        if destination is not None and await call.store.get_event(event_id) is not None:
            raise ApiError(404, "not_found", "the event has no such destination")
        raise ApiError(404, "not_found", "no such event")
    if call.gateway.dispatcher is not None:  # what was queued is due now
        call.gateway.dispatcher.notify()
    details = {"event_id": event_id} | ({} if destination is None else {"destination": destination})
    call.audit("events.redeliver", len(redelivered), **details)
    return {"event_id": event_id, "redelivered": redelivered}


@routes.get("/requests", query=RequestFilter, response=RequestPage)
async def list_requests(call: Call[RequestFilter, NoBody]) -> dict[str, Any]:
    """Requests received on the webhook path, accepted or rejected, newest first.

    Secret and signature headers are stored redacted. The log is bounded: `[admin]
    requests_retention_hours` and `requests_max_rows` (the oldest go first)."""
    query = call.query
    try:
        page = await call.store.list_requests(
            outcome=query.outcome,
            source=query.source,
            since=_seconds(query.since),
            until=_seconds(query.until),
            limit=query.limit,
            cursor=query.cursor,
        )
    except CursorError:
        raise ApiError(400, "invalid_query", "cursor: not a cursor this API handed out") from None
    return views.page_document((views.request_view(r) for r in page.items), page.next_cursor)
