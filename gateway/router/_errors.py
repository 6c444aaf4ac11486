"""The router's one error: an event pattern EventBridge would refuse."""

from __future__ import annotations

from gateway.errors import HookgateError

__all__ = ["InvalidEventPatternError"]


class InvalidEventPatternError(HookgateError, ValueError):
    """An invalid event pattern. `reason` says what is wrong, `location` where (`$.detail.state[0]`)."""

    def __init__(self, reason: str, location: str = "$") -> None:
        super().__init__(f"Event pattern is not valid. Reason: {reason} (at {location})")
        self.reason = reason
        self.location = location
