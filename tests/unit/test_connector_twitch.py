"""Twitch EventSub: no official Python SDK (twitchAPI is community-made and compares in
non-constant time), so vectors are computed independently with the stdlib following
Twitch's documented recipe: HMAC-SHA256(secret, id + timestamp + body)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.testing import check_connector, tamper
from connectors.twitch import TwitchConnector, parse_rfc3339

from ._fakes import NOW
from ._support import fixture

SECRET = "s3cRe7-hookgate-twitch"
OLD_SECRET = "older-secret-0123456789"
MSG_ID = "befa7b53-d79d-478f-86b9-120f112b044e"
STAMP = "2023-11-14T22:13:20.123456789Z"  # NOW + 0.12 s
BODY = fixture("twitch", "channel.follow.json")
CHALLENGE_BODY = fixture("twitch", "webhook_callback_verification.json")


def connector(*secrets: str, tolerance: int = 600) -> TwitchConnector:
    return TwitchConnector.from_config({"secrets": list(secrets or [SECRET]), "tolerance_seconds": tolerance})


def by_hand(
    body: bytes,
    stamp: str = STAMP,
    secret: str = SECRET,
    kind: str = "notification",
    msg_id: str = MSG_ID,
) -> WebhookRequest:
    digest = hmac.new(secret.encode(), (msg_id + stamp).encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Twitch-Eventsub-Message-Id": msg_id,
        "Twitch-Eventsub-Message-Timestamp": stamp,
        "Twitch-Eventsub-Message-Signature": f"sha256={digest}",
        "Twitch-Eventsub-Message-Type": kind,
        "Twitch-Eventsub-Subscription-Type": "channel.follow",
    }
    return WebhookRequest.build(body, headers)


def stamp_at(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_known_answer_vector() -> None:
    delivery = connector().sign(BODY, NOW)
    h = delivery.headers
    signed = (h["Twitch-Eventsub-Message-Id"] + h["Twitch-Eventsub-Message-Timestamp"]).encode() + BODY
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert h["Twitch-Eventsub-Message-Signature"] == f"sha256={expected}"
    assert h["Twitch-Eventsub-Message-Timestamp"] == "2023-11-14T22:13:20.000000000Z"
    assert h["Twitch-Eventsub-Message-Type"] == "notification"
    connector().verify(by_hand(BODY), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(tamper(by_hand(BODY)), NOW)


def test_rfc3339_parsing() -> None:
    assert parse_rfc3339(STAMP) == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert parse_rfc3339("2023-11-14T23:13:20+01:00").timestamp() == NOW
    for bad in ["", "2023-11-14", "2023-13-14T22:13:20Z", "2023-11-14T22:13:20.1234567890Z", "\u0661"]:
        with pytest.raises(VerificationError, match="malformed_timestamp"):
            parse_rfc3339(bad)


def test_rotation_tries_every_secret() -> None:
    old = by_hand(BODY, secret=OLD_SECRET)
    connector(SECRET, OLD_SECRET).verify(old, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(SECRET).verify(old, NOW)


@pytest.mark.parametrize(("offset", "ok"), [(-600, True), (600, True), (-601, False), (601, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = by_hand(BODY, stamp_at(NOW + offset))
    if ok:
        connector().verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW)


@pytest.mark.parametrize(
    ("drop", "replace", "cause"),
    [
        ("Twitch-Eventsub-Message-Signature", {}, "missing_signature"),
        ("Twitch-Eventsub-Message-Id", {}, "missing_header"),
        ("Twitch-Eventsub-Message-Timestamp", {}, "missing_header"),
        ("", {"Twitch-Eventsub-Message-Timestamp": "1700000000"}, "malformed_timestamp"),
        ("", {"Twitch-Eventsub-Message-Id": "x" * 300}, "malformed_header"),
        ("", {"Twitch-Eventsub-Message-Signature": "sha1=00"}, "malformed_signature"),
        ("", {"Twitch-Eventsub-Message-Signature": "sha256=\udcff"}, "bad_signature"),
    ],
)
def test_garbled_headers(drop: str, replace: dict[str, str], cause: str) -> None:
    headers = {k: v for k, v in by_hand(BODY).headers.raw() if k != drop.lower()}
    headers.update({k.lower(): v for k, v in replace.items()})
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(BODY, headers), NOW)
    assert exc.value.cause == cause


def test_callback_verification() -> None:
    answer = connector().handshake(by_hand(CHALLENGE_BODY, kind="webhook_callback_verification"), NOW)
    assert answer is not None
    assert (answer.status, answer.body, answer.content_type) == (
        200,
        b"pogchamp-kappa-360noscope-vohiyo",
        "text/plain",
    )


def test_callback_verification_refuses_unsigned_and_forged() -> None:
    forged = by_hand(CHALLENGE_BODY, secret="guess", kind="webhook_callback_verification")
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().handshake(forged, NOW)
    bare = WebhookRequest.build(
        CHALLENGE_BODY, {"Twitch-Eventsub-Message-Type": "webhook_callback_verification"}
    )
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().handshake(bare, NOW)
    stale = by_hand(CHALLENGE_BODY, stamp_at(NOW - 3600), kind="webhook_callback_verification")
    with pytest.raises(VerificationError, match="stale_timestamp"):
        connector().handshake(stale, NOW)


@pytest.mark.parametrize("challenge", ["", "a b", "x" * 257, 7, None, "\u00e9"])
def test_callback_verification_refuses_odd_challenges(challenge: object) -> None:
    body = json.dumps({"challenge": challenge}).encode()
    answer = connector().handshake(by_hand(body, kind="webhook_callback_verification"), NOW)
    assert answer is not None
    assert answer.status == 400


def test_notification() -> None:
    assert connector().handshake(by_hand(BODY), NOW) is None
    [event] = connector().normalize(by_hand(BODY))
    assert event.type == "channel.follow"
    assert event.dedup_key == event.delivery_id == MSG_ID
    assert event.occurred_at == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)


def test_revocation() -> None:
    req = by_hand(fixture("twitch", "revocation.json"), kind="revocation")
    assert connector().handshake(req, NOW) is None
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "revocation"
    assert event.payload["subscription"]["status"] == "authorization_revoked"
    signed = connector().sign(fixture("twitch", "revocation.json"), NOW)
    assert signed.headers["Twitch-Eventsub-Message-Type"] == "revocation"


def test_subscription_type_header_fallback() -> None:
    [event] = connector().normalize(by_hand(b'{"event": {}}'))
    assert event.type == "channel.follow"


@pytest.mark.parametrize("body", [b"[]", b"x", b'{"subscription": {"type": ""}}'])
def test_normalize_rejects_unusable_bodies(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(by_hand(body))
    req = WebhookRequest.build(b'{"event": {}}', {"Twitch-Eventsub-Message-Id": MSG_ID})
    with pytest.raises(MalformedPayloadError, match="missing_field"):
        connector().normalize(req)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "channel.follow"
