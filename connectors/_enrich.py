"""Enrichment: completing a stored event with a call to the provider's API.

Some providers send a notification that names an event but leaves its data out (Stripe's
thin events; a "fetch on notify" webhook such as Shopify's or Slack's could work the
same way). A connector stays sans-I/O: `verify` and `normalize` work on what arrived and
nothing else. When the complete event takes an API call, the connector's `enricher()`
gives an `Enricher`, and the gateway runs it after the delivery is stored, as a step of
delivering it:

    delivery ─verify─normalize─▶ stored, 2xx ─▶ wants(payload)? ─▶ enrich(payload) ─▶ stored ─▶ sinks
                                                                      │
                     EnrichmentError(retry=True)  → tried again with the sink's backoff
                     EnrichmentError(retry=False) → dead-lettered with its cause

The provider is never called on the request path, so its latency or an outage never
delays the acknowledgement nor loses a delivery. The enriched payload replaces the stored
one once, so every sink and every retry sees it, and the API is called once per event.
"""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["Enricher", "EnrichmentError"]


class EnrichmentError(Exception):
    """The provider's API could not complete an event.

    `cause` is a short code for logs and dead letters (never a secret, never the payload);
    `retry` says whether a later attempt may succeed (an outage, a timeout, a rate limit)
    or not (bad credentials, a missing permission, an event the provider does not know).
    """

    def __init__(self, cause: str, *, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retry = retry
        self.retry_after = retry_after


class Enricher(abc.ABC):
    """Completes stored events of one source through its provider's API.

    `wants` is pure (it only looks at the stored payload); `enrich` does the I/O. `open`
    and `close` bracket the gateway's run (an HTTP client's connection pool, say).
    """

    async def open(self) -> None:
        """Acquire what `enrich` needs; called once before the first event."""

    async def close(self) -> None:
        """Release it; called once when the gateway stops."""

    @abc.abstractmethod
    def wants(self, payload: Any) -> bool:
        """Whether this stored payload is a notification that `enrich` should complete."""

    @abc.abstractmethod
    async def enrich(self, payload: Any) -> Any:
        """The complete payload that replaces `payload`; raises `EnrichmentError`."""
