"""WooCommerce: a known-answer vector, the unsigned ping, rotation, topics and dedup."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.testing import check_connector, check_rotation, signed_request
from connectors.woocommerce import WooCommerceConnector

from ._fakes import NOW
from ._support import fixture

SECRET = "wc-secret"
DELIVERY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def connector(*secrets: str) -> WooCommerceConnector:
    return WooCommerceConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET, **extra: str) -> WebhookRequest:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "created",
        "X-WC-Webhook-Signature": signature,
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": DELIVERY,
        **extra,
    }
    return WebhookRequest.build(body, headers)


def test_known_answer() -> None:
    # base64(HMAC-SHA256("wc-secret", '{"id":1}')), computed with the stdlib.
    expected = "xspNGMrVWxIcQDyrXfbm2UqRDdmgJAuEN8sLb9BkThg="
    assert delivery(b'{"id":1}').headers["x-wc-webhook-signature"] == expected
    connector().verify(WebhookRequest.build(b'{"id":1}', {"X-WC-Webhook-Signature": expected}), NOW)
    assert connector().sign(b'{"id":1}', NOW).headers["X-WC-Webhook-Signature"] == expected


def test_fixture_verifies_and_normalizes() -> None:
    req = delivery(fixture("woocommerce", "order.created.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key, event.delivery_id) == ("order.created", DELIVERY, DELIVERY)
    assert event.payload["line_items"][0]["name"] == "Woo Single #1"
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2025-03-22T19:28:08+00:00"


def test_dedup_without_a_delivery_id_is_a_body_hash() -> None:
    body = b'{"id": 93}'
    [event] = connector().normalize(WebhookRequest.build(body, {"X-WC-Webhook-Topic": "product.updated"}))
    assert (event.type, event.dedup_key) == ("product.updated", sha256_of_parts("woocommerce", body))


def test_ping_is_answered_unsigned_and_ingests_nothing() -> None:
    ping = WebhookRequest.build(b"webhook_id=12", {"Content-Type": "application/x-www-form-urlencoded"})
    answer = connector().handshake(ping, NOW)
    assert answer is not None
    assert (answer.status, answer.body) == (200, b"")
    # Anything else, or a "ping" that carries a signature, goes on to verification.
    assert connector().handshake(WebhookRequest.build(b"webhook_id=12&x=1"), NOW) is None
    assert connector().handshake(delivery(b"webhook_id=12"), NOW) is None
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().verify(ping, NOW)


@pytest.mark.parametrize(
    ("body", "headers"),
    [(b"{}", {}), (b"[]", {"X-WC-Webhook-Topic": "order.created"}), (b"{}", {"X-WC-Webhook-Topic": " "})],
)
def test_unusable_deliveries(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body, headers))


def test_rotation_and_forgery() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)


def test_sign_names_the_topic_of_known_payloads() -> None:
    signed = connector().sign(b'{"id": 93, "sku": "WOO-1"}', NOW)
    assert (signed.headers["X-WC-Webhook-Topic"], signed.headers["X-WC-Webhook-Resource"]) == (
        "product.created",
        "product",
    )


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "order.created"
    req = signed_request(connector(), fixture("woocommerce", "order.created.json"), now=NOW)
    connector().verify(req, 0)  # no timestamp is signed
