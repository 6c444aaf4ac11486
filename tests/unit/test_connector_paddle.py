"""Paddle: a hand-computed vector, the SDK's Verifier both ways, several h1, 5 s tolerance."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import pytest
from paddle_billing.Notifications import Secret, Verifier  # type: ignore[import-untyped]

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.paddle import PaddleConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

SECRET = "pdl_ntfset_01gkpjp8bkh3ys2cfrxt4gc4pw_5VnYTYtnSG8hFhHcvq7ydZvO1aWLQzYs"
OLD_SECRET = "pdl_ntfset_01gkpjp8bkh3ys2cfrxt4gc4pw_oldoldoldoldoldoldoldoldoldold"
BODY = fixture("paddle", "transaction.completed.json")


def connector(*secrets: str, **options: Any) -> PaddleConnector:
    return PaddleConnector.from_config({"secrets": list(secrets or [SECRET]), **options})


@dataclass
class SdkRequest:
    """What paddle_billing's Verifier reads: `.headers.get()` and `.body`."""

    headers: dict[str, str]
    body: bytes


def oracle(req: WebhookRequest, *secrets: str) -> bool:
    sdk_request = SdkRequest({"Paddle-Signature": req.headers.get("paddle-signature", "")}, req.body)
    keys = [Secret(s) for s in (secrets or (SECRET,))]
    try:
        return bool(Verifier().verify(sdk_request, keys if len(keys) > 1 else keys[0]))
    except Exception:  # noqa: BLE001 - ValueError on unknown keys, ConnectionRefusedError on lists
        return False


def h1(secret: str, ts: int | str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).hexdigest()


def test_known_answer() -> None:
    header = f"ts={NOW};h1={h1(SECRET, NOW, BODY)}"
    req = WebhookRequest.build(BODY, {"Paddle-Signature": header})
    connector().verify(req, NOW)
    assert connector().sign(BODY, NOW).headers["Paddle-Signature"] == header
    [event] = connector().normalize(req)
    assert event.type == "transaction.completed"
    assert event.dedup_key == event.provider_event_id == "evt_01hv8x2acma2gz3he4z1wjnxn7"
    assert event.delivery_id == "ntf_01hv8x2aefh7mrjwk4mekfqsd2"
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2024-04-12T10:18:49.621022+00:00"


def test_our_signature_passes_the_sdk() -> None:
    now = time.time()  # the Verifier checks drift against the real clock
    req = signed_request(connector(), BODY, now=now)
    connector().verify(req, now)
    assert oracle(req)
    assert not oracle(req, OLD_SECRET)
    assert not oracle(tamper(req))
    both = signed_request(connector(SECRET, OLD_SECRET), BODY, now=now)
    assert oracle(both, OLD_SECRET)


def test_sdk_style_signature_passes_ours() -> None:
    now = int(time.time())
    header = f"ts={now};h1={h1(SECRET, now, BODY)}"
    req = WebhookRequest.build(BODY, {"Paddle-Signature": header})
    assert oracle(req)
    connector().verify(req, now)


def test_rotation_both_ways() -> None:
    old, new = h1(OLD_SECRET, NOW, BODY), h1(SECRET, NOW, BODY)
    # Paddle sends both signatures while rotating; we know one secret.
    connector().verify(WebhookRequest.build(BODY, {"Paddle-Signature": f"ts={NOW};h1={old};h1={new}"}), NOW)
    # We know both secrets; Paddle signs with the old one only.
    connector(SECRET, OLD_SECRET).verify(
        WebhookRequest.build(BODY, {"Paddle-Signature": f"ts={NOW};h1={old}"}), NOW
    )
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(WebhookRequest.build(BODY, {"Paddle-Signature": f"ts={NOW};h1={old}"}), NOW)


@pytest.mark.parametrize(("offset", "ok"), [(-5, True), (5, True), (-6, False), (6, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = signed_request(connector(), BODY, now=NOW + offset)
    if ok:
        connector().verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW)
        connector(tolerance_seconds=6).verify(req, NOW)


def test_unknown_keys_are_ignored_unlike_the_sdk() -> None:
    header = f"ts={NOW};h2=abc;h1={h1(SECRET, NOW, BODY)}"
    connector().verify(WebhookRequest.build(BODY, {"Paddle-Signature": header}), NOW)


@pytest.mark.parametrize(
    ("header", "cause"),
    [
        ("", "missing_signature"),
        ("h1=abc", "missing_timestamp"),
        (f"ts={NOW}", "missing_signature"),
        (f"ts={NOW};h2=abc", "missing_signature"),
        (f"ts={NOW};h1", "malformed_signature"),
        (f"ts={NOW};ts={NOW};h1=ab", "malformed_signature"),
        ("ts=17e8;h1=ab", "malformed_timestamp"),
        ("ts=\u00b9;h1=ab", "malformed_timestamp"),
        (f"ts={NOW};h1=\udcff", "bad_signature"),
        (f"ts={NOW};h1=", "bad_signature"),
    ],
)
def test_garbled_headers(header: str, cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(BODY, {"Paddle-Signature": header}), NOW)
    assert exc.value.cause == cause


@pytest.mark.parametrize(
    "body",
    [b"nope", b"[]", b'{"event_type": "x"}', b'{"event_id": "e"}', b'{"event_id": "e", "event_type": ""}'],
)
def test_normalize_rejects_unusable(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body))


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "transaction.completed"
