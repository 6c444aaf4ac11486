"""Discord: discord-interactions' `verify_key` (the official Python helper) and PyNaCl as
oracles both ways, PING handshakes of both endpoint kinds, and the refusal of bad
signatures Discord probes with.

Oracle quirk: `verify_key` prints the exception and returns False on failure; its output
is captured so the test log stays quiet.
"""

from __future__ import annotations

import pytest
from discord_interactions import verify_key  # type: ignore[import-untyped]
from nacl.signing import SigningKey

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.discord import DiscordConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

SEED = bytes(range(32))
NACL_KEY = SigningKey(SEED)
PUBLIC_HEX = NACL_KEY.verify_key.encode().hex()
OTHER_KEY = SigningKey(b"\x07" * 32)
EVENT = fixture("discord", "application_authorized.json")
COMMAND = fixture("discord", "application_command.json")


def connector(*publics: str, tolerance: int = 300, seed: bytes | None = SEED) -> DiscordConnector:
    config: dict[str, object] = {"secrets": list(publics or [PUBLIC_HEX]), "tolerance_seconds": tolerance}
    if seed is not None:
        config["signing_keys"] = [seed.hex()]
    return DiscordConnector.from_config(config)


def nacl_signed(body: bytes, ts: int | str = NOW, key: SigningKey = NACL_KEY) -> WebhookRequest:
    signature = key.sign(str(ts).encode() + body).signature.hex()
    return WebhookRequest.build(body, {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": str(ts)})


def oracle_accepts(req: WebhookRequest, public_hex: str = PUBLIC_HEX) -> bool:
    try:
        return bool(
            verify_key(
                req.body, req.headers["x-signature-ed25519"], req.headers["x-signature-timestamp"], public_hex
            )
        )
    except Exception:  # noqa: BLE001 - any oracle failure is a refusal
        return False


def test_known_answer_vector() -> None:
    # Ed25519 is deterministic: the same seed, timestamp and body give the same signature.
    expected = NACL_KEY.sign(b"%d" % NOW + EVENT).signature.hex()
    assert connector().sign(EVENT, NOW).headers["X-Signature-Ed25519"] == expected
    connector().verify(nacl_signed(EVENT), NOW)


def test_sdk_signs_we_accept(capsys: pytest.CaptureFixture[str]) -> None:
    req = nacl_signed(COMMAND)
    assert oracle_accepts(req)
    connector(seed=None).verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(seed=None).verify(tamper(req), NOW)
    assert not oracle_accepts(tamper(req))
    capsys.readouterr()


def test_we_sign_sdk_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    req = signed_request(connector(), EVENT, now=NOW)
    assert oracle_accepts(req)
    assert not oracle_accepts(tamper(req))
    assert not oracle_accepts(req, OTHER_KEY.verify_key.encode().hex())
    capsys.readouterr()


def test_several_public_keys() -> None:
    other_hex = OTHER_KEY.verify_key.encode().hex()
    req = nacl_signed(EVENT, key=OTHER_KEY)
    connector(PUBLIC_HEX, other_hex).verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(PUBLIC_HEX).verify(req, NOW)


def test_uppercase_hex_key_and_signature() -> None:
    req = nacl_signed(EVENT)
    upper = WebhookRequest.build(
        EVENT,
        {
            "X-Signature-Ed25519": req.headers["x-signature-ed25519"].upper(),
            "X-Signature-Timestamp": str(NOW),
        },
    )
    connector(PUBLIC_HEX.upper()).verify(upper, NOW)


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = nacl_signed(EVENT, NOW + offset)
    if ok:
        connector().verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW)


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({"X-Signature-Ed25519": "00" * 64}, "missing_timestamp"),
        ({"X-Signature-Ed25519": "00" * 64, "X-Signature-Timestamp": "x"}, "malformed_timestamp"),
        ({"X-Signature-Ed25519": "zz", "X-Signature-Timestamp": str(NOW)}, "malformed_signature"),
        ({"X-Signature-Ed25519": "00" * 63, "X-Signature-Timestamp": str(NOW)}, "malformed_signature"),
        ({"X-Signature-Ed25519": "\udcff" * 2, "X-Signature-Timestamp": str(NOW)}, "malformed_signature"),
        ({"X-Signature-Ed25519": "00" * 64, "X-Signature-Timestamp": str(NOW)}, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(EVENT, headers), NOW)
    assert exc.value.cause == cause


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"secrets": ["abc"]}, "secrets"),
        ({"secrets": ["00" * 31]}, "32 bytes"),
        ({"secrets": [PUBLIC_HEX], "signing_keys": ["zz"]}, "signing_keys"),
    ],
)
def test_bad_keys_are_config_errors(config: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DiscordConnector.from_config(config)


def test_public_keys_cannot_sign() -> None:
    with pytest.raises(ValueError, match="signing_keys"):
        connector(seed=None).sign(EVENT, NOW)


def test_interactions_ping() -> None:
    answer = connector().handshake(nacl_signed(fixture("discord", "interaction_ping.json")), NOW)
    assert answer is not None
    assert (answer.status, answer.body, answer.content_type) == (200, b'{"type":1}', "application/json")


def test_webhook_events_ping() -> None:
    answer = connector().handshake(nacl_signed(fixture("discord", "events_ping.json")), NOW)
    assert answer is not None
    assert (answer.status, answer.body) == (204, b"")


def test_webhook_events_are_acknowledged_204_and_interactions_by_hookgate() -> None:
    answer = connector().acknowledge(nacl_signed(EVENT))
    assert answer is not None
    assert (answer.status, answer.body) == (204, b"")  # Discord asks for 204, no body
    assert connector().acknowledge(nacl_signed(COMMAND)) is None


@pytest.mark.parametrize("name", ["interaction_ping.json", "events_ping.json"])
def test_pings_with_bad_signatures_get_401(name: str) -> None:
    body = fixture("discord", name)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().handshake(nacl_signed(body, key=OTHER_KEY), NOW)
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().handshake(WebhookRequest.build(body), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().handshake(tamper(nacl_signed(body)), NOW)


def test_webhook_event() -> None:
    req = nacl_signed(EVENT)
    assert connector().handshake(req, NOW) is None
    [event] = connector().normalize(req)
    assert event.type == "APPLICATION_AUTHORIZED"
    assert event.dedup_key == sha256_of_parts("discord", EVENT)
    assert event.occurred_at is not None
    assert event.occurred_at.year == 2024


def test_interaction() -> None:
    req = nacl_signed(COMMAND)
    assert connector().handshake(req, NOW) is None
    [event] = connector().normalize(req)
    assert event.type == "interaction.application_command"
    assert event.dedup_key == event.provider_event_id == "786008729715212338"
    assert event.occurred_at is not None
    assert event.occurred_at.year == 2020


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"x",
        b'{"type": 9, "id": "1"}',
        b'{"type": 2}',
        b'{"type": true, "id": "1"}',
        b'{"type": [], "id": "1"}',
        b'{"event": {}}',
    ],
)
def test_normalize_rejects_unusable_bodies(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(nacl_signed(body))


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "APPLICATION_AUTHORIZED"
