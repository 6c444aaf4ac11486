"""Shared secret: header (with a Bearer prefix), Basic and query tokens; type and id options."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.shared_secret import SharedSecretConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

TOKEN = "s3cr3t-t0ken"
BEARER = {"header_name": "Authorization", "token_prefix": "Bearer ", "token": TOKEN}


def connector(**options: Any) -> SharedSecretConnector:
    return SharedSecretConnector.from_config(options or {"header_name": "X-Webhook-Token", "token": TOKEN})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one authentication mode"),
        ({"query_param": "t", "token": "x", "token_prefix": "Bearer "}, "only used with header_name"),
        ({**BEARER, "id_header": "X-Id", "id_field": "id"}, "not both"),
        ({**BEARER, "type_header": "bad header"}, "pattern"),
        ({**BEARER, "token": ""}, "must not be empty"),
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SharedSecretConnector.from_config(options)


def test_header_token_with_rotation() -> None:
    c = connector(header_name="X-Webhook-Token", token=["new", "old"])
    c.verify(WebhookRequest.build(b"{}", {"x-webhook-token": " old "}), NOW)
    with pytest.raises(VerificationError, match="bad_token"):
        c.verify(WebhookRequest.build(b"{}", {"x-webhook-token": "older"}), NOW)


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (f"Bearer {TOKEN}", None),
        (f"bearer   {TOKEN}", None),
        (TOKEN, "malformed_token"),
        (f"Basic {TOKEN}", "malformed_token"),
        ("Bearer ", "bad_token"),
        (f"Bearer {TOKEN}x", "bad_token"),
        ("Bearer \udcff", "bad_token"),
        (None, "missing_token"),
    ],
)
def test_bearer_prefix(value: str | None, cause: str | None) -> None:
    headers = {} if value is None else {"Authorization": value}
    req = WebhookRequest.build(b"{}", headers)
    if cause is None:
        connector(**BEARER).verify(req, NOW)
        return
    with pytest.raises(VerificationError) as exc:
        connector(**BEARER).verify(req, NOW)
    assert exc.value.cause == cause


def test_basic_and_query_modes() -> None:
    basic = "Basic " + base64.b64encode(b"hooks:pw").decode()
    connector(username="hooks", password="pw").verify(
        WebhookRequest.build(b"{}", {"Authorization": basic}), NOW
    )
    c = connector(query_param="key", token=TOKEN)
    c.verify(WebhookRequest.build(b"{}", query=f"key={TOKEN}"), NOW)
    with pytest.raises(VerificationError, match="missing_token"):
        c.verify(WebhookRequest.build(b"{}", {"key": TOKEN}), NOW)


def test_fixture_and_event_options() -> None:
    body = fixture("shared-secret", "order.shipped.json")
    [event] = connector().normalize(WebhookRequest.build(body))
    assert (event.type, event.dedup_key) == ("order.shipped", sha256_of_parts("shared-secret", body))
    [event] = connector(**BEARER, id_field="id").normalize(WebhookRequest.build(body))
    assert event.dedup_key == event.provider_event_id == "evt_01HF3Z8K2M4N6P8R0T2V4X6Z8B"
    c = connector(**BEARER, type_header="X-Event", id_header="X-Delivery")
    [event] = c.normalize(WebhookRequest.build(body, {"X-Event": "shipment", "X-Delivery": "d-1"}))
    assert (event.type, event.dedup_key, event.delivery_id) == ("shipment", "d-1", "d-1")
    [event] = c.normalize(WebhookRequest.build(body))
    assert (event.type, event.dedup_key) == ("webhook", sha256_of_parts("shared-secret", body))


def test_form_bodies_and_unusable_bodies() -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    [event] = connector().normalize(WebhookRequest.build(b"type=ping&data[a]=1", form))
    assert (event.type, event.payload) == ("ping", {"type": "ping", "data": {"a": "1"}})
    for body in [b"<xml/>", b"", b'{"type": 5}']:
        with pytest.raises(MalformedPayloadError):
            connector().normalize(WebhookRequest.build(body))


@pytest.mark.parametrize(
    "options",
    [
        {"header_name": "X-Webhook-Token", "token": TOKEN},
        {**BEARER, "type_header": "X-Event", "id_header": "X-Delivery"},
        {"username": "hooks", "password": "pw"},
        {"query_param": "key", "token": TOKEN},
    ],
)
def test_check_connector(options: dict[str, Any]) -> None:
    c = connector(**options)
    [event] = check_connector(c, NOW, signs_body=False)  # a token protects no body
    assert event.type in {"order.shipped", "webhook"}
    c.verify(tamper(signed_request(c, now=NOW)), NOW)
