"""The delivery queue role: claims (leases), settlements, and the retry schedule."""

from __future__ import annotations

import abc
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from gateway.config import DispatcherSettings
from gateway.events import Event
from gateway.store._base import StoreBase
from gateway.store._records import AttemptOutcome

__all__ = [
    "STATES",
    "UNCHARGED_BACKOFF_LEVEL",
    "Claimed",
    "DeliveryQueue",
    "RetryPolicy",
    "Settlement",
    "State",
    "Transition",
]

State = Literal["pending", "forwarding", "retry", "delivered", "dead"]
STATES: tuple[State, ...] = ("pending", "forwarding", "retry", "delivered", "dead")
#: The backoff level (as if this many attempts had failed) of retries that are not charged.
UNCHARGED_BACKOFF_LEVEL = 6


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long a sink's deliveries are retried before they are dead-lettered."""

    max_attempts: int
    max_age_seconds: float


@dataclass(frozen=True, slots=True)
class Claimed:
    event: Event
    attempts: int  # including the attempt being made now


@dataclass(frozen=True, slots=True)
class Settlement:
    """What the dispatcher learned about one claimed delivery."""

    event_id: str
    outcome: Literal["delivered", "retry", "permanent"]
    cause: str | None = None
    retry_after: float | None = None
    #: False: a retry that does not count against `max_attempts` (`max_age` still applies).
    charge: bool = True


@dataclass(frozen=True, slots=True)
class Transition:
    """Where a settled claim goes in the state machine. It applies only while the claim is
    still the one recorded (same state and attempt count): a claim that expired and was
    taken again, or an event that was requeued meanwhile, is not overwritten by a late
    answer."""

    event_id: str
    attempts: int
    state: State
    due_at: float
    cause: str | None
    #: An uncharged retry gives its attempt back, so it never counts against max_attempts.
    refund: bool = False
    #: Dead because the sink refused it for good (not for running out of budget).
    permanent: bool = False

    @property
    def outcome(self) -> AttemptOutcome:
        """What the attempt came to, as the attempts log records it."""
        if self.state == "dead":
            return "permanent" if self.permanent else "dead"
        return "delivered" if self.state == "delivered" else "retry"


class DeliveryQueue(StoreBase):
    """What the dispatcher needs: `claim`, `settle`, `release_claims`, and `save_enriched`
    for events its sources' enrichers complete. The state machine and the retry schedule
    are here; the backend claims and applies transitions."""

    #: The lease and retry policy of deliveries: `lease_seconds`, `max_attempts`,
    #: `max_age_seconds` and the backoff delays (the `[dispatcher]` settings).
    delivery_policy: DispatcherSettings
    rng: random.Random
    #: Per-sink retry policies; a sink without one follows `delivery_policy`.
    policies: dict[str, RetryPolicy]
    #: True: this process is the only user of the database, so every lease found on start
    #: is left over from its own previous run. False: replicas share it.
    single_node: ClassVar[bool] = True

    async def claim(self, sink: str, limit: int) -> list[Claimed]:
        """Lease up to `limit` due deliveries of `sink` (oldest due first)."""
        claimed = await self._claim(sink, limit, self.clock(), self.delivery_policy.lease_seconds)
        if self.cipher is None:
            return claimed
        return [Claimed(self.cipher.open_event(c.event), c.attempts) for c in claimed]

    async def settle(
        self,
        sink: str,
        claimed: Sequence[Claimed],
        results: Sequence[Settlement],
        *,
        duration: float = 0.0,
    ) -> list[Transition]:
        """Apply the state machine to what a delivery attempt reported, and record each
        attempt (it took `duration` seconds) in the attempts log, in the same commit."""
        now = self.clock()
        by_id = {c.event.id: c for c in claimed}
        transitions = []
        for result in results:
            item = by_id[result.event_id]
            transitions.append(self._transition(sink, item, result, now))
        await self._committing(self._apply(sink, transitions, now, round(duration * 1000, 3)))
        return transitions

    def policy(self, sink: str) -> RetryPolicy:
        """The retry policy of `sink`'s deliveries."""
        found = self.policies.get(sink)
        if found is not None:
            return found
        return RetryPolicy(self.delivery_policy.max_attempts, self.delivery_policy.max_age_seconds)

    def _transition(self, sink: str, item: Claimed, result: Settlement, now: float) -> Transition:
        if result.outcome == "delivered":
            return Transition(item.event.id, item.attempts, "delivered", now, None)
        if result.outcome == "permanent":
            return Transition(item.event.id, item.attempts, "dead", now, result.cause, permanent=True)
        policy = self.policy(sink)
        if result.charge and item.attempts >= policy.max_attempts:
            return Transition(item.event.id, item.attempts, "dead", now, f"max_attempts: {result.cause}")
        # An uncharged retry keeps its attempt count, so it backs off from a floor instead of
        # hammering a sink whose credentials or permissions are broken.
        backoff_level = item.attempts if result.charge else max(item.attempts, UNCHARGED_BACKOFF_LEVEL)
        delay = self.backoff(backoff_level, result.retry_after)
        if now + delay - item.event.received_at > policy.max_age_seconds:
            return Transition(item.event.id, item.attempts, "dead", now, f"max_age: {result.cause}")
        return Transition(
            item.event.id, item.attempts, "retry", now + delay, result.cause, refund=not result.charge
        )

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential backoff with full jitter, never sooner than a Retry-After hint."""
        policy = self.delivery_policy
        exponent = min(max(attempts - 1, 0), 64)  # max_delay caps it long before 2**64
        ceiling = min(policy.max_delay_seconds, policy.base_delay_seconds * 2**exponent)
        delay = self.rng.uniform(0, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, policy.max_delay_seconds))
        return delay

    async def save_enriched(self, event_id: str, entry: str) -> str:
        """Store `entry` as the event's enriched entry, once: the first enrichment stored
        wins (another worker or replica may have completed the same event meanwhile), and
        claims from then on carry it. The entry now stored (this one, or the earlier one)."""
        if self.cipher is None:
            stored = await self._save_enriched(event_id, entry, self.clock())
            return entry if stored is None else stored
        stored = await self._save_enriched(event_id, self.cipher.seal(entry, event_id), self.clock())
        return entry if stored is None else self.cipher.open(stored, event_id)

    async def release_claims(self) -> int:
        """Make this node's leases due now: on start for a single-node store (every lease is
        its own), on stop for a shared one (hands them to the other replicas at once)."""
        return await self._release_claims(self.clock())

    # -- primitives ---------------------------------------------------------------------
    @abc.abstractmethod
    async def _claim(self, sink: str, limit: int, now: float, lease: float) -> list[Claimed]: ...

    @abc.abstractmethod
    async def _apply(
        self, sink: str, transitions: Sequence[Transition], now: float, duration_ms: float
    ) -> None:
        """Apply `transitions` (each only while its claim is still the one recorded) and
        log each as an attempt made at `now` that took `duration_ms`."""

    @abc.abstractmethod
    async def _release_claims(self, now: float) -> int: ...

    @abc.abstractmethod
    async def _save_enriched(self, event_id: str, entry: str, now: float) -> str | None:
        """Set `entry` and `enriched_at` unless already set; the stored entry (None: the
        event is gone, purged)."""
