"""The API's Prometheus metrics: requests by operation and outcome, `PutEvents` entries by outcome.

    hookgate_eventbridge_api_requests_total{operation, outcome}  `success` or the error code
    hookgate_eventbridge_api_entries_total{outcome}              `accepted` or the entry's `ErrorCode`

Labels come from fixed sets, never from what a caller sent: an `X-Amz-Target` naming no
operation of the API counts as `operation="unknown"`.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

__all__ = ["ApiMetrics", "operation_label"]

_CACHE: weakref.WeakKeyDictionary[CollectorRegistry, ApiMetrics] = weakref.WeakKeyDictionary()


def operation_label(target: str, prefix: str, operations: Iterable[str]) -> str:
    """The `operation` label of a request whose `X-Amz-Target` is `target`."""
    operation = target.removeprefix(prefix) if target.startswith(prefix) else ""
    return operation if operation in operations else "unknown"


@dataclass(frozen=True, slots=True)
class ApiMetrics:
    requests: Counter
    entries: Counter

    @classmethod
    def of(cls, registry: CollectorRegistry) -> ApiMetrics:
        """The metrics in `registry`, created once for every endpoint of a gateway."""
        found = _CACHE.get(registry)
        if found is None:
            found = _CACHE[registry] = cls(
                requests=Counter(
                    "hookgate_eventbridge_api_requests",
                    "EventBridge API requests to the local buses, by operation and outcome "
                    "(success, or the error code answered)",
                    ["operation", "outcome"],
                    registry=registry,
                ),
                entries=Counter(
                    "hookgate_eventbridge_api_entries",
                    "PutEvents entries, by outcome (accepted, or the entry's ErrorCode)",
                    ["outcome"],
                    registry=registry,
                ),
            )
        return found
