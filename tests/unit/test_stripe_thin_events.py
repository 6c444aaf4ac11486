"""Stripe thin events: verified and normalized like snapshot events (the official SDK as the
oracle, both ways), and fetched in full through the SDK from a local stub of the API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from connectors import EnrichmentError, VerificationError, WebhookRequest
from connectors._stripe_fetch import StripeEventFetcher
from connectors.stripe import StripeConnector
from gateway.config import parse_settings
from tests.helpers.stripe_api import StripeApi, serve_stripe_api

from ._support import fixture

pytestmark = pytest.mark.anyio

SECRET = "whsec_test_thin_7Hq2Lm9Rz4Xv1Kp8Wn3Ys6Ad"
OLD_SECRET = "whsec_test_thin_old_2Bf5Jc8Nq1Tz4Mv7Gx0Ue"
API_KEY = "sk_test_51ThinEventsKeyThatMustNeverBeLogged0123"
THIN = fixture("stripe", "v1.billing.meter.error_report_triggered.thin.json")
FULL: dict[str, Any] = json.loads(fixture("stripe", "v1.billing.meter.error_report_triggered.full.json"))
EVENT_ID = FULL["id"]


def connector(**options: Any) -> StripeConnector:
    return StripeConnector.from_config({"secrets": [SECRET], **options})


def signed(body: bytes, *secrets: str, timestamp: int | None = None) -> WebhookRequest:
    """Signed by the SDK, one `v1` per secret as Stripe does while a secret is rolled."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = [
        stripe.WebhookSignature.generate_signature_header(body.decode(), s, timestamp=timestamp)
        for s in secrets or (SECRET,)
    ]
    header = headers[0] + "".join("," + h.split(",", 1)[1] for h in headers[1:])
    return WebhookRequest.build(body, {"Stripe-Signature": header})


# -- verify and normalize ------------------------------------------------------------------


def test_a_thin_event_signed_by_the_sdk_is_accepted_by_the_sdk_and_by_hookgate() -> None:
    request = signed(THIN)
    header = request.headers["stripe-signature"]
    notification = stripe.StripeClient(API_KEY).parse_event_notification(THIN, header, SECRET)
    assert (notification.id, notification.type) == (EVENT_ID, "v1.billing.meter.error_report_triggered")
    connector().verify(request, time.time())


def test_a_thin_event_signed_by_hookgate_is_accepted_by_the_sdk() -> None:
    now = time.time()
    delivery = connector().sign(THIN, now)
    header = delivery.headers["Stripe-Signature"]
    notification = stripe.StripeClient(API_KEY).parse_event_notification(delivery.body, header, SECRET)
    assert notification.id == EVENT_ID


def test_thin_events_are_checked_like_snapshot_events() -> None:
    now = time.time()
    # Rotation: either secret verifies, for hookgate and the SDK alike.
    rolled = signed(THIN, OLD_SECRET, SECRET)
    connector().verify(rolled, now)
    stripe.WebhookSignature.verify_header(THIN.decode(), rolled.headers["stripe-signature"], SECRET)
    # A body changed after signing, a wrong secret, and a stale timestamp are refused.
    tampered = WebhookRequest.build(THIN.replace(b"false", b"true"), dict(signed(THIN).headers))
    for request, cause in [
        (tampered, "bad_signature"),
        (signed(THIN, OLD_SECRET), "bad_signature"),
        (signed(THIN, timestamp=int(now) - 301), "stale_timestamp"),
    ]:
        with pytest.raises(VerificationError) as caught:
            connector().verify(request, now)
        assert caught.value.cause == cause
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.StripeClient(API_KEY).parse_event_notification(
                request.body, request.headers["stripe-signature"], SECRET
            )


def test_a_thin_event_is_normalized_by_its_id_and_type() -> None:
    [event] = connector().normalize(signed(THIN))
    assert event.type == "v1.billing.meter.error_report_triggered"
    assert event.dedup_key == event.provider_event_id == EVENT_ID
    assert event.occurred_at == datetime(2026, 11, 28, 3, 24, 35, 123000, tzinfo=UTC)
    assert event.payload == json.loads(THIN)


# -- options -------------------------------------------------------------------------------


def test_without_an_api_key_there_is_no_enricher() -> None:
    assert connector().enricher() is None


