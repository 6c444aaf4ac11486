"""The enrichment step: stored events completed through their provider's API before delivery.

A source whose connector names an `Enricher` (`Connector.enricher()`, e.g. Stripe's thin
events with an `api_key`) has its events stored as they arrived and acknowledged at
once. When the dispatcher takes a claimed batch for a sink, this step completes the
events the enricher `wants` and that were not completed yet:

    claimed ─▶ not enriched and wants(payload)? ─▶ enrich(payload) ─▶ save_enriched ─▶ the sink
                                                     │ retryable error → Retry(cause)   (the sink's backoff)
                                                     └ final error     → Permanent(cause) (dead letter)

The enriched payload replaces the stored one (`detail.payload`, or `detail` itself with
`detail_format = "payload"`) through `DeliveryQueue.save_enriched`, which keeps the first
one stored: every sink and every retry then sees the full event, and the API is called
once per event. Concurrent attempts in this process share one call; an event handed to
several sinks from memory finds the result in a small cache. Two replicas completing the
same event at the same moment may each call the API once; the first stored wins.

A local bus's rules are matched when the event is stored, so they see the notification
(its type and ids); its targets, like every sink, receive the completed event.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from connectors import Enricher, EnrichmentError
from gateway.errors import StoreError
from gateway.events import Event, dumps
from gateway.sinks import Outcome, Permanent, Retry
from gateway.store import Claimed, DeliveryQueue

__all__ = ["Enrichment", "SourceEnricher"]

log = structlog.get_logger()

#: Events completed lately, by id, for the copies of them handed to other sinks from memory.
RECENT_EVENTS = 256


@dataclass(frozen=True, slots=True)
class SourceEnricher:
    """A source's enricher, and where its payload sits in the stored entry."""

    enricher: Enricher
    detail_format: Literal["envelope", "payload"] = "envelope"


class Enrichment:
    """Completes the claimed events of the sources that have an enricher."""

    def __init__(self, queue: DeliveryQueue, sources: Mapping[str, SourceEnricher]) -> None:
        self.queue = queue
        self.sources = dict(sources)
        self._inflight: dict[str, asyncio.Future[Event]] = {}
        self._recent: collections.OrderedDict[str, Event] = collections.OrderedDict()

    async def open(self) -> None:
        for name, source in self.sources.items():
            try:
                await source.enricher.open()
            except Exception as exc:  # noqa: BLE001 - opened again on its first event
                log.error("enricher_open_failed", source=name, error=type(exc).__name__)

    async def close(self) -> None:
        for source in self.sources.values():
            with contextlib.suppress(Exception):
                await source.enricher.close()

    async def complete(self, claimed: Sequence[Claimed]) -> tuple[list[Claimed], dict[str, Outcome]]:
        """The claims ready for the sink (events completed where needed), and the outcome of
        each event that could not be completed, by event id."""
        ready: list[Claimed] = []
        failed: dict[str, Outcome] = {}
        for claim in claimed:
            try:
                event = await self._complete(claim.event)
            except EnrichmentError as exc:
                if exc.retry:
                    failed[claim.event.id] = Retry(f"enrichment: {exc.cause}", exc.retry_after)
                else:
                    failed[claim.event.id] = Permanent(f"enrichment: {exc.cause}")
                continue
            ready.append(claim if event is claim.event else dataclasses.replace(claim, event=event))
        return ready, failed

    async def _complete(self, event: Event) -> Event:
        source = self.sources.get(event.source)
        if source is None or event.enriched_at is not None:
            return event
        recent = self._recent.get(event.id)
        if recent is not None:
            return dataclasses.replace(event, entry=recent.entry, enriched_at=recent.enriched_at)
        entry = json.loads(event.entry)
        payload = _payload(entry, source.detail_format)
        if not source.enricher.wants(payload):
            return event
        running = self._inflight.get(event.id)
        if running is not None:  # another sink's attempt is calling the API for it now
            done = await asyncio.shield(running)
            return dataclasses.replace(event, entry=done.entry, enriched_at=done.enriched_at)
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._inflight[event.id] = future
        try:
            done = await self._enrich(event, source, entry, payload)
        except BaseException as exc:
            # Those waiting get the same failure (a shutdown's cancellation: a retry later).
            shared = exc if isinstance(exc, EnrichmentError) else EnrichmentError("interrupted", retry=True)
            future.set_exception(shared)
            future.exception()  # retrieved: a failure nobody waited for is not "never retrieved"
            raise
        finally:
            del self._inflight[event.id]
        future.set_result(done)
        self._recent[event.id] = done
        while len(self._recent) > RECENT_EVENTS:
            self._recent.popitem(last=False)
        return done

    async def _enrich(
        self, event: Event, source: SourceEnricher, entry: dict[str, Any], payload: Any
    ) -> Event:
        try:
            full = await source.enricher.enrich(payload)
        except EnrichmentError as exc:
            log.warning(
                "enrichment_failed", source=event.source, event_id=event.id, cause=exc.cause, retry=exc.retry
            )
            raise
        except Exception as exc:  # noqa: BLE001 - an enricher's bug is retried, not a crash
            cause = f"enricher_error: {type(exc).__name__}"
            log.error("enrichment_failed", source=event.source, event_id=event.id, cause=cause, retry=True)
            raise EnrichmentError(cause, retry=True) from None
        _set_payload(entry, source.detail_format, full)
        text = dumps(entry)
        try:
            stored = await self.queue.save_enriched(event.id, text)
        except StoreError as exc:
            log.error("enrichment_failed", source=event.source, event_id=event.id, cause="store_unavailable")
            raise EnrichmentError("store_unavailable", retry=True) from exc
        log.info("enriched", source=event.source, event_id=event.id)
        return dataclasses.replace(event, entry=stored, enriched_at=self.queue.clock())


def _payload(entry: dict[str, Any], detail_format: str) -> Any:
    detail = entry.get("detail")
    if detail_format == "payload" or not isinstance(detail, dict) or "payload" not in detail:
        return detail
    return detail["payload"]


def _set_payload(entry: dict[str, Any], detail_format: str, payload: Any) -> None:
    detail = entry.get("detail")
    if detail_format == "payload" or not isinstance(detail, dict) or "payload" not in detail:
        entry["detail"] = payload
    else:
        detail["payload"] = payload
