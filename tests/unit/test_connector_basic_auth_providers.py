"""Chargebee, Pipedrive and Postmark: HTTP Basic only (rotation, every failure cause), and
each provider's events: types, dedup keys and times from recorded payloads."""

from __future__ import annotations

import base64

import pytest

from connectors import Connector, MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.chargebee import ChargebeeConnector
from connectors.pipedrive import PipedriveConnector
from connectors.postmark import PostmarkConnector
from connectors.testing import check_connector

from ._fakes import NOW
from ._support import fixture

PROVIDERS: list[type[Connector]] = [ChargebeeConnector, PipedriveConnector, PostmarkConnector]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def connector(
    cls: type[Connector], users: list[str] | None = None, passwords: list[str] | None = None
) -> Connector:
    return cls.from_config({"username": users or ["hooks"], "password": passwords or ["s3cret"]})


@pytest.mark.parametrize("cls", PROVIDERS)
def test_credentials_and_rotation(cls: type[Connector]) -> None:
    c = connector(cls, ["hooks"], ["new", "old"])
    for password in ("new", "old"):
        c.verify(WebhookRequest.build(b"{}", {"Authorization": basic("hooks", password)}), NOW)
    for headers, cause in [
        ({}, "missing_credentials"),
        ({"Authorization": "Bearer x"}, "malformed_credentials"),
        ({"Authorization": "Basic !!"}, "malformed_credentials"),
        ({"Authorization": basic("hooks", "other")}, "bad_credentials"),
        ({"Authorization": basic("someone", "new")}, "bad_credentials"),
    ]:
        with pytest.raises(VerificationError) as exc:
            c.verify(WebhookRequest.build(b"{}", headers), NOW)
        assert exc.value.cause == cause
    assert c.sign(b"{}", NOW).headers["Authorization"] == basic("hooks", "new")
    check_connector(c, NOW, signs_body=False)  # no signature: the body is not protected


@pytest.mark.parametrize("cls", PROVIDERS)
def test_options_refuse_empty_credentials(cls: type[Connector]) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        cls.from_config({"username": "hooks", "password": ""})
    with pytest.raises(ValueError, match="password"):
        cls.from_config({"username": "hooks"})


def test_chargebee_event() -> None:
    body = fixture("chargebee", "subscription_created.json")
    [event] = connector(ChargebeeConnector).normalize(WebhookRequest.build(body))
    assert (event.type, event.dedup_key, event.provider_event_id) == (
        "subscription_created",
        "ev_16BPgETyVrQbiGhA",
        "ev_16BPgETyVrQbiGhA",
    )
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2025-03-22T19:28:02+00:00"


def test_pipedrive_v2_and_v1() -> None:
    c = connector(PipedriveConnector)
    [v2] = c.normalize(WebhookRequest.build(fixture("pipedrive", "deal.change.json")))
    assert (v2.type, v2.dedup_key) == ("deal.change", "2b9cd1b1-8d3c-4f5e-9a7b-6c5d4e3f2a1b")
    assert v2.occurred_at is not None
    assert v2.occurred_at.isoformat() == "2025-03-22T19:28:10.471000+00:00"
    body = fixture("pipedrive", "deal.updated.v1.json")
    [v1] = c.normalize(WebhookRequest.build(body))
    assert (v1.type, v1.dedup_key, v1.provider_event_id) == (
        "deal.updated",
        sha256_of_parts("pipedrive", body),
        None,
    )
    assert v1.occurred_at is not None
    assert v1.occurred_at.isoformat() == "2025-03-22T19:28:10+00:00"


def test_postmark_records() -> None:
    c = connector(PostmarkConnector)
    body = fixture("postmark", "bounce.json")
    [bounce] = c.normalize(WebhookRequest.build(body))
    assert bounce.type == "Bounce"
    assert bounce.dedup_key == sha256_of_parts(
        "postmark", "Bounce", "883953f4-6105-42a2-a16a-77a8eac79483", "4323372036854775807"
    )
    assert bounce.occurred_at is not None
    assert bounce.occurred_at.isoformat() == "2025-03-22T19:28:33+00:00"
    inbound = b'{"From": "a@example.com", "MessageID": "m-1", "Date": "Thu, 5 Apr 2012 16:59:01 +0200"}'
    [event] = c.normalize(WebhookRequest.build(inbound))
    assert event.type == "Inbound"
    [sample] = check_connector(c, NOW, signs_body=False)
    assert sample.type == "Delivery"


@pytest.mark.parametrize(
    ("cls", "body"),
    [
        (ChargebeeConnector, b'{"id": "ev_1"}'),
        (ChargebeeConnector, b"[]"),
        (PipedriveConnector, b'{"meta": 1}'),
        (PipedriveConnector, b'{"meta": {"action": "create", "version": "2.0"}}'),
        (PipedriveConnector, b'{"meta": {"object": "deal", "action": ""}}'),
        (PostmarkConnector, b'{"Recipient": "a@example.com"}'),
        (PostmarkConnector, b'{"RecordType": 7}'),
    ],
)
def test_unusable_bodies(cls: type[Connector], body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector(cls).normalize(WebhookRequest.build(body))
