"""Fakes shared by the pipeline tests: a clock the tests move by hand, and stored events."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from gateway.events import Event, isoformat, new_event_id

#: The test clock: every unit test's "now" (the fake clock starts here), 2023-11-14T22:13:20Z.
NOW = 1_700_000_000

_keys = itertools.count(1)


@dataclass
class FakeClock:
    """A mutable time, read through `__call__` like `time.time`. Only tests move it."""

    now: float = float(NOW)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def make_event(
    *,
    at: float,
    source: str = "stripe",
    key: str | None = None,
    detail_type: str = "invoice.paid",
) -> Event:
    """A stored event as the HTTP edge would build it, received at `at`."""
    event_id = new_event_id(at)
    dedup_key = key if key is not None else f"evt_{next(_keys):06d}"
    entry = {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": f"hookgate.{source}",
        "time": isoformat(at),
        "resources": [],
        "detail": {"metadata": {"event_id": event_id, "dedup_key": dedup_key}, "payload": {}},
    }
    return Event(
        id=event_id,
        source=source,
        dedup_key=dedup_key,
        detail_type=detail_type,
        received_at=at,
        entry=json.dumps(entry),
    )
