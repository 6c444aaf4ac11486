"""Meta: no official Python oracle, so signatures are computed independently with the
stdlib (HMAC-SHA256 of the raw, escaped-unicode body); the GET verify-token handshake;
fan-out of batched entries."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.meta import MetaConnector
from connectors.testing import check_connector, tamper

from ._fakes import NOW
from ._support import fixture

SECRET = "a6f2c9d1e8b7a4c3d2e1f0a9b8c7d6e5"
OLD_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TOKEN = "meatyhamhock"
WHATSAPP = fixture("meta", "whatsapp_messages.json")
BATCH = fixture("meta", "page_batch.json")


def connector(*secrets: str, tokens: tuple[str, ...] = (TOKEN,)) -> MetaConnector:
    return MetaConnector.from_config({"secrets": list(secrets or [SECRET]), "verify_tokens": list(tokens)})


def by_hand(body: bytes, secret: str = SECRET) -> WebhookRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"X-Hub-Signature-256": f"sha256={digest}"})


def get(query: str) -> WebhookRequest:
    return WebhookRequest.build(b"", method="GET", query=query)


def test_known_answer_vector() -> None:
    expected = hmac.new(SECRET.encode(), WHATSAPP, hashlib.sha256).hexdigest()
    assert connector().sign(WHATSAPP, NOW).headers["X-Hub-Signature-256"] == f"sha256={expected}"
    connector().verify(by_hand(WHATSAPP), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(tamper(by_hand(WHATSAPP)), NOW)


def test_escaped_unicode_body_is_verified_as_sent() -> None:
    assert b"\\u00e9" in BATCH
    connector().verify(by_hand(BATCH), NOW)


def test_rotation_and_no_timestamp() -> None:
    old = by_hand(WHATSAPP, OLD_SECRET)
    connector(SECRET, OLD_SECRET).verify(old, 0)
    connector(SECRET, OLD_SECRET).verify(old, NOW * 2)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(SECRET).verify(old, NOW)


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({"X-Hub-Signature": "sha1=00"}, "missing_signature"),
        ({"X-Hub-Signature-256": "md5=00"}, "malformed_signature"),
        ({"X-Hub-Signature-256": "sha256=\udcff"}, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(WHATSAPP, headers), NOW)
    assert exc.value.cause == cause


def test_verify_token_handshake() -> None:
    answer = connector().handshake(
        get(f"hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=1158201444"), NOW
    )
    assert answer is not None
    assert (answer.status, answer.body, answer.content_type) == (
        200,
        b"1158201444",
        "text/plain; charset=utf-8",
    )
    rotated = connector(tokens=("new-token", TOKEN))
    answer = rotated.handshake(get(f"hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=42"), NOW)
    assert answer is not None
    assert answer.status == 200


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", 403),
        ("hub.mode=subscribe&hub.verify_token=&hub.challenge=1", 403),
        ("hub.mode=subscribe&hub.challenge=1", 400),
        ("hub.mode=unsubscribe&hub.verify_token=meatyhamhock&hub.challenge=1", 400),
        ("hub.mode=subscribe&hub.verify_token=meatyhamhock&hub.challenge=%3Cscript%3E", 400),
        ("hub.mode=subscribe&hub.verify_token=meatyhamhock&hub.challenge=" + "9" * 129, 400),
        ("", 400),
    ],
)
def test_handshake_refusals(query: str, status: int) -> None:
    answer = connector().handshake(get(query), NOW)
    assert answer is not None
    assert answer.status == status
    assert TOKEN.encode() not in answer.body


def test_posts_are_not_handshakes() -> None:
    assert connector().handshake(by_hand(WHATSAPP), NOW) is None
    assert "GET" in MetaConnector.methods


def test_whatsapp_message() -> None:
    [event] = connector().normalize(by_hand(WHATSAPP))
    assert event.type == "whatsapp_business_account.messages"
    assert event.provider_event_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert event.payload["value"]["messages"][0]["text"]["body"] == "Does it come in another color?"
    assert event.occurred_at is None  # WhatsApp entries carry no time


def test_batch_fans_out_with_distinct_keys() -> None:
    events = connector().normalize(by_hand(BATCH))
    assert [e.type for e in events] == ["page.feed", "page.feed", "page.messaging"]
    assert len({e.dedup_key for e in events}) == 3
    assert events[0].payload["value"]["item"] == "status"
    assert events[2].payload["message"]["text"] == "hello, world!"
    assert events[0].occurred_at is not None
    assert int(events[0].occurred_at.timestamp()) == 1699999990
    again = connector().normalize(by_hand(BATCH))
    assert [e.dedup_key for e in again] == [e.dedup_key for e in events]  # a retry dedups


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"x",
        b'{"entry": []}',
        b'{"object": "page"}',
        b'{"object": "page", "entry": []}',
        b'{"object": "page", "entry": [1]}',
        b'{"object": "page", "entry": [{"changes": {}}]}',
        b'{"object": "page", "entry": [{"changes": [1]}]}',
        b'{"object": "page", "entry": [{"changes": [{"field": ""}]}]}',
        b'{"object": "page", "entry": [{"messaging": [2]}]}',
    ],
)
def test_normalize_rejects_unusable_bodies(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(by_hand(body))


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "whatsapp_business_account.messages"
