"""Adyen: the documented HMAC vector, Adyen.util both ways, header HMAC, fan-out."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from typing import Any

import pytest
from Adyen.util import (  # type: ignore[import-untyped]
    generate_notification_sig,
    is_valid_hmac_notification,
    is_valid_hmac_payload,
)
from pydantic import ValidationError

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.adyen import AdyenConnector, signing_string
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

DOCS_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
OTHER_KEY = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
NOTIFICATION = fixture("adyen", "notification.json")
BATCH = fixture("adyen", "batch.json")
PLATFORM = fixture("adyen", "balance_platform.json")


def connector(*keys: str, **options: Any) -> AdyenConnector:
    return AdyenConnector.from_config({"secrets": list(keys or [DOCS_KEY]), **options})


def oracle(req: WebhookRequest, key: str = DOCS_KEY) -> bool:
    """Adyen.util checks only the first item of a wrapper, so each item is checked alone;
    it returns None without additionalData."""
    try:
        header = req.headers.get("hmacsignature")
        if header is not None:
            return bool(is_valid_hmac_payload(header, key, req.body))
        items = [w["NotificationRequestItem"] for w in json.loads(req.body)["notificationItems"]]
        return bool(items) and all(is_valid_hmac_notification(item, key) is True for item in items)
    except Exception:  # noqa: BLE001 - KeyError, ValueError on garbage: a "no"
        return False


def test_docs_vector() -> None:
    req = WebhookRequest.build(NOTIFICATION)
    connector().verify(req, NOW)
    assert oracle(req)
    item = json.loads(NOTIFICATION)["notificationItems"][0]["NotificationRequestItem"]
    assert signing_string(item) == (
        "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true"
    )
    resigned = json.loads(connector().sign(NOTIFICATION, NOW).body)
    assert resigned["notificationItems"][0]["NotificationRequestItem"]["additionalData"]["hmacSignature"] == (
        "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="
    )


def test_our_signatures_pass_the_sdk() -> None:
    req = signed_request(connector(OTHER_KEY), BATCH, now=NOW)
    connector(OTHER_KEY).verify(req, NOW)
    assert oracle(req, OTHER_KEY)
    assert not oracle(req, DOCS_KEY)


def test_sdk_signatures_pass_ours() -> None:
    payload = json.loads(BATCH)
    for wrapper in payload["notificationItems"]:
        item = wrapper["NotificationRequestItem"]
        unsigned = {k: v for k, v in item.items() if k != "additionalData"}
        item["additionalData"]["hmacSignature"] = generate_notification_sig(unsigned, OTHER_KEY).decode()
    req = WebhookRequest.build(json.dumps(payload).encode())
    connector(OTHER_KEY).verify(req, NOW)
    events = connector(OTHER_KEY).normalize(req)
    assert [e.type for e in events] == ["AUTHORISATION", "REFUND"]
    assert [e.dedup_key for e in events] == [
        "YOUR_PSP_REFERENCE:AUTHORISATION:true:",
        "YOUR_REFUND_PSP_REFERENCE:REFUND:true:YOUR_PSP_REFERENCE",
    ]
    assert events[0].occurred_at is not None
    assert events[0].occurred_at.isoformat() == "2024-01-01T01:00:00+01:00"


def test_every_item_must_verify() -> None:
    signed = json.loads(signed_request(connector(), BATCH, now=NOW).body)
    forged = copy.deepcopy(signed)
    forged["notificationItems"][1]["NotificationRequestItem"]["amount"]["value"] = 50000
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(WebhookRequest.build(json.dumps(forged).encode()), NOW)
    unsigned = copy.deepcopy(signed)
    del unsigned["notificationItems"][1]["NotificationRequestItem"]["additionalData"]["hmacSignature"]
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().verify(WebhookRequest.build(json.dumps(unsigned).encode()), NOW)


def test_header_signed_platform_webhook() -> None:
    sig = base64.b64encode(hmac.new(bytes.fromhex(OTHER_KEY), PLATFORM, hashlib.sha256).digest()).decode()
    req = WebhookRequest.build(PLATFORM, {"HmacSignature": sig})
    connector(OTHER_KEY).verify(req, NOW)
    assert oracle(req, OTHER_KEY)
    assert connector(OTHER_KEY).sign(PLATFORM, NOW).headers["HmacSignature"] == sig
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(OTHER_KEY).verify(tamper(req), NOW)
    [event] = connector().normalize(req)
    assert event.type == "balancePlatform.accountHolder.created"
    assert event.dedup_key == sha256_of_parts("adyen", PLATFORM)


def test_rotation() -> None:
    req = signed_request(connector(OTHER_KEY), BATCH, now=NOW)
    connector(DOCS_KEY, OTHER_KEY).verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(DOCS_KEY).verify(req, NOW)


def test_no_timestamp_so_any_clock_is_fine() -> None:
    connector().verify(WebhookRequest.build(NOTIFICATION), 0)


def test_basic_auth_in_addition() -> None:
    c = connector(username=["adyen", "adyen-new"], password="s3cret")
    req = signed_request(c, BATCH, now=NOW)
    c.verify(req, NOW)
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"adyen:s3cret").decode()
    for auth, cause in [
        (None, "missing_credentials"),
        ("Bearer x", "missing_credentials"),
        ("Basic !!", "malformed_credentials"),
        ("Basic " + base64.b64encode(b"adyen").decode(), "bad_credentials"),
        ("Basic " + base64.b64encode(b"adyen:wrong").decode(), "bad_credentials"),
    ]:
        headers = [(k, v) for k, v in req.headers.raw() if k != "authorization"]
        if auth is not None:
            headers.append(("authorization", auth))
        with pytest.raises(VerificationError) as exc:
            c.verify(WebhookRequest.build(req.body, headers), NOW)
        assert exc.value.cause == cause
    other = [(k, v) for k, v in req.headers.raw() if k != "authorization"]
    other.append(("authorization", "Basic " + base64.b64encode(b"adyen-new:s3cret").decode()))
    c.verify(WebhookRequest.build(req.body, other), NOW)
    with pytest.raises(ValidationError, match="both username and password"):
        connector(username="adyen")


@pytest.mark.parametrize("key", ["not hex", "", "abc"])
def test_keys_must_be_hex(key: str) -> None:
    with pytest.raises(ValidationError, match=r"secrets\[0\]"):
        connector(key)


@pytest.mark.parametrize(
    ("body", "headers", "cause"),
    [
        (b"nope", {}, "malformed_body"),
        (b"[" * 100_000, {}, "malformed_body"),
        (b"{}", {}, "missing_signature"),
        (b'{"notificationItems": [1]}', {}, "missing_signature"),
        (b'{"notificationItems": []}', {}, "no_items"),
        (b'{"notificationItems": [{"NotificationRequestItem": {}}]}', {}, "missing_signature"),
        (
            b'{"notificationItems": [{"NotificationRequestItem": {"additionalData": {"hmacSignature": 5}}}]}',
            {},
            "missing_signature",
        ),
        (
            b'{"notificationItems": [{"NotificationRequestItem": '
            b'{"additionalData": {"hmacSignature": "\\udcff"}}}]}',
            {},
            "bad_signature",
        ),
        (b"{}", {"HmacSignature": ""}, "bad_signature"),
        (b"{}", {"HmacSignature": "\udcff"}, "bad_signature"),
    ],
)
def test_garbled(body: bytes, headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(body, headers), NOW)
    assert exc.value.cause == cause


@pytest.mark.parametrize(
    "body",
    [
        b"nope",
        b"[]",
        b"{}",
        b'{"notificationItems": []}',
        b'{"notificationItems": [{"NotificationRequestItem": {}}]}',
        b'{"type": 1}',
    ],
)
def test_normalize_rejects_unusable(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body))


def test_check_connector() -> None:
    # The item HMAC covers eight fields, not the whole body (Adyen's design), and travels
    # in the body: a "bare" delivery is only refused with the recommended Basic auth.
    [event] = check_connector(connector(username="adyen", password="s3cret"), NOW, signs_body=False)
    assert event.type == "AUTHORISATION"
    [event] = check_connector(connector(), NOW, body=PLATFORM)
    assert event.type == "balancePlatform.accountHolder.created"
