"""A destination's circuit breaker: when its deliveries keep failing the same way, that is
the destination's outage, not each event's failure.

    closed ──N attempts in a row fail alike──▶ open ──the pause ends──▶ half-open
       ▲                                         ▲                         │ one delivery
       └────────────── the probe succeeds ───────┼─────────────────────────┤
                                                 └── the probe fails: the ─┘
                                                     pause doubles

Closed, every due delivery is attempted. Open, none is: the events wait in the store
without spending attempts (their age still counts against `max_age_seconds`). Half-open,
one delivery probes the destination. An attempt "fails alike" when every outcome the sink
reported is a retry with the same cause code (`http_503`, `io_error`, …); a delivery, a
permanent refusal or another cause starts the count again. Pure state over the times it
is given: the dispatcher owns one per sink (a router's targets are sinks too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from gateway.sinks import Outcome, Retry

__all__ = ["CircuitBreaker", "CircuitState", "cause_code"]

CircuitState = Literal["closed", "open", "half_open"]


def cause_code(cause: str | None) -> str:
    """The code of a cause: what comes before its first `:` (`http_503: …` → `http_503`)."""
    return (cause or "unknown").split(":", 1)[0][:64]


class CircuitBreaker:
    """One destination's breaker. `failures` alike attempts open it (0: never) for
    `open_seconds`, doubled after each failed probe up to `max_open_seconds`."""

    def __init__(self, failures: int, open_seconds: float, max_open_seconds: float) -> None:
        self.threshold = failures
        self.open_seconds = open_seconds
        self.max_open_seconds = max(max_open_seconds, open_seconds)
        self.state: CircuitState = "closed"
        #: Attempts in a row that failed with `cause`.
        self.failures = 0
        self.cause: str | None = None
        #: While open: the current pause, and when it ends.
        self.pause = 0.0
        self.until = 0.0
        #: When it opened (the outage's start, for the log line when it closes).
        self.opened_at = 0.0

    def allowed(self, now: float) -> int | None:
        """How many deliveries may be attempted now: None (closed: any), 1 (a probe), 0."""
        if self.state == "closed":
            return None
        if self.state == "open" and now >= self.until:
            self.state = "half_open"
        return 1 if self.state == "half_open" else 0

    def record(self, outcomes: Sequence[Outcome], now: float) -> Literal["opened", "closed"] | None:
        """Take an attempt's outcomes into account; whether that opened or closed the breaker."""
        if not outcomes:
            return None
        codes = {cause_code(o.cause) if isinstance(o, Retry) else None for o in outcomes}
        code = codes.pop() if len(codes) == 1 else None
        if self.state != "closed":  # the probe
            if code is None:
                self.state, self.failures, self.cause = "closed", 0, None
                return "closed"
            self._open(now, min(self.max_open_seconds, self.pause * 2))
            return None
        if code is None:
            self.failures, self.cause = 0, None
            return None
        self.failures = self.failures + 1 if code == self.cause else 1
        self.cause = code
        if self.threshold and self.failures >= self.threshold:
            self.opened_at = now
            self._open(now, self.open_seconds)
            return "opened"
        return None

    def _open(self, now: float, pause: float) -> None:
        self.state, self.pause, self.until = "open", pause, now + pause
