"""Braintree: bt_signature over bt_payload and the bt_challenge, checked against the braintree SDK."""

from __future__ import annotations

import base64
import warnings
from urllib.parse import parse_qsl, urlencode

import pytest
from pydantic import ValidationError

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.braintree import BraintreeConnector
from connectors.testing import check_connector

from ._fakes import NOW
from ._support import fixture

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # the SDK warns about itself on import
    import braintree

PUBLIC, PRIVATE = "x7w9kq4bz3v2yn6m", "3c0a7e5f9d1b8a4c6e2f0d9b7a5c3e1f"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def connector(*pairs: str) -> BraintreeConnector:
    return BraintreeConnector.from_config({"secrets": list(pairs or [f"{PUBLIC}:{PRIVATE}"])})


def gateway(public: str = PUBLIC, private: str = PRIVATE) -> braintree.BraintreeGateway:
    config = braintree.Configuration(
        braintree.Environment.Sandbox, merchant_id="hookgate", public_key=public, private_key=private
    )
    return braintree.BraintreeGateway(config)


def sdk_delivery(public: str = PUBLIC, private: str = PRIVATE) -> WebhookRequest:
    sample = gateway(public, private).webhook_testing.sample_notification(
        braintree.WebhookNotification.Kind.SubscriptionWentPastDue, "sub_8f3k2q"
    )
    return WebhookRequest.build(urlencode(sample).encode(), FORM)


def test_sdk_sample_notification_verifies_and_normalizes() -> None:
    req = sdk_delivery()
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "subscription_went_past_due"
    assert event.payload["subject"]["subscription"]["id"] == "sub_8f3k2q"
    assert event.occurred_at is not None


def test_sdk_parses_what_sign_makes() -> None:
    delivery = connector().sign(fixture("braintree", "subscription_charged_successfully.xml"), NOW)
    fields = dict(parse_qsl(delivery.body.decode()))
    notification = gateway().webhook_notification.parse(fields["bt_signature"], fields["bt_payload"])
    assert notification.kind == "subscription_charged_successfully"
    assert notification.subscription.id == "sub_8f3k2q"


def test_challenge_answer_is_the_sdks() -> None:
    challenge = "38f4a0b6c1d2e3f40a5b"
    req = WebhookRequest.build(b"", method="GET", query=f"bt_challenge={challenge}")
    answer = connector().handshake(req, NOW)
    assert answer is not None
    assert answer.body.decode() == gateway().webhook_notification.verify(challenge)
    with pytest.raises(VerificationError, match="malformed_header"):
        connector().handshake(WebhookRequest.build(b"", method="GET", query="bt_challenge=NOT-HEX"), NOW)
    assert connector().handshake(WebhookRequest.build(b"", method="GET"), NOW) is None


def test_fixture_as_json() -> None:
    req = WebhookRequest.build(
        connector().sign(fixture("braintree", "subscription_charged_successfully.xml"), NOW).body, FORM
    )
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    subscription = event.payload["subject"]["subscription"]
    assert subscription["billing_day_of_month"] == 14
    assert subscription["never_expires"] is True
    assert subscription["transactions"] == [
        {
            "id": "txn_4hz9k1",
            "amount": "49.00",
            "status": "submitted_for_settlement",
            "currency_iso_code": "USD",
        }
    ]
    assert subscription["add_ons"] == []
    assert subscription["descriptor"] == {"name": None}
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW
    payload = dict(parse_qsl(req.body.decode()))["bt_payload"]
    assert event.dedup_key == sha256_of_parts("braintree", payload.encode())


def test_rotation_is_by_key_pair() -> None:
    req = sdk_delivery("oldpublickey0001", "oldprivate")
    connector(f"{PUBLIC}:{PRIVATE}", "oldpublickey0001:oldprivate").verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):  # the right key under another name
        connector(f"oldpublickey0001:{PRIVATE}").verify(sdk_delivery(), NOW)


def test_only_forms_verify() -> None:
    req = sdk_delivery()
    with pytest.raises(VerificationError, match="malformed_body"):
        connector().verify(WebhookRequest.build(req.body, {"Content-Type": "application/json"}), NOW)


def test_pairs_are_validated() -> None:
    with pytest.raises(ValidationError, match=r"secrets\[0\]"):
        connector("no-colon")


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"", "missing_signature"),
        (b"bt_payload=abc", "missing_signature"),
        (b"bt_signature=a%7Cb", "bad_signature"),
        (b"bt_signature=a%7Cb&bt_payload=%21%21", "malformed_body"),
        (b"bt_signature=nopipe&bt_payload=abcd", "malformed_signature"),
        (b"bt_signature=x7w9kq4bz3v2yn6m%7Cab&bt_payload=abcd", "bad_signature"),
        (b"\xff", "malformed_body"),
    ],
)
def test_garbled_forms(body: bytes, cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(body, FORM), NOW)
    assert exc.value.cause == cause


@pytest.mark.parametrize(
    "xml",
    [
        b"not xml",
        b"<other/>",
        b"<notification/>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><notification><kind>&a;</kind></notification>',
        b"<notification><kind></kind></notification>",
        b"<notification>" + b"<a>" * 40 + b"</a>" * 40 + b"</notification>",
    ],
)
def test_unusable_notifications(xml: bytes) -> None:
    body = connector().sign(xml, NOW).body
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body, FORM))
    bad = urlencode({"bt_signature": "a|b", "bt_payload": base64.b64encode(b"x")[:-1]}).encode()
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(bad, FORM))


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "subscription_charged_successfully"
