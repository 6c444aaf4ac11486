"""Dead letters: list them with filters, and redrive one, a selection, or every one a
filter selects, with a dry run that counts first.

    GET  /dead-letters?source=&sink=&cause=&since=&until=&limit=&cursor=
    POST /dead-letters/redrive  {"ids": [...]} | {"filter": {...}} | {"all": true},
                                and "dry_run": true to count without redriving

`cause` is a prefix of the last cause (`http_5`, `max_attempts`); `since`/`until` bound when
the delivery was dead-lettered. An id is a delivery id (`EVENT_ID/SINK`, as listed) or an
event id (every dead delivery of that event).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import Field, model_validator

from gateway import views
from gateway.admin.api import (
    Call,
    Document,
    NoBody,
    NoParams,
    Params,
    Routes,
    Time,
    decode_cursor,
    encode_cursor,
)
from gateway.store import DeadLetter, StoreAdmin, split_delivery_id

__all__ = ["routes"]

routes = Routes("dead letters")

#: Dead letters a filtered redrive reads at a time.
_CHUNK = 1000


class DeadLetterFilter(Params):
    source: str | None = Field(None, description="Only the events of this source.")
    sink: str | None = Field(None, description="Only deliveries to this sink (or `BUS/RULE/TARGET`).")
    cause: str | None = Field(None, description="Only those whose last cause starts with this.")
    since: Time | None = Field(None, description="Dead-lettered at or after this time.")
    until: Time | None = Field(None, description="Dead-lettered before this time.")


class DeadLetterQuery(DeadLetterFilter):
    limit: int = Field(100, ge=1, le=1000, description="At most this many per page.")
    cursor: str | None = Field(None, description="The `next_cursor` of the previous page.")


class DeadLetterView(Document):
    id: str
    event_id: str
    sink: str
    source: str
    detail_type: str
    attempts: int
    last_cause: str | None
    received_at: str
    updated_at: str


class DeadLetterPage(Document):
    items: list[DeadLetterView]
    #: Where the next page starts; null on the last page.
    next_cursor: str | None


class RedriveBody(Params):
    ids: list[str] | None = Field(
        None, min_length=1, max_length=1000, description="Delivery ids (`EVENT_ID/SINK`) or event ids."
    )
    filter: DeadLetterFilter | None = Field(None, description="Every dead letter this filter selects.")
    all: bool = Field(False, description="Every dead letter.")
    dry_run: bool = Field(False, description="Count what would be redriven, and redrive nothing.")

    @model_validator(mode="after")
    def _one_selection(self) -> RedriveBody:
        if sum((self.ids is not None, self.filter is not None, self.all)) != 1:
            raise ValueError("give exactly one of ids, filter or all")
        return self


class RedriveResult(Document):
    #: Dead deliveries the selection names.
    matched: int
    #: Dead deliveries queued again (0 in a dry run).
    redriven: int
    dry_run: bool


@routes.get("/dead-letters", query=DeadLetterQuery, response=DeadLetterPage)
async def list_dead_letters(call: Call[DeadLetterQuery, NoBody]) -> dict[str, Any]:
    """Dead-lettered deliveries, most recently failed first, with their cause."""
    q = call.query
    before = None if q.cursor is None else decode_cursor(q.cursor, float, str, str)
    rows = await call.store.list_dead(
        source=q.source,
        sink=q.sink,
        cause=q.cause,
        since=q.since,
        until=q.until,
        before=before,
        limit=q.limit + 1,
    )
    page, more = rows[: q.limit], len(rows) > q.limit
    last = page[-1] if page else None
    return {
        "items": [views.dead_letter_view(row) for row in page],
        "next_cursor": encode_cursor(last.updated_at, last.event_id, last.sink) if more and last else None,
    }


@routes.post("/dead-letters/redrive", body=RedriveBody, response=RedriveResult)
async def redrive_dead_letters(call: Call[NoParams, RedriveBody]) -> dict[str, Any]:
    """Queue dead deliveries again with a fresh retry budget (or, with `dry_run`, count them).

    Select them by `ids`, by a `filter` (the list's filters), or `all`.
    """
    body, store = call.body, call.store
    if body.all and not body.dry_run:
        count = await store.redrive()
        matched = count
    else:
        pairs = await _selected(store, body)
        matched = len(pairs)
        count = 0 if body.dry_run else await _redrive(store, pairs)
    if not body.dry_run:
        if count and call.gateway.dispatcher is not None:  # what was queued is due now
            call.gateway.dispatcher.notify()
        selection: dict[str, Any] = {"all": True} if body.all else {}
        if body.ids is not None:
            selection["ids"] = body.ids[:20]
        if body.filter is not None:
            selection["filter"] = body.filter.model_dump(exclude_none=True)
        call.audit("dead_letters.redrive", count, **selection)
    return {"matched": matched, "redriven": count, "dry_run": body.dry_run}


async def _selected(store: StoreAdmin, body: RedriveBody) -> set[tuple[str, str]]:
    """The (event id, sink) pairs of the dead deliveries `body` selects."""
    if body.ids is not None:
        found: set[tuple[str, str]] = set()
        for ref in dict.fromkeys(body.ids):
            split = split_delivery_id(ref)
            event_id, sink = split if split is not None else (ref, None)
            stored = await store.get_event(event_id)
            if stored is None:
                continue
            found.update(
                (event_id, d.sink) for d in stored[1] if d.state == "dead" and sink in (None, d.sink)
            )
        return found
    chosen = body.filter or DeadLetterFilter()
    rows = await _every_dead(store, chosen)
    return {(row.event_id, row.sink) for row in rows}


async def _every_dead(store: StoreAdmin, chosen: DeadLetterFilter) -> list[DeadLetter]:
    rows: list[DeadLetter] = []
    before: tuple[float, str, str] | None = None
    while True:
        page = await store.list_dead(
            source=chosen.source,
            sink=chosen.sink,
            cause=chosen.cause,
            since=chosen.since,
            until=chosen.until,
            before=before,
            limit=_CHUNK,
        )
        rows.extend(page)
        if len(page) < _CHUNK:
            return rows
        before = (page[-1].updated_at, page[-1].event_id, page[-1].sink)


async def _redrive(store: StoreAdmin, pairs: set[tuple[str, str]]) -> int:
    by_sink: dict[str, list[str]] = defaultdict(list)
    for event_id, sink in sorted(pairs):
        by_sink[sink].append(event_id)
    count = 0
    for sink, event_ids in by_sink.items():
        count += await store.redrive(event_ids, sink)
    return count
