"""Persona: `t=…,v1=…` pairs (one per active secret), tolerance, JSON:API events."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import VerificationError, WebhookRequest
from connectors.persona import PersonaConnector
from connectors.testing import check_connector, check_malformed

from ._fakes import NOW
from ._support import fixture

SECRET = "wbhsec_p"
KAT = "8df17857f7ba8d52d03c2bab6306476522d23c22c228032e917893f1fd079c19"


def connector(*secrets: str, **options: object) -> PersonaConnector:
    return PersonaConnector.from_config({"secrets": list(secrets or [SECRET]), **options})


def pair(body: bytes, secret: str = SECRET, t: int = NOW) -> str:
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def delivery(body: bytes, *pairs: str) -> WebhookRequest:
    return WebhookRequest.build(body, {"Persona-Signature": " ".join(pairs or (pair(body),))})


def test_known_answer() -> None:
    # hex HMAC-SHA256("wbhsec_p", '1700000000.{"id":1}'), computed with the stdlib.
    assert pair(b'{"id":1}') == f"t={NOW},v1={KAT}"
    connector().verify(delivery(b'{"id":1}'), NOW)
    assert connector().sign(b'{"id":1}', NOW).headers["Persona-Signature"] == f"t={NOW},v1={KAT}"


def test_rotation_pairs() -> None:
    body = b"{}"
    req = delivery(body, pair(body, "new"), pair(body, "old"))
    connector("old").verify(req, NOW)
    connector("new").verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("other").verify(req, NOW)
    signed = connector("new", "old").sign(body, NOW).headers["Persona-Signature"]
    assert signed == f"{pair(body, 'new')} {pair(body, 'old')}"


def test_pairs_share_one_timestamp_and_the_window_applies() -> None:
    body = b"{}"
    stale = delivery(body, pair(body, "other", t=NOW - 301), pair(body, t=NOW - 301))
    with pytest.raises(VerificationError, match="stale_timestamp"):
        connector().verify(stale, NOW)
    connector().verify(delivery(body, pair(body, t=NOW - 300)), NOW)
    mixed = delivery(body, pair(body, "other"), pair(body, t=NOW - 1))
    with pytest.raises(VerificationError, match="malformed_signature"):
        connector().verify(mixed, NOW)


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        ("", "missing_signature"),
        ("v1=abc", "missing_timestamp"),
        ("t=1,t=2,v1=abc", "malformed_signature"),
        ("t=x,v1=abc", "malformed_timestamp"),
        ("nonsense", "malformed_signature"),
        (" ".join(["t=1,v1=a"] * 9), "malformed_signature"),
    ],
)
def test_garbled_headers(value: str, cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(b"{}", {"Persona-Signature": value}), NOW)
    assert exc.value.cause == cause


def test_fixture_verifies_and_normalizes() -> None:
    req = delivery(fixture("persona", "inquiry.completed.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("inquiry.completed", "evt_XGuYWp7WRW8WwWdDXTYCmjXt")
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2025-03-22T19:24:51+00:00"


def test_unusable_bodies() -> None:
    check_malformed(
        connector(), b"[]", b'{"data": {"id": "evt_1"}}', b'{"data": {"attributes": {"name": "x"}}}'
    )


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "inquiry.completed"
