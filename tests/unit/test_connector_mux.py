"""Mux: `Mux-Signature: t=…,v1=…` over `<t>.<body>`, tolerance, rotation, events."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import VerificationError, WebhookRequest
from connectors.mux import MuxConnector
from connectors.testing import check_connector, check_malformed

from ._fakes import NOW
from ._support import fixture

SECRET = "mux-signing-secret-k2b8v0"


def connector(*secrets: str) -> MuxConnector:
    return MuxConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, t: int = NOW, secret: str = SECRET) -> WebhookRequest:
    digest = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"Mux-Signature": f"t={t},v1={digest}"})


def test_known_answer() -> None:
    # As Mux's guide computes it: HMAC-SHA256(secret, f"{t}.{body}") in hex.
    digest = hmac.new(b"hush", b"1700000000.{}", "sha256").hexdigest()
    assert connector("hush").sign(b"{}", NOW).headers["Mux-Signature"] == f"t=1700000000,v1={digest}"


def test_fixture() -> None:
    req = delivery(fixture("mux", "video.asset.ready.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("video.asset.ready", "3a56ac3d-33da-4366-855b-f592d898409d")
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW


@pytest.mark.parametrize(
    ("header", "cause"),
    [
        ("", "missing_signature"),
        ("v1=abc", "missing_timestamp"),
        ("t=soon,v1=abc", "malformed_timestamp"),
        ("t=1700000000", "missing_signature"),
        ("t=1700000000,v1=abc", "bad_signature"),
    ],
)
def test_garbled_headers(header: str, cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(b"{}", {"Mux-Signature": header}), NOW)
    assert exc.value.cause == cause


def test_tolerance_and_rotation() -> None:
    with pytest.raises(VerificationError, match="stale_timestamp"):
        connector().verify(delivery(b"{}", NOW - 301), NOW)
    connector("new", "old").verify(delivery(b"{}", secret="old"), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"type": ""}', b"nope")


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "video.asset.ready"
