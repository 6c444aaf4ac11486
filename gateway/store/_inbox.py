"""The inbox role: verified events in, deduplicated, durably committed."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.events import Event
from gateway.store._base import StoreBase
from gateway.store._records import RequestRecord

__all__ = ["Inbox", "PersistResult"]


@dataclass(frozen=True, slots=True)
class PersistResult:
    event_id: str
    duplicate: bool


class Inbox(StoreBase):
    """What the HTTP edge needs: `persist`. The policy (one route per event, the dedup
    window, the lease of a leased persist) is here; the conditional write is the backend's."""

    async def persist(
        self,
        events: Sequence[Event],
        sinks: Sequence[str] = (),
        *,
        routes: Sequence[Sequence[str]] | None = None,
        leased: bool = False,
        request: RequestRecord | None = None,
    ) -> list[PersistResult]:
        """Dedup and durably commit `events`, each with a delivery record per sink: the
        same `sinks` for every event, or per event its own `routes[i]`.

        Returns only after the commit is durable. A (source, dedup key) seen within the
        retention window yields `duplicate=True` and the id stored the first time.
        With `leased`, the new deliveries are stored as already claimed by the caller
        (`forwarding`, first attempt, usual lease): the caller hands them to its sinks
        straight from memory, and if it dies they are claimed again when the lease ends.
        An inbox that queues nothing (`_lease` is None) ignores `leased`.
        `request`, the record of the request that brought the events, is stored in the
        same commit, with the stored ids as its `event_ids` (an inbox without a requests
        log ignores it).
        """
        if not events:
            return []
        if routes is None:
            every = tuple(dict.fromkeys(sinks))
            per_event = [every] * len(events)
        else:
            if len(routes) != len(events):
                raise ValueError(f"{len(routes)} routes for {len(events)} events")
            per_event = [tuple(dict.fromkeys(route)) for route in routes]
        lease = self._lease() if leased else None
        if self.cipher is not None:
            events = [self.cipher.seal_event(event) for event in events]
            request = None if request is None else self.cipher.seal_request(request)
        return await self._committing(
            self._persist(
                events, per_event, self.clock(), self.settings.dedup_retention_seconds, lease, request=request
            )
        )

    def _lease(self) -> float | None:
        """How long deliveries stored `leased` stay the caller's claim; None: this inbox
        keeps no deliveries to claim."""
        return None

    @abc.abstractmethod
    async def _persist(
        self,
        events: Sequence[Event],
        routes: Sequence[tuple[str, ...]],
        now: float,
        window: float,
        lease: float | None,
        *,
        request: RequestRecord | None = None,
    ) -> list[PersistResult]:
        """Store each new event with a delivery per sink of its route (leased for `lease`
        seconds when given); a key seen less than `window` seconds ago is a duplicate.
        `request` (if any) is stored in the same transaction, listing the stored ids."""
