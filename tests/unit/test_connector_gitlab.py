"""GitLab: the secret token, the Standard-Webhooks signing token (oracle: standardwebhooks)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.gitlab import GitLabConnector
from connectors.testing import check_connector, tamper

from ._fakes import NOW
from ._support import fixture

TOKEN = "glwt-7f3e9b2c4a1d"
SIGNING = "whsec_" + base64.b64encode(bytes(range(32))).decode()
IDEMPOTENCY = "1f1e0b5e-3c0a-4a5b-9d2e-7c6b5a4f3e2d"
EVENT_UUID = "0f0e0d0c-0b0a-4908-8706-050403020100"


def connector(**options: Any) -> GitLabConnector:
    return GitLabConnector.from_config(options or {"secrets": TOKEN})


def delivery(
    body: bytes, token: str | None = TOKEN, event: str = "Push Hook", **extra: str
) -> WebhookRequest:
    headers = {
        "Content-Type": "application/json",
        "X-Gitlab-Event": event,
        "X-Gitlab-Event-UUID": EVENT_UUID,
        "Idempotency-Key": IDEMPOTENCY,
        **extra,
    }
    if token is not None:
        headers["X-Gitlab-Token"] = token
    return WebhookRequest.build(body, headers)


def oracle_signed(
    body: bytes, key: str = SIGNING, msg_id: str = IDEMPOTENCY, ts: int = NOW
) -> dict[str, str]:
    signature = Webhook(key).sign(msg_id, datetime.fromtimestamp(ts, UTC), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "set secrets"),
        ({"secrets": []}, "set secrets"),
        ({"secrets": ""}, "must not be empty"),
        ({"signing_secrets": "whpk_" + base64.b64encode(b"\x01" * 32).decode()}, "whsec_"),
        ({"signing_secrets": "whsec_!!!"}, "base64"),
        ({"secrets": "t", "tolerance_seconds": -1}, "greater than or equal"),
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GitLabConnector.from_config(options)


def test_secret_token() -> None:
    body = fixture("gitlab", "push.json")
    connector().verify(delivery(body), NOW)
    with pytest.raises(VerificationError, match="bad_token"):
        connector().verify(delivery(body, token=TOKEN + "x"), NOW)
    with pytest.raises(VerificationError, match="missing_token"):
        connector().verify(delivery(body, token=None), NOW)
    with pytest.raises(VerificationError, match="bad_token"):
        connector().verify(delivery(body, token="\udcff"), NOW)


def test_secret_token_rotation() -> None:
    c = connector(secrets=["new", "old"])
    c.verify(delivery(b"{}", token="old"), NOW)
    c.verify(delivery(b"{}", token="new"), NOW)


def test_signing_token_against_the_standardwebhooks_oracle() -> None:
    body = fixture("gitlab", "push.json")
    c = connector(signing_secrets=SIGNING)
    c.verify(delivery(body, token=None, **oracle_signed(body)), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        c.verify(delivery(tamper(WebhookRequest.build(body)).body, token=None, **oracle_signed(body)), NOW)
    # and the other way: what sign() produces, the oracle accepts
    headers = c.sign(body, NOW).headers
    expected = Webhook(SIGNING).sign(headers["webhook-id"], datetime.fromtimestamp(NOW, UTC), body.decode())
    assert headers["webhook-signature"] == expected
    assert headers["Idempotency-Key"] == headers["webhook-id"]


def test_signing_token_rotation_and_tolerance() -> None:
    old = "whsec_" + base64.b64encode(b"\x07" * 32).decode()
    c = connector(signing_secrets=[SIGNING, old])
    c.verify(delivery(b"{}", token=None, **oracle_signed(b"{}", key=old)), NOW)
    for skew, ok in [(-300, True), (300, True), (-301, False), (301, False)]:
        req = delivery(b"{}", token=None, **oracle_signed(b"{}"))
        if ok:
            c.verify(req, NOW + skew)
        else:
            with pytest.raises(VerificationError, match="stale_timestamp"):
                c.verify(req, NOW + skew)


def test_both_checks_when_both_are_configured() -> None:
    c = connector(secrets=TOKEN, signing_secrets=SIGNING)
    c.verify(delivery(b"{}", **oracle_signed(b"{}")), NOW)
    with pytest.raises(VerificationError, match="missing_header"):
        c.verify(delivery(b"{}"), NOW)
    with pytest.raises(VerificationError, match="missing_token"):
        c.verify(delivery(b"{}", token=None, **oracle_signed(b"{}")), NOW)


def test_fixtures_and_dedup() -> None:
    [event] = connector().normalize(delivery(fixture("gitlab", "push.json")))
    assert (event.type, event.dedup_key, event.delivery_id) == ("Push Hook", IDEMPOTENCY, IDEMPOTENCY)
    assert event.provider_event_id == EVENT_UUID
    body = fixture("gitlab", "merge_request.json")
    req = WebhookRequest.build(body, {"X-Gitlab-Event-UUID": EVENT_UUID})
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("merge_request", EVENT_UUID)
    [event] = connector().normalize(WebhookRequest.build(body, {"X-Gitlab-Event": "Merge Request Hook"}))
    assert event.dedup_key == sha256_of_parts("gitlab", body)


def test_signed_id_is_the_dedup_key_when_signing() -> None:
    c = connector(signing_secrets=SIGNING)
    req = delivery(b"{}", token=None, **oracle_signed(b"{}", msg_id="signed-id"))
    assert c.normalize(req)[0].dedup_key == "signed-id"


@pytest.mark.parametrize(
    ("body", "headers"),
    [(b"{}", {}), (b"[]", {"X-Gitlab-Event": "Push Hook"}), (b'{"object_kind": 1}', {}), (b"{", {})],
)
def test_unusable_deliveries(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body, headers))


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW, signs_body=False)  # a token protects no body
    assert event.type == "Push Hook"
    [event] = check_connector(connector(signing_secrets=SIGNING), NOW)
    [event] = check_connector(connector(secrets=TOKEN, signing_secrets=SIGNING), NOW)
    assert connector().sign(fixture("gitlab", "merge_request.json"), NOW).headers["X-Gitlab-Event"] == (
        "Merge Request Hook"
    )
