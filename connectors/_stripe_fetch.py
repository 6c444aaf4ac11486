"""Fetching the full event of a Stripe thin event, through the `stripe` SDK.

A thin event (`"object": "v2.core.event"`) names an event; its data is read with
`GET /v2/core/events/{id}` (the SDK's `v2.core.events.retrieve`, as its
`EventNotification.fetch_event` does), in the account the notification's `context`
names. The SDK is told not to retry by itself (`max_network_retries=0`): the gateway's
delivery step retries, with its backoff, and dead-letters what cannot succeed.

    connection error, timeout, 409, 429, 5xx   → EnrichmentError(retry=True)
    401, 403, 404, any other 4xx               → EnrichmentError(retry=False)

Causes name the status and Stripe's error code, never the API key nor Stripe's message
(a 401's message quotes part of the key).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import stripe

from connectors._enrich import Enricher, EnrichmentError
from connectors.stripe import THIN_EVENT_OBJECT

if TYPE_CHECKING:
    from connectors.stripe import StripeOptions

__all__ = ["StripeEventFetcher"]

#: Statuses worth another attempt later; any other 4xx is final.
_RETRYABLE = frozenset({408, 409, 425, 429})
_FINAL_CAUSES = {401: "stripe_unauthorized", 403: "stripe_forbidden", 404: "stripe_event_not_found"}


class StripeEventFetcher(Enricher):
    """Completes a thin event with the event `GET /v2/core/events/{id}` returns."""

    def __init__(self, options: StripeOptions) -> None:
        if options.api_key is None:
            raise ValueError("StripeEventFetcher needs an api_key")
        self.options = options
        self._http: stripe.HTTPXClient | None = None
        self._client: stripe.StripeClient | None = None

    async def open(self) -> None:
        options = self.options
        assert options.api_key is not None  # checked when built
        self._http = stripe.HTTPXClient(timeout=options.api_timeout_seconds)
        self._client = stripe.StripeClient(
            options.api_key.get_secret_value(),
            stripe_version=options.stripe_version,
            base_addresses={"api": options.api_base} if options.api_base else None,
            max_network_retries=0,
            http_client=self._http,
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close_async()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped
        self._http = self._client = None

    def wants(self, payload: Any) -> bool:
        return isinstance(payload, dict) and payload.get("object") == THIN_EVENT_OBJECT

    async def enrich(self, payload: Any) -> Any:
        if self._client is None:
            await self.open()
        client = self._client
        assert client is not None
        event_id, context = payload.get("id"), payload.get("context")
        if not isinstance(event_id, str) or not event_id or not isinstance(context, str | None):
            raise EnrichmentError("stripe_bad_notification", retry=False)
        # What the SDK's `EventNotification.fetch_event_async()` sends, through the events
        # service (the SDK's async raw request puts its usage telemetry in the query).
        options: stripe.RequestOptions = {"headers": {"Stripe-Request-Trigger": f"event={event_id}"}}
        if context:
            options["stripe_context"] = context
        try:
            event = await client.v2.core.events.retrieve_async(event_id, options=options)
        except stripe.StripeError as exc:
            raise _classify(exc) from None
        response = event.last_response
        full = response.data if response is not None else event.to_dict(for_json=True)
        if not isinstance(full, dict) or full.get("id") != payload.get("id"):
            raise EnrichmentError("stripe_unexpected_response", retry=True)
        return full


def _classify(exc: stripe.StripeError) -> EnrichmentError:
    status = exc.http_status
    code = f" {exc.code}" if isinstance(exc.code, str) and exc.code.isidentifier() else ""
    if status is None:  # no answer: a connection error or a timeout
        return EnrichmentError(f"stripe_unreachable: {type(exc).__name__}", retry=True)
    if status >= 500 or status in _RETRYABLE:
        return EnrichmentError(f"stripe_api_error: {status}{code}", retry=True, retry_after=_retry_after(exc))
    return EnrichmentError(f"{_FINAL_CAUSES.get(status, 'stripe_rejected')}: {status}{code}", retry=False)


def _retry_after(exc: stripe.StripeError) -> float | None:
    value = (exc.headers or {}).get("retry-after") or (exc.headers or {}).get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
