"""Intercom: HMAC-SHA1 `X-Hub-Signature`, rotation, topics, the ping notification, fuzzing."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import VerificationError, WebhookRequest, sha256_of_parts
from connectors.intercom import IntercomConnector
from connectors.testing import check_connector, check_malformed, check_rotation, signed_request

from ._fakes import NOW
from ._support import fixture

SHA256_HEX = "sha256=796aa882fa14a077f11a8ce83aeaffea62bc7e9a27834fa93e05caa3aaa5bb44"
SECRET = "1c3f5e2a-0b9d-4c6e-8f7a-2d4b6c8e0f1a"


def connector(*secrets: str) -> IntercomConnector:
    return IntercomConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return WebhookRequest.build(
        body, {"X-Hub-Signature": f"sha1={digest}", "Content-Type": "application/json"}
    )


def test_known_answer() -> None:
    # HMAC-SHA1("hush", "Hello, World!"), computed with the stdlib.
    expected = "sha1=cc72288632ae6f8eb21b7511f7d989d5a74e1601"
    assert delivery(b"Hello, World!", "hush").headers["x-hub-signature"] == expected
    connector("hush").verify(WebhookRequest.build(b"Hello, World!", {"X-Hub-Signature": expected}), NOW)
    connector("hush").verify(
        WebhookRequest.build(
            b"Hello, World!", {"X-Hub-Signature": expected.upper()[:5].lower() + expected[5:].upper()}
        ),
        NOW,
    )
    assert connector("hush").sign(b"Hello, World!", NOW).headers["X-Hub-Signature"] == expected


def test_fixture() -> None:
    req = delivery(fixture("intercom", "conversation.user.created.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "conversation.user.created"
    assert event.dedup_key == event.provider_event_id == "notif_3f1b8e2c-1b6a-4f4e-9c7e-1a2b3c4d5e6f"
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW


def test_ping_has_no_id_so_the_body_hash_dedups() -> None:
    body = fixture("intercom", "ping.json")
    [event] = connector().normalize(delivery(body))
    assert (event.type, event.provider_event_id) == ("ping", None)
    assert event.dedup_key == sha256_of_parts("intercom", body)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"topic": 3}', b'{"topic": ""}', b"nope")


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({"X-Hub-Signature": ""}, "missing_signature"),
        ({"X-Hub-Signature-256": SHA256_HEX}, "missing_signature"),
        ({"X-Hub-Signature": "cc72288632ae6f8eb21b7511f7d989d5a74e1601"}, "malformed_signature"),
        ({"X-Hub-Signature": SHA256_HEX}, "malformed_signature"),
        ({"X-Hub-Signature": "sha1=\udcff"}, "bad_signature"),
    ],
)  # fmt: skip
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector("hush").verify(WebhookRequest.build(b"Hello, World!", headers), NOW)
    assert exc.value.cause == cause


def test_no_timestamp_so_any_clock_is_fine() -> None:
    req = signed_request(connector(), now=NOW)
    connector().verify(req, 0)
    connector().verify(req, NOW * 2)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "conversation.user.created"
