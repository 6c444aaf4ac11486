"""Shopify: an independently computed vector, rotation, topics, dedup fallbacks, fuzzing."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.shopify import ShopifyConnector
from connectors.testing import check_connector, check_rotation, signed_request

from ._fakes import NOW
from ._support import FUZZ, fixture, outcome

SECRET = "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"
EVENT_ID = "98880550-7158-44d4-b7cd-2c97c8a091b5"
WEBHOOK_ID = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def connector(*secrets: str) -> ShopifyConnector:
    return ShopifyConnector.from_config({"secrets": list(secrets or [SECRET])})


def b64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def delivery(body: bytes, secret: str = SECRET, **extra: str) -> WebhookRequest:
    headers = {
        "X-Shopify-Hmac-Sha256": b64_hmac(secret, body),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "jsmith.myshopify.com",
        "X-Shopify-Event-Id": EVENT_ID,
        "X-Shopify-Webhook-Id": WEBHOOK_ID,
        "X-Shopify-Triggered-At": "2023-03-29T18:00:27.877041743Z",
        "X-Shopify-API-Version": "2025-07",
        **extra,
    }
    return WebhookRequest.build(body, headers)


def test_known_answer() -> None:
    # base64(HMAC-SHA256("hush", "Hello, World!")), computed with the stdlib.
    expected = "eWqogvoUoHfxGozoOur/6mK8fpong0+pPgXKo6qlu0Q="
    assert b64_hmac("hush", b"Hello, World!") == expected
    c = connector("hush")
    c.verify(WebhookRequest.build(b"Hello, World!", {"x-shopify-hmac-sha256": expected}), NOW)
    assert c.sign(b"Hello, World!", NOW).headers["X-Shopify-Hmac-Sha256"] == expected


def test_fixture_verifies_and_normalizes() -> None:
    req = delivery(fixture("shopify", "orders_create.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "orders/create"
    assert event.dedup_key == f"orders/create:{EVENT_ID}"
    assert event.provider_event_id == EVENT_ID
    assert event.delivery_id == WEBHOOK_ID
    assert event.payload["name"] == "#9999"
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat().startswith("2023-03-29T18:00:27")


def test_dedup_falls_back_to_webhook_id_then_body_hash() -> None:
    body = fixture("shopify", "app_uninstalled.json")
    headers = {"X-Shopify-Topic": "app/uninstalled", "X-Shopify-Webhook-Id": WEBHOOK_ID}
    [event] = connector().normalize(WebhookRequest.build(body, headers))
    assert (event.type, event.dedup_key, event.provider_event_id) == ("app/uninstalled", WEBHOOK_ID, None)
    [event] = connector().normalize(WebhookRequest.build(body, {"X-Shopify-Topic": "app/uninstalled"}))
    assert event.dedup_key == sha256_of_parts("shopify", body)
    assert event.occurred_at is None


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"{}", {}),
        (b"[]", {"X-Shopify-Topic": "orders/create"}),
        (b"nope", {"X-Shopify-Topic": "orders/create"}),
        (b"{}", {"X-Shopify-Topic": ""}),
        (b"{}", {"X-Shopify-Topic": "x" * 129}),
    ],
)
def test_unusable_deliveries(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body, headers))


def test_rotation() -> None:
    check_rotation(
        connector, lambda secret: delivery(fixture("shopify", "orders_create.json"), secret=secret), NOW
    )


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("not base64 at all", "bad_signature"),
        ("eWqogvoUoHfxGozoOur/6mK8fpong0+pPgXKo6qlu0Q", "bad_signature"),  # padding dropped
        ("EWQOGVOUOHFXGOZOOUR/6MK8FPONG0+PPGXKO6QLU0Q=", "bad_signature"),  # base64 is case-sensitive
        ("\udcff\u00e9", "bad_signature"),
    ],
)
def test_garbled_signatures(value: str | None, cause: str) -> None:
    headers = {} if value is None else {"X-Shopify-Hmac-Sha256": value}
    with pytest.raises(VerificationError) as exc:
        connector("hush").verify(WebhookRequest.build(b"Hello, World!", headers), NOW)
    assert exc.value.cause == cause


def test_no_timestamp_so_any_clock_is_fine() -> None:
    req = signed_request(connector(), now=NOW)
    connector().verify(req, 0)
    connector().verify(req, NOW * 2)


def test_sign_names_the_topic_of_known_payloads() -> None:
    assert (
        connector().sign(fixture("shopify", "app_uninstalled.json"), NOW).headers["X-Shopify-Topic"]
        == "app/uninstalled"
    )
    assert connector().sign(b"not json", NOW).headers["X-Shopify-Topic"] == "orders/create"


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "orders/create"
    [event] = check_connector(connector(), NOW, body=fixture("shopify", "orders_create.json"))
    assert event.provider_event_id


CAUSES = {"ok", "missing_signature", "malformed_signature", "bad_signature"}
text = st.text(max_size=60)


# Shopify's own property (tests/unit/test_connectors_fuzz.py fuzzes what all connectors share):
# a replaced signature header verifies exactly when it is the signature, blanks aside.
@FUZZ
@given(body=st.binary(max_size=200), value=text)
def test_fuzz_signed_then_mutated(body: bytes, value: str) -> None:
    c = connector("a", "b")
    req = signed_request(c, body, now=NOW)
    assert outcome(c, req, NOW) == "ok"
    with contextlib.suppress(MalformedPayloadError):
        assert c.normalize(req)
    mutated = WebhookRequest.build(req.body, {**dict(req.headers), "x-shopify-hmac-sha256": value})
    result = outcome(c, mutated, NOW)
    assert result in CAUSES
    assert (result == "ok") == (value.strip() == req.headers["x-shopify-hmac-sha256"])
