"""A target in this process: another local bus (`bus`), as EventBridge's bus-to-bus targets.

The rule's input (the event itself unless the target sets `input`, `input_path` or an
`input_transformer`) must be an event: a JSON object with a string `source`, a string
`detail-type` and an object `detail`. It arrives on the other bus as a new event: a new id
(the stored event's), `version` "0", its `time`, `account`, `region` and `resources` kept,
matched by that bus's rules and delivered to their targets like any event.

Loop protection: a stored event remembers the buses it was put on by `bus` targets
(its store source is `bus:A,B`, the buses before the one it is on). An event is not put
on a bus it has already been on (`loop`), nor when that would make more than `max_hops`
bus-to-bus hops (`too_many_hops`; default 1, as on EventBridge, which does not route an
event received from a bus to a third bus); both are final: the delivery is dead-lettered
with that cause, so a looping configuration shows in `hookgate dlq list`.

The delivery is idempotent: the new event's dedup key is the original event's id and this
target (and a replay's name), so a delivery tried again after a crash finds the event it
stored the first time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

import orjson
import structlog
from pydantic import Field

from gateway.errors import StoreError
from gateway.events import Event, new_event_id
from gateway.router.targets import Delivery, Target, TargetOptions
from gateway.sinks import Delivered, Outcome, Permanent, Retry
from gateway.store import PersistResult

__all__ = ["BUS_SOURCE_PREFIX", "BusOptions", "BusTarget", "Publish", "buses_before"]

log = structlog.get_logger()

#: The store source of an event a `bus` target put: `bus:` and the buses it was on before.
BUS_SOURCE_PREFIX = "bus:"
#: Persists events on a bus (routed by its rules) and hands them to the dispatcher.
Publish = Callable[[str, Sequence[Event]], Awaitable[list[PersistResult]]]


def buses_before(event: Event) -> list[str]:
    """The buses a `bus` target put `event` on before the one it is on now."""
    if not event.source.startswith(BUS_SOURCE_PREFIX):
        return []
    return [b for b in event.source[len(BUS_SOURCE_PREFIX) :].split(",") if b]


class BusOptions(TargetOptions):
    event_bus: str = Field(
        pattern=r"^[.\-_A-Za-z0-9]{1,64}$",
        description='the local bus (a `type = "router"` sink) to put events on',
    )
    max_hops: int = Field(1, ge=1, le=10, description="bus-to-bus hops an event may make at most")


class BusTarget(Target):
    """Puts each delivery's input on another local bus; see the module docstring."""

    kind = "bus"
    summary = "puts the event (or the rule's input, an event) on another local bus"
    Options: ClassVar[type[TargetOptions]] = BusOptions
    options: BusOptions
    max_batch = 100

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        #: Set by the composition root once the gateway is built.
        self.publish: Publish | None = None
        #: The bus whose rule this target belongs to (`bus/rule/target`).
        self.bus = name.split("/", 1)[0]

    async def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        ready: list[tuple[int, Event]] = []
        now = time.time()
        for i, delivery in enumerate(deliveries):
            found = self._event(delivery, now)
            if isinstance(found, Permanent):
                outcomes[i] = found
            else:
                ready.append((i, found))
        if ready:
            for i, outcome in zip((i for i, _ in ready), await self._put([e for _, e in ready]), strict=True):
                outcomes[i] = outcome
        return [o if o is not None else Retry("target_error: no outcome") for o in outcomes]

    async def _put(self, events: list[Event]) -> list[Outcome]:
        if self.publish is None:
            return [Retry("bus_not_connected: the gateway has not started", charge=False)] * len(events)
        try:
            await self.publish(self.options.event_bus, events)
        except StoreError as exc:
            log.warning("bus_target_store_failed", target=self.name, error=str(exc))
            return [Retry(f"store_unavailable: {exc}"[:300])] * len(events)
        return [Delivered()] * len(events)

    def _event(self, delivery: Delivery, now: float) -> Event | Permanent:
        """The new event for the other bus, or why there is none."""
        target = self.options.event_bus
        chain = [*buses_before(delivery.event), self.bus]
        if target in chain:
            return Permanent(f"loop: the event was already on bus {target} ({' -> '.join(chain)})")
        if len(chain) > self.options.max_hops:
            return Permanent(
                f"too_many_hops: {' -> '.join([*chain, target])} is more than {self.options.max_hops} hop(s)"
            )
        body: Any = delivery.value()
        if not (
            isinstance(body, dict)
            and isinstance(body.get("source"), str)
            and isinstance(body.get("detail-type"), str)
            and body["detail-type"]
            and isinstance(body.get("detail"), dict)
        ):
            return Permanent(
                "input_error: a bus target puts an event: an object with source, detail-type, detail"
            )
        event_id = new_event_id(now)
        body.pop("replay-name", None)
        entry = {"version": "0", **body, "id": event_id}
        entry.setdefault("resources", [])
        original = delivery.event
        dedup_key = f"{original.id}/{self.name}"
        if original.replay_name is not None:
            dedup_key += f"/{original.replay_name}"
        try:
            text = orjson.dumps(entry).decode()
        except TypeError:  # an integer beyond 64 bits
            return Permanent("input_error: the event has an integer outside the int64 range")
        return Event(
            id=event_id,
            source=BUS_SOURCE_PREFIX + ",".join(chain),
            dedup_key=dedup_key,
            detail_type=body["detail-type"],
            received_at=now,
            entry=text,
        )