def test_the_api_key_is_a_secret_reference() -> None:
    settings = parse_settings(
        {
            "sources": {
                "stripe": {"connector": "stripe", "secrets": [SECRET], "api_key": "env:E2E_STRIPE_API_KEY"}
            },
            "sinks": {"archive": {"type": "jsonl", "path": "events.jsonl"}},
        },
        env={"E2E_STRIPE_API_KEY": API_KEY},
    )
    options = settings.sources["stripe"].options
    assert isinstance(options, type(connector().options))
    assert options.api_key is not None
    assert options.api_key.get_secret_value() == API_KEY
    assert API_KEY not in repr(options)
    assert isinstance(StripeConnector(options).enricher(), StripeEventFetcher)


def test_api_base_must_be_a_url() -> None:
    with pytest.raises(ValueError, match="http"):
        connector(api_key=API_KEY, api_base="localhost:1234")
    assert connector(api_base="http://127.0.0.1:9/").options.api_base == "http://127.0.0.1:9"


# -- fetching through the SDK --------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[StripeApi]:
    with serve_stripe_api() as server:
        server.events[EVENT_ID] = FULL
        yield server


async def fetch(api: StripeApi, payload: Any = None, **options: Any) -> Any:
    fetcher = connector(api_key=API_KEY, api_base=api.url, **options).enricher()
    assert isinstance(fetcher, StripeEventFetcher)
    await fetcher.open()
    try:
        assert fetcher.wants(json.loads(THIN))
        return await fetcher.enrich(json.loads(THIN) if payload is None else payload)
    finally:
        await fetcher.close()


async def test_the_full_event_is_retrieved_with_the_api_key(api: StripeApi) -> None:
    assert await fetch(api) == FULL
    [request] = api.received
    assert request.path == f"/v2/core/events/{EVENT_ID}"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["stripe-version"]  # the SDK's own, unless configured
    assert request.headers["stripe-request-trigger"] == f"event={EVENT_ID}"
    assert "stripe-context" not in request.headers


async def test_the_configured_version_and_the_events_context_are_sent(api: StripeApi) -> None:
    payload = {**json.loads(THIN), "context": "acct_1Nv0FGQ9RKHgCVdK"}
    await fetch(api, payload, stripe_version="2026-10-28.endive")
    [request] = api.received
    assert request.headers["stripe-version"] == "2026-10-28.endive"
    assert request.headers["stripe-context"] == "acct_1Nv0FGQ9RKHgCVdK"


@pytest.mark.parametrize(
    ("status", "cause", "retry"),
    [
        (500, "stripe_api_error: 500", True),
        (503, "stripe_api_error: 503", True),
        (429, "stripe_api_error: 429", True),
        (409, "stripe_api_error: 409", True),
        (401, "stripe_unauthorized: 401", False),
        (403, "stripe_forbidden: 403", False),
        (404, "stripe_event_not_found: 404", False),
        (400, "stripe_rejected: 400", False),
    ],
)
async def test_api_errors_are_classified_and_tried_once(
    api: StripeApi, status: int, cause: str, retry: bool
) -> None:
    api.script = [status]
    with pytest.raises(EnrichmentError) as caught:
        await fetch(api)
    assert caught.value.cause.startswith(cause)
    assert caught.value.retry is retry
    assert API_KEY not in caught.value.cause
    assert len(api.received) == 1  # the SDK does not retry by itself: the gateway does
    if status == 429:
        assert caught.value.retry_after == 1.0


async def test_an_unknown_event_is_not_found(api: StripeApi) -> None:
    api.events.clear()
    with pytest.raises(EnrichmentError, match="stripe_event_not_found: 404") as caught:
        await fetch(api)
    assert caught.value.retry is False


async def test_a_timeout_and_an_unreachable_api_are_retried(api: StripeApi) -> None:
    api.delay = 1.0
    with pytest.raises(EnrichmentError, match="stripe_unreachable") as caught:
        await fetch(api, api_timeout_seconds=0.2)
    assert caught.value.retry is True
    closed = StripeConnector.from_config(
        {"secrets": [SECRET], "api_key": API_KEY, "api_base": "http://127.0.0.1:9"}
    ).enricher()
    assert closed is not None
    with pytest.raises(EnrichmentError, match="stripe_unreachable") as caught:
        await closed.enrich(json.loads(THIN))
    assert caught.value.retry is True
    await closed.close()


async def test_a_snapshot_event_is_not_wanted(api: StripeApi) -> None:
    fetcher = connector(api_key=API_KEY, api_base=api.url).enricher()
    assert fetcher is not None
    assert not fetcher.wants(json.loads(fixture("stripe", "invoice.paid.json")))
    assert not fetcher.wants(["not", "an", "object"])
