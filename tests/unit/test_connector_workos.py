"""WorkOS: `t=<ms>, v1=<hex>`, tolerance both ways, rotation, the `workos` SDK as oracle."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from workos import WorkOSClient

from connectors import VerificationError, WebhookRequest
from connectors.testing import check_connector, check_malformed, check_rotation, check_tolerance
from connectors.workos import WorkOSConnector

from ._fakes import NOW
from ._support import fixture

SECRET = "wos-secret"
KAT = "afcf7f470580b745664d66f4cdb80e5dda5bd7233bbbbed978650ff3c0d90e37"


def connector(*secrets: str, **options: object) -> WorkOSConnector:
    return WorkOSConnector.from_config({"secrets": list(secrets or [SECRET]), **options})


def header(body: bytes, secret: str = SECRET, millis: int = NOW * 1000) -> str:
    digest = hmac.new(secret.encode(), f"{millis}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={millis}, v1={digest}"


def delivery(body: bytes, secret: str = SECRET, millis: int = NOW * 1000) -> WebhookRequest:
    return WebhookRequest.build(body, {"WorkOS-Signature": header(body, secret, millis)})


def test_known_answer() -> None:
    # hex HMAC-SHA256("wos-secret", '1700000000000.{"id":1}'), computed with the stdlib.
    assert header(b'{"id":1}') == f"t={NOW * 1000}, v1={KAT}"
    connector().verify(delivery(b'{"id":1}'), NOW)
    assert connector().sign(b'{"id":1}', NOW).headers["WorkOS-Signature"] == f"t={NOW * 1000}, v1={KAT}"


def test_sdk_oracle_agrees() -> None:
    # The SDK checks the timestamp against its own clock, so sign at the real time.
    body = fixture("workos", "dsync.user.created.json")
    client = WorkOSClient(api_key="sk_test_hookgate", client_id="client_hookgate")
    signed = connector().sign(body, time.time()).headers["WorkOS-Signature"]
    event = client.webhooks.verify_event(
        event_body=body, event_signature=signed, secret=SECRET, tolerance=180
    )
    assert getattr(event, "id", None) == json.loads(body)["id"]
    with pytest.raises(ValueError, match="signature"):
        client.webhooks.verify_event(event_body=body, event_signature=signed, secret="other", tolerance=180)


def test_fixture_verifies_and_normalizes() -> None:
    req = delivery(fixture("workos", "dsync.user.created.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("dsync.user.created", "event_01FKJ843CVE8F7BXQSPFH0M53V")
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2021-06-25T19:07:33.155000+00:00"


def test_tolerance_both_ways() -> None:
    check_tolerance(connector(), lambda at: delivery(b"{}", millis=int(at * 1000)), NOW, 180)
    for skew in (-181, 181):  # 0 turns the window off
        connector(tolerance_seconds=0).verify(delivery(b"{}", millis=(NOW + skew) * 1000), NOW)


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (None, "missing_signature"),
        ("v1=abc", "missing_timestamp"),
        ("t=1700000000000", "missing_signature"),
        ("t=soon, v1=abc", "malformed_timestamp"),
        ("garbage", "malformed_signature"),
        (f"t={NOW * 1000}, v1=00", "bad_signature"),
    ],
)
def test_garbled_headers(value: str | None, cause: str) -> None:
    headers = {} if value is None else {"WorkOS-Signature": value}
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(b"{}", headers), NOW)
    assert exc.value.cause == cause


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b'{"id": "event_1"}', b'{"event": "user.created"}')


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "dsync.user.created"
