"""Telnyx: Ed25519 over `timestamp|body` checked with the `telnyx` SDK and PyNaCl,
tolerance, several keys."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from telnyx import Telnyx

from connectors import VerificationError, WebhookRequest
from connectors.telnyx import TelnyxConnector
from connectors.testing import check_connector, check_malformed, check_tolerance

from ._fakes import NOW
from ._support import fixture


def keypair(label: bytes) -> tuple[str, str]:
    seed = (label * 32)[:32]
    public = (
        Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    return base64.b64encode(public).decode(), base64.b64encode(seed).decode()


PUBLIC, SEED = keypair(b"telnyx")
OTHER_PUBLIC, OTHER_SEED = keypair(b"other")


def connector(*publics: str, seed: str = SEED, **options: object) -> TelnyxConnector:
    return TelnyxConnector.from_config(
        {"secrets": list(publics or [PUBLIC]), "signing_keys": [seed], **options}
    )


def test_pynacl_verifies_what_we_sign() -> None:
    body = fixture("telnyx", "message.received.json")
    headers = connector().sign(body, NOW).headers
    signed = headers["telnyx-timestamp"].encode() + b"|" + body
    signature = base64.b64decode(headers["telnyx-signature-ed25519"])
    VerifyKey(base64.b64decode(PUBLIC)).verify(signed, signature)
    with pytest.raises(BadSignatureError):
        VerifyKey(base64.b64decode(OTHER_PUBLIC)).verify(signed, signature)
    # Ed25519 is deterministic: the same seed, time and body give the same signature.
    assert connector().sign(body, NOW).headers == headers


def test_the_telnyx_sdk_unwraps_what_we_sign() -> None:
    # The SDK checks the timestamp against its own clock: sign at the real time.
    body = fixture("telnyx", "message.received.json")
    headers = connector().sign(body, time.time()).headers
    client = Telnyx(api_key="KEY_hookgate_test")
    event = client.webhooks.unwrap(body.decode(), headers=headers, key=PUBLIC)
    assert getattr(getattr(event, "data", None), "id", None) == "b301ed3f-1490-491f-995f-6e64e69674d4"
    with pytest.raises(ValueError, match="Signature verification failed"):
        client.webhooks.unwrap(body.decode(), headers=headers, key=OTHER_PUBLIC)


def test_fixture_verifies_and_normalizes() -> None:
    body = fixture("telnyx", "message.received.json")
    req = WebhookRequest.build(body, connector().sign(body, NOW).headers)
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("message.received", "b301ed3f-1490-491f-995f-6e64e69674d4")
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2025-03-22T19:29:50.211000+00:00"


def test_several_keys_and_forgery() -> None:
    req = WebhookRequest.build(b"{}", connector(seed=OTHER_SEED).sign(b"{}", NOW).headers)
    connector(PUBLIC, OTHER_PUBLIC).verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(req, NOW)


def test_tolerance_both_ways() -> None:
    check_tolerance(
        connector(), lambda at: WebhookRequest.build(b"{}", connector().sign(b"{}", at).headers), NOW, 300
    )


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"telnyx-signature-ed25519": ""}, "missing_signature"),
        ({"telnyx-timestamp": ""}, "missing_timestamp"),
        ({"telnyx-timestamp": "soon"}, "malformed_timestamp"),
        ({"telnyx-signature-ed25519": "not base64!"}, "malformed_signature"),
        ({"telnyx-signature-ed25519": base64.b64encode(b"short").decode()}, "bad_signature"),
        ({"telnyx-timestamp": str(NOW + 1)}, "bad_signature"),
    ],
)
def test_garbled_headers(change: dict[str, str], cause: str) -> None:
    headers = {**connector().sign(b"{}", NOW).headers, **change}
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(b"{}", headers), NOW)
    assert exc.value.cause == cause


def test_options_refuse_keys_that_are_not_ed25519() -> None:
    with pytest.raises(ValueError, match=r"secrets\[0\]"):
        TelnyxConnector.from_config({"secrets": ["c2hvcnQ="]})
    with pytest.raises(ValueError, match=r"signing_keys\[0\]"):
        TelnyxConnector.from_config({"secrets": [PUBLIC], "signing_keys": ["%%%"]})
    with pytest.raises(ValueError, match="signing_keys"):
        TelnyxConnector.from_config({"secrets": [PUBLIC]}).sign(b"{}", NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b'{"data": {"id": "x"}}', b'{"data": {"event_type": "call.hangup"}}')


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "message.received"
