"""Zoom: no official Python SDK, so every vector is computed independently with the stdlib
following Zoom's documented recipe (`v0:{ts}:{body}`, and HMAC(secret, plainToken))."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.testing import check_connector, signed_request, tamper
from connectors.zoom import ZoomConnector

from ._fakes import NOW
from ._support import fixture

SECRET = "kEoXEtRdSmKLFeNBzPBVMg"
OLD_SECRET = "hbZtcK4uTLuQHf2YvYZ8cA"
BODY = fixture("zoom", "meeting.started.json")
VALIDATION = fixture("zoom", "endpoint.url_validation.json")


def connector(*secrets: str, tolerance: int = 300) -> ZoomConnector:
    return ZoomConnector.from_config({"secrets": list(secrets or [SECRET]), "tolerance_seconds": tolerance})


def by_hand(body: bytes, ts: int | str = NOW, secret: str = SECRET) -> WebhookRequest:
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"x-zm-signature": f"v0={digest}", "x-zm-request-timestamp": str(ts)})


def test_known_answer_vector() -> None:
    # Pinned once from the stdlib recipe: a regression here means the signed content changed.
    digest = hmac.new(SECRET.encode(), b"v0:%d:" % NOW + BODY, hashlib.sha256).hexdigest()
    assert connector().sign(BODY, NOW).headers["x-zm-signature"] == f"v0={digest}"
    connector().verify(by_hand(BODY), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(tamper(by_hand(BODY)), NOW)


def test_rotation_tries_every_secret() -> None:
    old = by_hand(BODY, secret=OLD_SECRET)
    connector(SECRET, OLD_SECRET).verify(old, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(SECRET).verify(old, NOW)


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = by_hand(BODY, NOW + offset)
    if ok:
        connector().verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW)


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({"x-zm-signature": "v0=00"}, "missing_timestamp"),
        ({"x-zm-signature": "v0=00", "x-zm-request-timestamp": "1.5"}, "malformed_timestamp"),
        ({"x-zm-signature": "sha256=00", "x-zm-request-timestamp": str(NOW)}, "malformed_signature"),
        ({"x-zm-signature": "v0=\udcff", "x-zm-request-timestamp": str(NOW)}, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(BODY, headers), NOW)
    assert exc.value.cause == cause


def test_url_validation_with_the_verifying_secret() -> None:
    for secret in (SECRET, OLD_SECRET):
        answer = connector(SECRET, OLD_SECRET).handshake(by_hand(VALIDATION, secret=secret), NOW)
        assert answer is not None
        assert answer.status == 200
        assert answer.content_type == "application/json"
        expected = hmac.new(secret.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
        assert json.loads(answer.body) == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}


def test_url_validation_refuses_unsigned_and_forged_requests() -> None:
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().handshake(WebhookRequest.build(VALIDATION), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().handshake(by_hand(VALIDATION, secret="guess"), NOW)
    with pytest.raises(VerificationError, match="stale_timestamp"):
        connector().handshake(by_hand(VALIDATION, NOW - 600), NOW)


@pytest.mark.parametrize("plain", ["", "v0:1700000000:{}", "x" * 129, "a.b", None, 5, "\u00e9"])
def test_url_validation_never_macs_odd_tokens(plain: object) -> None:
    body = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": plain}}).encode()
    answer = connector().handshake(by_hand(body), NOW)
    assert answer is not None
    assert answer.status == 400
    assert b"encryptedToken" not in answer.body


def test_ordinary_events_are_not_handshakes() -> None:
    assert connector().handshake(by_hand(BODY), NOW) is None


def test_normalize() -> None:
    [event] = connector().normalize(by_hand(BODY))
    assert event.type == "meeting.started"
    assert event.dedup_key == sha256_of_parts("zoom", BODY)
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2021-07-14T02:44:51.572000+00:00"


@pytest.mark.parametrize("body", [b"[]", b"{}", b'{"event": 1}', b'{"event": ""}', b"x"])
def test_normalize_rejects_unusable_bodies(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(by_hand(body))


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "meeting.started"
    assert signed_request(connector(), now=NOW).headers["content-type"].startswith("application/json")
