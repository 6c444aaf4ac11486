"""The dispatcher: takes due deliveries, hands them to sinks, settles the outcomes.

At least once: a delivery is settled only after the sink reported on it; a worker that
dies mid-batch leaves leases that expire (or are released on start) and are claimed
again. One loop per sink; it sleeps until notified of new events or until the poll
interval passes, so retries scheduled for later are picked up in time.

Hand-off: events just accepted by this process are stored already leased to it
(`Inbox.persist(leased=True)`) and passed to the loop in memory, so the common path
needs no claim query. The in-memory queue is bounded; past the bound, events are stored
as pending and claimed from the store like retries. The store is still polled at least
every poll interval, so retries are never starved by a steady stream of new events; a
claim takes the deliveries due first, first attempts and retries alike, so a retry waits
only behind deliveries that were due before it.

Each sink has a circuit breaker (`gateway.circuit`): while a destination is down, its
loop attempts nothing but one probe now and then (with nothing else in flight), so queued
events keep their attempts for when it is back. Events accepted meanwhile are stored
pending, not handed off.

Concurrency: a sink with `in_flight` set (an `http` sink or router target: its
`concurrency`) gets new batches while earlier ones are still in delivery, up to that
many events at once; any other sink gets one batch at a time. A slow sink never holds up
another (each has its own loop), nor the HTTP edge: once a sink's oldest hand-off has
waited a poll interval, it is behind, and new events wait for it in the store, unleased,
where they cost no attempt and no lease can run out. A hand-off that waited half a lease
is left to the store too (claimed again once its lease ends), so an event is never sent
from memory after its lease could have ended: no event is delivered twice for waiting.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Mapping, Sequence

import structlog

from gateway.circuit import CircuitBreaker, cause_code
from gateway.config import DispatcherSettings
from gateway.enrichment import Enrichment
from gateway.events import Event
from gateway.observability import Metrics
from gateway.sinks import Delivered, Outcome, Permanent, Retry, Sink
from gateway.store import Claimed, DeliveryQueue, Settlement

__all__ = ["Dispatcher"]

log = structlog.get_logger()

#: The in-memory hand-off queue of a sink holds at most this many batches.
HANDOFF_BATCHES = 10


class Dispatcher:
    def __init__(
        self,
        queue: DeliveryQueue,
        sinks: Mapping[str, Sink],
        settings: DispatcherSettings,
        metrics: Metrics,
        enrichment: Enrichment | None = None,
    ) -> None:
        self.queue = queue
        #: Completes events through their provider's API before any sink sees them.
        self.enrichment = enrichment
        self.sinks = dict(sinks)
        self.settings = settings
        self.metrics = metrics
        self._wake = {name: asyncio.Event() for name in self.sinks}
        #: Events handed off in memory, with when (store clock), per sink.
        self._handoff: dict[str, collections.deque[tuple[Event, float]]] = {
            name: collections.deque() for name in self.sinks
        }
        self._last_claim = dict.fromkeys(self.sinks, 0.0)
        self._in_flight = dict.fromkeys(self.sinks, 0)
        self._tasks: list[asyncio.Task[None]] = []
        self._deliveries: set[asyncio.Task[None]] = set()
        self.breakers = {
            name: CircuitBreaker(
                settings.breaker_failures, settings.breaker_open_seconds, settings.breaker_max_open_seconds
            )
            for name in self.sinks
        }
        for name, sink in self.sinks.items():
            sink.instrument(metrics.registry)
            metrics.circuit_state.labels(name).set(0)

    def has_room(self, sinks: Sequence[str], count: int) -> bool:
        """Whether `count` new events for `sinks` can be handed off in memory now."""
        if not self._tasks or not sinks:
            return False
        limit = HANDOFF_BATCHES * self.settings.batch_size
        behind = self.queue.clock() - self.settings.poll_interval_seconds
        for name in sinks:
            queue = self._handoff.get(name)
            if queue is None or len(queue) + count > limit or (queue and queue[0][1] < behind):
                return False
            if self.breakers[name].state != "closed":  # a paused sink's events wait in the store
                return False
        return True

    def hand_off(self, events: Sequence[Event], sinks: Sequence[str]) -> None:
        """Deliver `events`, stored leased to this process (`has_room` said yes), from memory."""
        now = self.queue.clock()  # the store's clock, which the leases follow
        for name in sinks:
            self._handoff[name].extend((event, now) for event in events)
            self._wake[name].set()

    def notify(self, sinks: Sequence[str] | None = None) -> None:
        """New work is due for `sinks` (all when None): wake their loops now."""
        for name in sinks if sinks is not None else self._wake:
            event = self._wake.get(name)
            if event is not None:
                event.set()

    async def start(self) -> None:
        if self.enrichment is not None:
            await self.enrichment.open()
        for name, sink in self.sinks.items():
            try:
                await sink.open()
            except Exception as exc:  # noqa: BLE001 - a sink down at start is retried, not fatal
                log.error("sink_open_failed", sink=name, error=f"{type(exc).__name__}: {exc}")
            self._tasks.append(asyncio.create_task(self._loop(name, sink), name=f"dispatch-{name}"))

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._deliveries]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._deliveries.clear()
        for sink in self.sinks.values():
            await sink.close()
        if self.enrichment is not None:
            await self.enrichment.close()

    async def run_once(self, name: str) -> int:
        """Deliver one batch for sink `name`; the number of events handled."""
        sink = self.sinks[name]
        allowed = self._allowed(name)
        if allowed == 0:  # paused: the destination is down
            return 0
        limit = min(sink.max_batch, self.settings.batch_size, allowed or self.settings.batch_size)
        claimed = await self._take(name, limit)
        if claimed:
            await self._deliver(name, sink, claimed)
        return len(claimed)

    async def _take(self, name: str, limit: int) -> list[Claimed]:
        """Up to `limit` deliveries of sink `name`: claimed from the store when it is due a
        look (or nothing waits in memory), else handed off in memory."""
        queue = self._handoff[name]
        now = time.monotonic()
        if not queue or now - self._last_claim[name] >= self.settings.poll_interval_seconds:
            self._last_claim[name] = now
            claimed = await self.queue.claim(name, limit)
            if claimed:
                return claimed
        taken: list[Claimed] = []
        expired = 0
        oldest = self.queue.clock() - self.queue.delivery_policy.lease_seconds / 2
        while queue and len(taken) < limit:
            event, handed_at = queue.popleft()
            if handed_at < oldest:  # its lease may end before the attempt does
                expired += 1
            else:
                taken.append(Claimed(event, 1))
        if expired:
            log.warning(
                "handoff_expired", sink=name, events=expired, hint="claimed again when their leases end"
            )
        return taken

    async def drain(self, name: str | None = None) -> int:
        """Deliver until nothing is due (tests, `hookgate replay --wait`)."""
        total = 0
        for sink_name in [name] if name else list(self.sinks):
            while n := await self.run_once(sink_name):
                total += n
        return total

    async def _loop(self, name: str, sink: Sink) -> None:
        wake = self._wake[name]
        limit = min(sink.max_batch, self.settings.batch_size)
        while True:
            wake.clear()  # before looking: a hand-off or a finished batch meanwhile sets it
            # Without `in_flight`, one batch at a time.
            capacity = limit if sink.in_flight is None else sink.in_flight
            busy = self._in_flight[name]
            room = min(limit, capacity - busy) if sink.in_flight is not None or not busy else 0
            allowed = self._allowed(name)
            if allowed is not None:  # the breaker: paused (0), or one probe when nothing is in flight
                room = min(room, allowed) if not busy else 0
            claimed: list[Claimed] = []
            if room > 0:
                try:
                    claimed = await self._take(name, room)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the loop must survive a store hiccup
                    log.error("dispatch_failed", sink=name, error=repr(exc))
            if claimed:
                self._start(name, sink, claimed)
                continue
            # (not `wait_for`: on Python 3.11 it can swallow a cancellation that arrives as
            # the wait ends, and `stop` would wait for this loop forever)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_interval_seconds):
                    await wake.wait()

    def _start(self, name: str, sink: Sink, claimed: list[Claimed]) -> None:
        """Deliver a claimed batch in a task of its own; its end makes room in the loop."""
        self._in_flight[name] += len(claimed)

        async def deliver() -> None:
            try:
                await self._deliver(name, sink, claimed)
            except Exception as exc:  # noqa: BLE001 - a settlement lost is claimed again later
                log.error("dispatch_failed", sink=name, error=repr(exc))
            finally:
                self._in_flight[name] -= len(claimed)
                self._wake[name].set()

        task = asyncio.create_task(deliver(), name=f"deliver-{name}")
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, name: str, sink: Sink, claimed: list[Claimed]) -> None:
        started = time.perf_counter()
        events = [c.event for c in claimed]
        ready: list[Claimed] = claimed
        failed: dict[str, Outcome] = {}
        if self.enrichment is not None:  # events a source's enricher completes first
            ready, failed = await self.enrichment.complete(claimed)
        reported = await self._send(name, sink, [c.event for c in ready]) if ready else ()
        self._record(name, reported)
        sent = iter(reported)
        outcomes = [failed[c.event.id] if c.event.id in failed else next(sent) for c in claimed]
        elapsed = time.perf_counter() - started
        self.metrics.delivery_latency.labels(name).observe(elapsed)
        self.metrics.batch_size.labels(name).observe(len(events))
        results = [_settlement(c.event.id, o) for c, o in zip(claimed, outcomes, strict=True)]
        transitions = await self.queue.settle(name, claimed, results, duration=elapsed)
        counts = {"delivered": 0, "retry": 0, "dead": 0}
        retry_causes: dict[str, None] = {}
        for t in transitions:
            if t.state == "delivered":
                counts["delivered"] += 1
            elif t.state == "dead":
                counts["dead"] += 1
                log.warning("dead_lettered", sink=name, event_id=t.event_id, cause=t.cause)
            else:
                counts["retry"] += 1
                retry_causes[t.cause or "unknown"] = None
                self.metrics.retried.labels(name, cause_code(t.cause)).inc()
        self.metrics.delivered.labels(name).inc(counts["delivered"])
        self.metrics.dead.labels(name).inc(counts["dead"])
        # Which events, and why some will be tried again (the distinct causes, in order).
        extra = {"retry_cause": "; ".join(retry_causes)} if retry_causes else {}
        log.info(
            "delivery_attempt",
            sink=name,
            batch=len(events),
            latency_ms=round(elapsed * 1000, 2),
            event_ids=[event.id for event in events],
            **counts,
            **extra,
        )

    def _allowed(self, name: str) -> int | None:
        """How many deliveries sink `name`'s breaker lets through now (None: any)."""
        breaker = self.breakers[name]
        was = breaker.state
        allowed = breaker.allowed(self.queue.clock())
        if breaker.state != was:
            self.metrics.circuit_state.labels(name).set(_CIRCUIT_VALUES[breaker.state])
        return allowed

    def _record(self, name: str, outcomes: Sequence[Outcome]) -> None:
        """Feed the sink's own outcomes (not enrichment's) to its breaker; log a change."""
        breaker = self.breakers[name]
        now = self.queue.clock()
        change = breaker.record(outcomes, now)
        self.metrics.circuit_state.labels(name).set(_CIRCUIT_VALUES[breaker.state])
        if change == "opened":
            # Leased events handed off in memory wait in the store instead (their lease ends).
            self._handoff[name].clear()
            log.warning(
                "circuit_opened",
                sink=name,
                failures=breaker.failures,
                cause=breaker.cause,
                pause_seconds=breaker.pause,
            )
        elif change == "closed":
            log.info("circuit_closed", sink=name, open_seconds=round(now - breaker.opened_at, 3))

    @staticmethod
    async def _send(name: str, sink: Sink, events: list[Event]) -> Sequence[Outcome]:
        """The sink's outcome of each event (a sink that fails: retry them all)."""
        try:
            outcomes: Sequence[Outcome] = await sink.deliver(events)
            if len(outcomes) != len(events):
                raise RuntimeError(f"sink returned {len(outcomes)} outcomes for {len(events)} events")
        except Exception as exc:  # noqa: BLE001 - a failing sink means: retry the batch
            cause = f"sink_error: {type(exc).__name__}: {exc}"[:500]
            log.warning("sink_failed", sink=name, batch=len(events), cause=cause)
            outcomes = [Retry(cause)] * len(events)
        return outcomes


def _settlement(event_id: str, outcome: Outcome) -> Settlement:
    if isinstance(outcome, Delivered):
        return Settlement(event_id, "delivered")
    if isinstance(outcome, Permanent):
        return Settlement(event_id, "permanent", outcome.cause)
    return Settlement(event_id, "retry", outcome.cause, outcome.retry_after, outcome.charge)


#: `hookgate_sink_circuit_state`'s value of each breaker state.
_CIRCUIT_VALUES = {"closed": 0, "open": 1, "half_open": 2}
