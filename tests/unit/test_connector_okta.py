"""Okta Event Hooks: a static secret header (no signature, so no SDK oracle), the one-time
verification GET, and fan-out of `data.events[]`."""

from __future__ import annotations

import json

import pytest

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.okta import OktaConnector
from connectors.testing import check_connector

from ._fakes import NOW
from ._support import fixture

SECRET = "Basic aG9va2dhdGU6b2t0YS1ldmVudC1ob29r"
BODY = fixture("okta", "user.lifecycle.json")
CHALLENGE = "Gp_9Bfuo3TMq6Cz1rRbzvLQOJqjcLC4dRuEPJHGU"


def connector(*secrets: str, **options: object) -> OktaConnector:
    return OktaConnector.from_config({"secrets": list(secrets or [SECRET]), **options})


def post(body: bytes, value: str = SECRET, header: str = "Authorization") -> WebhookRequest:
    return WebhookRequest.build(body, {header: value, "Content-Type": "application/json"})


def challenge(value: str = CHALLENGE, auth: str | None = SECRET) -> WebhookRequest:
    headers = {"X-Okta-Verification-Challenge": value}
    if auth is not None:
        headers["Authorization"] = auth
    return WebhookRequest.build(b"", headers, method="GET")


def test_secret_header() -> None:
    connector().verify(post(BODY), NOW)
    connector("new", SECRET).verify(post(BODY), NOW)  # rotation
    with pytest.raises(VerificationError, match="bad_token"):
        connector().verify(post(BODY, "Basic forged"), NOW)
    with pytest.raises(VerificationError, match="missing_token"):
        connector().verify(WebhookRequest.build(BODY), NOW)
    with pytest.raises(VerificationError, match="bad_token"):
        connector().verify(post(BODY, "\udcff\u00e9"), NOW)


def test_custom_header_name() -> None:
    c = connector(header_name="X-Hook-Token")
    c.verify(post(BODY, header="x-hook-token"), NOW)
    with pytest.raises(VerificationError, match="missing_token"):
        c.verify(post(BODY), NOW)
    assert "X-Hook-Token" in c.sign(BODY, NOW).headers


def test_verification_challenge() -> None:
    answer = connector().handshake(challenge(), NOW)
    assert answer is not None
    assert (answer.status, answer.content_type) == (200, "application/json")
    assert json.loads(answer.body) == {"verification": CHALLENGE}
    assert "GET" in OktaConnector.methods


def test_verification_needs_the_secret_header_by_default() -> None:
    with pytest.raises(VerificationError, match="missing_token"):
        connector().handshake(challenge(auth=None), NOW)
    with pytest.raises(VerificationError, match="bad_token"):
        connector().handshake(challenge(auth="guess"), NOW)
    answer = connector(challenge_requires_auth=False).handshake(challenge(auth=None), NOW)
    assert answer is not None
    assert answer.status == 200


@pytest.mark.parametrize("value", ["", "a b", "x" * 257, "<script>", "\u00e9"])
def test_odd_challenges_are_refused(value: str) -> None:
    answer = connector().handshake(challenge(value), NOW)
    assert answer is not None
    assert answer.status == 400
    answer = connector().handshake(WebhookRequest.build(b"", {"Authorization": SECRET}, method="GET"), NOW)
    assert answer is not None
    assert answer.status == 400


def test_fan_out() -> None:
    assert connector().handshake(post(BODY), NOW) is None
    events = connector().normalize(post(BODY))
    assert [e.type for e in events] == ["user.lifecycle.create", "user.lifecycle.activate"]
    assert [e.dedup_key for e in events] == [
        "7aaf4ef7-0f4d-11ed-a7c2-6d1c4e5c6a6b",
        "7ab1c6d2-0f4d-11ed-a7c2-0b5f4cda9c11",
    ]
    assert {e.delivery_id for e in events} == {"b5a188b9-5ece-4636-b041-482ffda96311"}
    assert events[0].occurred_at is not None
    assert events[0].occurred_at.isoformat() == "2022-07-29T21:33:13.543000+00:00"


def test_items_without_uuid_get_distinct_keys() -> None:
    body = b'{"data": {"events": [{"eventType": "a"}, {"eventType": "a"}]}}'
    keys = [e.dedup_key for e in connector().normalize(post(body))]
    assert len(set(keys)) == 2


@pytest.mark.parametrize(
    "body",
    [b"x", b"[]", b"{}", b'{"data": {}}', b'{"data": {"events": []}}', b'{"data": {"events": [1]}}',
     b'{"data": {"events": [{"eventType": ""}]}}'],
)  # fmt: skip
def test_normalize_rejects_unusable_bodies(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(post(body))


def test_check_connector() -> None:
    # A static header authenticates without protecting the body, hence signs_body=False.
    events = check_connector(connector(), NOW, signs_body=False)
    assert [e.type for e in events] == ["user.lifecycle.create"]
