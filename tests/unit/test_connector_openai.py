"""OpenAI: Standard Webhooks checked against the `openai` SDK, `created_at`, fixtures."""

from __future__ import annotations

import base64
import time

import pytest
from openai import InvalidWebhookSignatureError, OpenAI

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.openai import OpenAIConnector
from connectors.testing import check_connector

from ._fakes import NOW
from ._support import fixture

SECRET = "whsec_" + base64.b64encode(b"openai webhook signing key 32by").decode()


def connector(*secrets: str) -> OpenAIConnector:
    return OpenAIConnector.from_config({"secrets": list(secrets or [SECRET])})


def client(secret: str = SECRET) -> OpenAI:
    return OpenAI(api_key="sk-test-hookgate", webhook_secret=secret)


def test_sdk_unwraps_what_we_sign_and_we_verify_what_it_accepts() -> None:
    body = fixture("openai", "response.completed.json")
    now = time.time()  # the SDK checks the timestamp against its own clock
    signed = connector().sign(body, now)
    event = client().webhooks.unwrap(body.decode(), signed.headers)
    assert (event.type, event.id) == ("response.completed", "evt_685343a1381c819085d44c354e1b330e")
    connector().verify(WebhookRequest.build(body, signed.headers), now)
    other = client("whsec_" + base64.b64encode(b"another key").decode())
    with pytest.raises(InvalidWebhookSignatureError):
        other.webhooks.unwrap(body.decode(), signed.headers)


def test_fixture_verifies_and_normalizes() -> None:
    body = fixture("openai", "response.completed.json")
    req = WebhookRequest.build(body, connector().sign(body, NOW).headers)
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "response.completed"
    assert event.dedup_key == req.headers["webhook-id"]
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2025-06-18T22:50:18+00:00"


def test_rotation_and_forgery() -> None:
    other = "whsec_" + base64.b64encode(b"the previous key").decode()
    req = WebhookRequest.build(b"{}", connector(other).sign(b"{}", NOW).headers)
    connector(SECRET, other).verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(req, NOW)


def test_a_body_without_type_is_malformed() -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(b'{"id": "evt_1"}', {"webhook-id": "msg_1"}))


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "response.completed"
    assert event.occurred_at is not None
