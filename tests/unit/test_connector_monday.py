"""monday.com: the challenge echo, the HS256 JWT in Authorization (checked with PyJWT), events."""

from __future__ import annotations

import json

import jwt
import pytest

from connectors import VerificationError, WebhookRequest
from connectors.monday import MondayConnector
from connectors.testing import check_connector, check_malformed

from ._fakes import NOW
from ._support import fixture

SECRET = "monday-signing-secret-5e8a1c-0f3b9d27c4"
OTHER = "monday-signing-secret-000000-0f3b9d27c4"
OLD = "monday-signing-secret-old000-0f3b9d27c4"


def connector(*secrets: str) -> MondayConnector:
    return MondayConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, token: str) -> WebhookRequest:
    return WebhookRequest.build(body, {"Authorization": token, "Content-Type": "application/json"})


def test_pyjwt_token_verifies_and_sign_makes_what_pyjwt_reads() -> None:
    token = jwt.encode({"accountId": 1, "iat": NOW, "exp": NOW + 60}, SECRET, algorithm="HS256")
    connector().verify(delivery(b"{}", token), NOW)
    connector().verify(delivery(b"{}", f"Bearer {token}"), NOW)
    signed = connector().sign(b"{}", NOW).headers["Authorization"]
    claims = jwt.decode(
        signed, SECRET, algorithms=["HS256"], options={"verify_aud": False, "verify_exp": False}
    )
    assert claims["iat"] == NOW


def test_challenge_is_echoed() -> None:
    body = fixture("monday", "challenge.json").strip()
    answer = connector().handshake(WebhookRequest.build(body), NOW)
    assert answer is not None
    assert (answer.status, answer.body) == (200, body)
    for other in (b'{"challenge": 3}', b'{"challenge": "a", "event": {}}', b"{}", b'{"challenge": ""}'):
        assert connector().handshake(WebhookRequest.build(other), NOW) is None


def test_fixture() -> None:
    [event] = connector().normalize(delivery(fixture("monday", "create_pulse.json"), ""))
    assert event.type == "create_pulse"
    assert event.dedup_key == event.provider_event_id == "8cbd9ed1a4c3d3e5c5ba0ff5d5c1a2a8"
    assert event.occurred_at is not None
    assert int(event.occurred_at.timestamp()) == NOW


@pytest.mark.parametrize(
    ("token", "cause"),
    [
        ("", "missing_token"),
        ("not-a-jwt", "malformed_token"),
        (jwt.encode({"iat": NOW}, OTHER, algorithm="HS256"), "bad_signature"),
        (jwt.encode({"iat": NOW}, SECRET * 2, algorithm="HS512"), "unsupported_algorithm"),
        (jwt.encode({"iat": NOW, "exp": NOW - 120}, SECRET, algorithm="HS256"), "expired_token"),
    ],
)
def test_refused_tokens(token: str, cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(delivery(b"{}", token), NOW)
    assert exc.value.cause == cause


def test_rotation() -> None:
    token = jwt.encode({"iat": NOW}, OLD, algorithm="HS256")
    connector(SECRET, OLD).verify(delivery(b"{}", token), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"event": {}}', b'{"event": {"type": 1}}')


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW, signs_body=False)
    assert event.type == "create_pulse"
    assert json.loads(connector().sample_body(NOW))["event"]["triggerUuid"] == event.dedup_key
