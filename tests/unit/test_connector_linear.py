"""Linear: hex `Linear-Signature`, the signed `webhookTimestamp` window, types, fuzzing."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from connectors import VerificationError, WebhookRequest, sha256_of_parts
from connectors.linear import LinearConnector
from connectors.testing import check_connector, check_malformed, check_rotation, check_tolerance

from ._fakes import NOW
from ._support import fixture

SECRET = "lin_wh_8f3a2c1d0e9b8a7f6e5d4c3b2a190817"
HUSH = "796aa882fa14a077f11a8ce83aeaffea62bc7e9a27834fa93e05caa3aaa5bb44"
DELIVERY = "234d1a4e-b617-4388-90fe-adc3633d6b72"


def connector(*secrets: str, **options: object) -> LinearConnector:
    return LinearConnector.from_config({"secrets": list(secrets or [SECRET]), **options})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    headers = {
        "Linear-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "Linear-Delivery": DELIVERY,
        "Linear-Event": "Issue",
        "Content-Type": "application/json; charset=utf-8",
    }
    return WebhookRequest.build(body, headers)


def body_at(ms: object, **extra: object) -> bytes:
    return json.dumps({"type": "Issue", "action": "update", "webhookTimestamp": ms, **extra}).encode()


def test_known_answer() -> None:
    # HMAC-SHA256 hex of "Hello, World!" under "hush", computed with the stdlib.
    assert delivery(b"Hello, World!", "hush").headers["linear-signature"] == HUSH
    req = WebhookRequest.build(b"Hello, World!", {"linear-signature": HUSH})
    connector("hush", tolerance_seconds=0).verify(req, NOW)
    assert connector("hush").sign(b"Hello, World!", NOW).headers["Linear-Signature"] == HUSH


def test_fixture() -> None:
    req = delivery(fixture("linear", "issue.create.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "Issue.create"
    assert event.dedup_key == event.delivery_id == DELIVERY
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2023-11-14T22:13:19.812000+00:00"


def test_tolerance_both_sides() -> None:
    check_tolerance(connector(), lambda at: delivery(body_at(at * 1000)), NOW, 60)
    for skew in (-61, 61):  # 0 turns the window off
        connector(tolerance_seconds=0).verify(delivery(body_at((NOW + skew) * 1000)), NOW)


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"not json", "missing_timestamp"),
        (b"[1]", "missing_timestamp"),
        (b'{"type": "Issue"}', "missing_timestamp"),
        (body_at("1700000000000"), "missing_timestamp"),
        (body_at(True), "missing_timestamp"),
        (body_at(1.7e12), "missing_timestamp"),
        (body_at(-1), "malformed_timestamp"),
        (body_at(10**400), "malformed_timestamp"),
    ],
)
def test_unusable_timestamps_fail_closed(body: bytes, cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(delivery(body), NOW)
    assert exc.value.cause == cause
    connector(tolerance_seconds=0).verify(delivery(body), NOW)


def test_signature_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(delivery(b"not json", secret="wrong"), NOW)


def test_types_and_fallbacks() -> None:
    c = connector()
    [event] = c.normalize(WebhookRequest.build(b'{"action": "remove"}', {"Linear-Event": "Comment"}))
    assert (event.type, event.dedup_key) == (
        "Comment.remove",
        sha256_of_parts("linear", b'{"action": "remove"}'),
    )
    [event] = c.normalize(WebhookRequest.build(b'{"type": "Project"}'))
    assert event.type == "Project"


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"type": 5}', b'{"type": "Issue", "action": ""}', b"\xff")


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(body_at(NOW * 1000), secret=secret), NOW)


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("sha256=" + HUSH, "bad_signature"),
        ("\udcff", "bad_signature"),
    ],
)
def test_garbled_headers(value: str | None, cause: str) -> None:
    headers = {} if value is None else {"Linear-Signature": value}
    with pytest.raises(VerificationError) as exc:
        connector("hush").verify(WebhookRequest.build(b"Hello, World!", headers), NOW)
    assert exc.value.cause == cause


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "Issue.create"
    assert connector().sign(connector().sample_body(NOW), NOW).headers["Linear-Event"] == "Issue"
