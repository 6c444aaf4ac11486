"""Slack: a vector computed by hand, slack_sdk's SignatureVerifier as an oracle both ways,
the signed url_verification handshake, and every request shape.

Oracle quirks: `SignatureVerifier.is_valid` raises ValueError on a non-integer timestamp
(so calls are wrapped), and takes an injectable clock (so it runs at the fixed NOW).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import Clock, SignatureVerifier

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.slack import SlackConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
OLD_SECRET = "0d9c7e5a13f3b1e4a06c2f9a7d4b8e21"
APP_MENTION = fixture("slack", "app_mention.json")
URL_VERIFICATION = fixture("slack", "url_verification.json")
CHALLENGE = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def connector(*secrets: str, tolerance: int = 300) -> SlackConnector:
    return SlackConnector.from_config({"secrets": list(secrets or [SECRET]), "tolerance_seconds": tolerance})


def by_hand(body: bytes, ts: int | str = NOW, secret: str = SECRET, **extra: str) -> WebhookRequest:
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": str(ts), **extra}
    return WebhookRequest.build(body, headers)


def oracle_accepts(request: WebhookRequest, secret: str = SECRET, now: float = NOW) -> bool:
    try:
        return SignatureVerifier(secret, FixedClock(now)).is_valid_request(
            request.body, dict(request.headers)
        )
    except ValueError:  # non-integer timestamp
        return False


def test_known_answer_vector() -> None:
    # Slack's documented recipe, computed independently with the stdlib.
    body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather&text=94070"
    expected = "v0=" + hmac.new(SECRET.encode(), b"v0:1531420618:" + body, hashlib.sha256).hexdigest()
    delivery = connector().sign(body, 1531420618)
    assert delivery.headers["X-Slack-Signature"] == expected
    assert delivery.headers["Content-Type"] == "application/x-www-form-urlencoded"
    connector().verify(by_hand(body, 1531420618), 1531420618)


def test_sdk_signs_we_accept() -> None:
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=str(NOW), body=APP_MENTION)
    assert signature is not None
    req = WebhookRequest.build(
        APP_MENTION, {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": str(NOW)}
    )
    connector().verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(tamper(req), NOW)


def test_we_sign_sdk_accepts() -> None:
    req = signed_request(connector(), APP_MENTION, now=NOW)
    assert oracle_accepts(req)
    assert not oracle_accepts(tamper(req))
    assert not oracle_accepts(req, OLD_SECRET)
    assert not oracle_accepts(req, now=NOW + 301)  # the SDK's window is 300 s too


def test_rotation_tries_every_secret() -> None:
    old = by_hand(APP_MENTION, secret=OLD_SECRET)
    connector(SECRET, OLD_SECRET).verify(old, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(SECRET).verify(old, NOW)


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = by_hand(APP_MENTION, NOW + offset)
    if ok:
        connector().verify(req, NOW)
        assert oracle_accepts(req)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW)
        assert not oracle_accepts(req)
    connector(tolerance=0).verify(req, NOW)


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({"X-Slack-Signature": "v0=00"}, "missing_timestamp"),
        ({"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "soon"}, "malformed_timestamp"),
        ({"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "-5"}, "malformed_timestamp"),
        ({"X-Slack-Signature": "v1=00", "X-Slack-Request-Timestamp": str(NOW)}, "malformed_signature"),
        ({"X-Slack-Signature": "v0=\u00e9\udcff", "X-Slack-Request-Timestamp": str(NOW)}, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(APP_MENTION, headers), NOW)
    assert exc.value.cause == cause


def test_url_verification_answers_signed_challenges_only() -> None:
    answer = connector().handshake(by_hand(URL_VERIFICATION), NOW)
    assert answer is not None
    assert (answer.status, answer.body, answer.content_type) == (
        200,
        CHALLENGE.encode(),
        "text/plain; charset=utf-8",
    )
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().handshake(WebhookRequest.build(URL_VERIFICATION), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().handshake(by_hand(URL_VERIFICATION, secret="attacker"), NOW)
    with pytest.raises(VerificationError, match="stale_timestamp"):
        connector().handshake(by_hand(URL_VERIFICATION, NOW - 3600), NOW)


@pytest.mark.parametrize("challenge", ["", "x" * 129, "a b", "<script>", 42, None, "v0:1:{}"])
def test_url_verification_refuses_odd_challenges(challenge: object) -> None:
    body = json.dumps({"type": "url_verification", "challenge": challenge}).encode()
    answer = connector().handshake(by_hand(body), NOW)
    assert answer is not None
    assert answer.status == 400


def test_handshake_ignores_ordinary_events() -> None:
    assert connector().handshake(by_hand(APP_MENTION), NOW) is None
    text = json.dumps({"type": "event_callback", "event": {"type": "message", "text": "url_verification"}})
    assert connector().handshake(by_hand(text.encode()), NOW) is None


def test_events_api_event() -> None:
    [event] = connector().normalize(by_hand(APP_MENTION, **{"Content-Type": "application/json"}))
    assert event.type == "app_mention"
    assert event.dedup_key == event.provider_event_id == "Ev123ABC456"
    assert event.occurred_at is not None
    assert event.occurred_at.year == 2018


def test_envelope_without_event_id() -> None:
    body = b'{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","type":"app_rate_limited","team_id":"T123456",'
    body += b'"minute_rate_limited":1518467820,"api_app_id":"A123456"}'
    [event] = connector().normalize(by_hand(body))
    assert event.type == "app_rate_limited"
    assert event.dedup_key == sha256_of_parts("slack", body)


def test_interactivity_payload() -> None:
    body = urlencode({"payload": fixture("slack", "block_actions.json").decode()}).encode()
    req = signed_request(connector(), body, now=NOW)
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "block_actions"
    assert event.payload["actions"][0]["value"] == "click_me_123"
    assert event.dedup_key == sha256_of_parts("slack", body)


def test_slash_command() -> None:
    body = fixture("slack", "slash_command.form")
    req = by_hand(body, **{"Content-Type": "application/x-www-form-urlencoded"})
    connector().verify(req, NOW)
    assert oracle_accepts(req)
    [event] = connector().normalize(req)
    assert event.type == "slash_command"
    assert event.payload["command"] == "/weather"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"[1]", "application/json"),
        (b"{}", "application/json"),
        (b'{"type": "event_callback"}', "application/json"),
        (b'{"type": "event_callback", "event": {"type": ""}}', "application/json"),
        (b"nope", "application/json"),
        (b"a=b", "application/x-www-form-urlencoded"),
        (b"payload=%5B%5D", "application/x-www-form-urlencoded"),
        (b"payload=%7B", "application/x-www-form-urlencoded"),
        (b"\xff=1", "application/x-www-form-urlencoded"),
    ],
)
def test_normalize_rejects_unusable_bodies(body: bytes, content_type: str) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(by_hand(body, **{"Content-Type": content_type}))


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "app_mention"
