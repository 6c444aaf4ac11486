"""Freshservice: Freshdesk's authentication modes with Freshservice's defaults."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from connectors import VerificationError, WebhookRequest, sha256_of_parts
from connectors.freshservice import FreshserviceConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

API_KEY = "sY3kT9vQ2mX8bN4cR7wZ"


def connector(**options: Any) -> FreshserviceConnector:
    return FreshserviceConnector.from_config(options or {"username": API_KEY, "password": "X"})


def basic(user: str, password: str, body: bytes = b"{}") -> WebhookRequest:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return WebhookRequest.build(body, {"Authorization": f"Basic {token}"})


def test_api_key_basic_auth_and_fixture() -> None:
    body = fixture("freshservice", "ticket_created.json")
    req = basic(API_KEY, "X", body)
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "ticket.created"
    assert event.dedup_key == sha256_of_parts("freshservice", body)
    assert event.payload["ticket"]["id"] == 4711
    with pytest.raises(VerificationError, match="bad_credentials"):
        connector().verify(basic(API_KEY, "x"), NOW)


def test_rotation_and_header_mode() -> None:
    c = connector(header_name="X-Api-Key", token=["new", "old"])
    c.verify(WebhookRequest.build(b"{}", {"x-api-key": "old"}), NOW)
    with pytest.raises(VerificationError, match="bad_token"):
        c.verify(WebhookRequest.build(b"{}", {"x-api-key": "older"}), NOW)


def test_defaults() -> None:
    assert connector().normalize(WebhookRequest.build(b'{"ticket": {}}'))[0].type == "freshservice.webhook"
    c = connector(query_param="token", token="t", type_field="event.name", default_type="fs")
    assert (
        c.normalize(WebhookRequest.build(b'{"event": {"name": "ticket.closed"}}'))[0].type == "ticket.closed"
    )


def test_options_are_validated_like_freshdesk() -> None:
    with pytest.raises(ValidationError, match="exactly one authentication mode"):
        FreshserviceConnector.from_config({})


@pytest.mark.parametrize(
    "options",
    [
        {"username": API_KEY, "password": "X"},
        {"header_name": "X-Api-Key", "token": "t"},
        {"query_param": "token", "token": "t"},
    ],
)
def test_check_connector(options: dict[str, Any]) -> None:
    c = connector(**options)
    [event] = check_connector(c, NOW, signs_body=False)  # no signature: the body is not protected
    assert event.type == "ticket.created"
    assert c.sign(b"{}", NOW).headers["User-Agent"] == "Freshservice"
    c.verify(tamper(signed_request(c, now=NOW)), NOW)
