"""Calendly: `t=…,v1=…` over `t.body`, tolerance both ways, composite dedup, fuzzing."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from connectors import VerificationError, WebhookRequest, sha256_of_parts
from connectors.calendly import CalendlyConnector
from connectors.testing import check_connector, check_malformed, check_rotation, check_tolerance

from ._fakes import NOW
from ._support import fixture

SECRET = "xk5Tq8ZbN2rW7vLm3sJd9FhY4cGp6AeU"
KAT = "v1=6cb23a7de6e3f92500947ba943ba0199302d2b466d65064f6ccd7710af3f7ed1"


def connector(*secrets: str, **options: object) -> CalendlyConnector:
    return CalendlyConnector.from_config({"secrets": list(secrets or [SECRET]), **options})


def header(body: bytes, secret: str = SECRET, t: int = NOW) -> str:
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def delivery(body: bytes, secret: str = SECRET, t: int = NOW) -> WebhookRequest:
    return WebhookRequest.build(body, {"Calendly-Webhook-Signature": header(body, secret, t)})


def test_known_answer() -> None:
    # HMAC-SHA256 hex of "1700000000.Hello, World!" under "hush", computed with the stdlib.
    assert header(b"Hello, World!", "hush") == f"t={NOW},{KAT}"
    req = WebhookRequest.build(b"Hello, World!", {"calendly-webhook-signature": f"t={NOW},{KAT}"})
    connector("hush").verify(req, NOW)
    assert (
        connector("hush").sign(b"Hello, World!", NOW).headers["Calendly-Webhook-Signature"]
        == f"t={NOW},{KAT}"
    )


def test_fixture() -> None:
    body = fixture("calendly", "invitee.created.json")
    req = delivery(body)
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "invitee.created"
    assert event.provider_event_id is None
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2023-11-14T22:13:18+00:00"
    # A retry re-serialized differently is still the same event.
    reserialized = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert connector().normalize(WebhookRequest.build(reserialized))[0].dedup_key == event.dedup_key


def test_dedup_without_uri_is_a_body_hash() -> None:
    body = b'{"event": "routing_form_submission.created", "created_at": "2023-11-14T22:13:18Z"}'
    [event] = connector().normalize(WebhookRequest.build(body))
    assert event.dedup_key == sha256_of_parts("calendly", body)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"event": 1}', b'{"event": ""}', b"{")


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)
    both = f"{header(b'{}', 'old')},v1=" + header(b"{}", "new").split("v1=")[1]
    connector("new").verify(WebhookRequest.build(b"{}", {"Calendly-Webhook-Signature": both}), NOW)


def test_tolerance_both_sides() -> None:
    check_tolerance(connector(), lambda at: delivery(b"{}", t=int(at)), NOW, 180)
    for skew in (-181, 181):  # 0 turns the window off
        connector(tolerance_seconds=0).verify(delivery(b"{}", t=NOW + skew), NOW)


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("v1=abc", "missing_timestamp"),
        (f"t={NOW}", "missing_signature"),
        (f"t={NOW},v0=abc", "missing_signature"),
        (f"t={NOW},garbage", "malformed_signature"),
        ("t=soon,v1=abc", "malformed_timestamp"),
        ("t=\u00b2,v1=abc", "malformed_timestamp"),
        ("t=99999999999999,v1=abc", "malformed_timestamp"),
        (f"t={NOW},v1=\udcff", "bad_signature"),
        (f"t={NOW + 1},{KAT}", "bad_signature"),
    ],
)
def test_garbled_headers(value: str | None, cause: str) -> None:
    headers = {} if value is None else {"Calendly-Webhook-Signature": value}
    with pytest.raises(VerificationError) as exc:
        connector("hush").verify(WebhookRequest.build(b"Hello, World!", headers), NOW)
    assert exc.value.cause == cause


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "invitee.created"
