"""Freshdesk: the three authentication modes, option validation, payload shapes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.freshdesk import FreshdeskConnector, normalize_triggered_event
from connectors.testing import check_connector, check_malformed, signed_request, tamper

from ._fakes import NOW
from ._support import fixture


def connector(**options: Any) -> FreshdeskConnector:
    return FreshdeskConnector.from_config(options or {"username": "hookgate", "password": "pw"})


def basic(username: str | bytes, password: str | bytes, body: bytes = b"{}") -> WebhookRequest:
    u = username.encode() if isinstance(username, str) else username
    p = password.encode() if isinstance(password, str) else password
    token = base64.b64encode(u + b":" + p).decode()
    return WebhookRequest.build(body, {"Authorization": f"Basic {token}"})


def test_documented_config_shape() -> None:
    # `password = "env:…"` is resolved by the gateway before validation; this is what remains.
    c = FreshdeskConnector.from_config({"username": "hookgate", "password": "s3cr3t"})
    c.verify(basic("hookgate", "s3cr3t"), NOW)
    assert [s.get_secret_value() for s in c.options.password] == ["s3cr3t"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one authentication mode"),
        ({"username": "u"}, "both username and password"),
        ({"password": "p"}, "both username and password"),
        ({"username": "u", "password": "p", "header_name": "X-T", "token": "t"}, "found basic and"),
        ({"header_name": "X-T", "query_param": "t", "token": "t"}, "found header and query"),
        ({"header_name": "X-T"}, "needs token"),
        ({"query_param": "token"}, "needs token"),
        ({"token": "t"}, "exactly one authentication mode"),
        ({"username": "u", "password": "p", "token": "t"}, "not with Basic"),
        ({"username": "u", "password": ""}, "must not be empty"),
        ({"username": "u", "password": "p", "bogus": 1}, "Extra inputs"),
        ({"username": "u", "password": "p", "default_type": ""}, "at least 1"),
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FreshdeskConnector.from_config(options)


def test_basic_auth() -> None:
    c = connector()
    c.verify(basic("hookgate", "pw"), NOW)
    for user, password in [("hookgate", "PW"), ("other", "pw"), ("", ""), ("hookgate", "pw\x00")]:
        with pytest.raises(VerificationError) as exc:
            c.verify(basic(user, password), NOW)
        assert exc.value.cause == "bad_credentials"


def test_basic_auth_rotation() -> None:
    c = connector(username="hookgate", password=["new", "old"])
    c.verify(basic("hookgate", "new"), NOW)
    c.verify(basic("hookgate", "old"), NOW)
    with pytest.raises(VerificationError):
        c.verify(basic("hookgate", "older"), NOW)


def test_api_key_style_basic_auth() -> None:
    c = connector(username="api-key-1a2b3c", password="X")
    c.verify(basic("api-key-1a2b3c", "X"), NOW)


def test_password_may_contain_colons() -> None:
    connector(username="u", password="a:b:c").verify(basic("u", "a:b:c"), NOW)


@pytest.mark.parametrize(
    ("authorization", "cause"),
    [
        (None, "missing_credentials"),
        ("Bearer abc", "malformed_credentials"),
        ("Basic", "malformed_credentials"),
        ("Basic !!!!", "malformed_credentials"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "malformed_credentials"),
        ("Basic \u00e9\u00e9\u00e9\u00e9", "malformed_credentials"),
        ("basic " + base64.b64encode(b"hookgate:pw").decode(), None),
    ],
)
def test_garbled_authorization(authorization: str | None, cause: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    req = WebhookRequest.build(b"{}", headers)
    if cause is None:
        connector().verify(req, NOW)
        return
    with pytest.raises(VerificationError) as exc:
        connector().verify(req, NOW)
    assert exc.value.cause == cause


def test_header_token() -> None:
    c = connector(header_name="X-Webhook-Token", token=["t-new", "t-old"])
    for token in ["t-new", "t-old"]:
        c.verify(WebhookRequest.build(b"{}", {"x-webhook-token": token}), NOW)
    with pytest.raises(VerificationError, match="bad_token"):
        c.verify(WebhookRequest.build(b"{}", {"X-Webhook-Token": "t-older"}), NOW)
    with pytest.raises(VerificationError, match="missing_token"):
        c.verify(WebhookRequest.build(b"{}", {"Authorization": "t-new"}), NOW)


def test_query_token() -> None:
    c = connector(query_param="token", token="q-secret")
    c.verify(WebhookRequest.build(b"{}", query="token=q-secret&x=1"), NOW)
    with pytest.raises(VerificationError, match="bad_token"):
        c.verify(WebhookRequest.build(b"{}", query="token=q-secreT"), NOW)
    with pytest.raises(VerificationError, match="missing_token"):
        c.verify(WebhookRequest.build(b"{}", {"token": "q-secret"}), NOW)


@pytest.mark.parametrize(
    "options",
    [
        {"username": "hookgate", "password": "pw"},
        {"header_name": "X-Webhook-Token", "token": "t"},
        {"query_param": "token", "token": "t"},
    ],
)
def test_check_connector_in_every_mode(options: dict[str, Any]) -> None:
    # No signature: a tampered body is accepted by design, so only check the rest.
    [event] = check_connector(connector(**options), NOW, signs_body=False)
    assert event.type == "ticket_action:created"


def test_tampered_body_is_not_detected() -> None:
    req = signed_request(connector(), b'{"a": 1}', now=NOW)
    connector().verify(tamper(req), NOW)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("ticket_created.json", "ticket_action:created"), ("status_changed.json", "status:changed")],
)
def test_json_fixtures(name: str, expected: str) -> None:
    body = fixture("freshdesk", name)
    [event] = connector().normalize(WebhookRequest.build(body))
    assert event.type == expected
    assert event.dedup_key == sha256_of_parts("freshdesk", body)
    assert event.payload["freshdesk_webhook"]["ticket_id"] == "1187"


def test_occurred_at_from_ticket_updated_at() -> None:
    [event] = connector().normalize(WebhookRequest.build(fixture("freshdesk", "ticket_created.json")))
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2024-08-21T12:52:07+00:00"


def test_form_fixture() -> None:
    body = fixture("freshdesk", "ticket_created.form")
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    [event] = connector().normalize(WebhookRequest.build(body, headers))
    assert event.type == "ticket_action:created"
    ticket = event.payload["freshdesk_webhook"]
    assert ticket["ticket_id"] == "1188"
    assert ticket["requester_email"] == "ap@customer.example"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("ticket_created.form", "application/x-www-form-urlencoded"),
        ("ticket_created.json", "application/json"),
    ],
)
def test_signed_deliveries_declare_the_encoding_of_their_body(name: str, content_type: str) -> None:
    c = connector()
    request = signed_request(c, fixture("freshdesk", name), now=NOW)
    assert request.headers["content-type"] == content_type
    c.verify(request, NOW)
    [event] = c.normalize(request)  # a form sent as send-test would send it is read as a form
    assert event.type == "ticket_action:created"


def test_form_repeated_and_flat_keys() -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    body = b"tag=a&tag=b&tag=c&kind=ticket&a[b][c]=1"
    [event] = connector(username="u", password="p", type_field="kind").normalize(
        WebhookRequest.build(body, headers)
    )
    assert event.payload == {"tag": ["a", "b", "c"], "kind": "ticket", "a": {"b": {"c": "1"}}}
    assert event.type == "ticket"


@pytest.mark.parametrize("body", [b"a=1&a[b]=2", b"a[b]=2&a=1", b"\xff=1", b"=&&="])
def test_form_conflicts_are_malformed(body: bytes) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body, headers))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({}, "freshdesk.webhook"),
        ({"freshdesk_webhook": {}}, "freshdesk.webhook"),
        ({"freshdesk_webhook": {"triggered_event": ""}}, "freshdesk.webhook"),
        ({"freshdesk_webhook": {"triggered_event": "note_added"}}, "note_added"),
    ],
)
def test_type_fallback(payload: dict[str, Any], expected: str) -> None:
    [event] = connector().normalize(WebhookRequest.build(json.dumps(payload).encode()))
    assert event.type == expected


def test_custom_type_field_and_default() -> None:
    c = connector(username="u", password="p", type_field="event.name", default_type="fd")
    body = json.dumps({"event": {"name": "{priority:{from:1,to:4}}"}}).encode()
    assert c.normalize(WebhookRequest.build(body))[0].type == "priority:changed"
    assert c.normalize(WebhookRequest.build(b'{"event": 1}'))[0].type == "fd"


@pytest.mark.parametrize("triggered", [5, ["x"], "x" * 129, "bad\nline", "   ", {"a": 1}])
def test_unusable_type_is_malformed(triggered: Any) -> None:
    body = json.dumps({"freshdesk_webhook": {"triggered_event": triggered}}).encode()
    with pytest.raises(MalformedPayloadError, match="bad_event_type"):
        connector().normalize(WebhookRequest.build(body))


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"", b"<xml/>", b"{", b"\xff")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("{ticket_action:created}", "ticket_action:created"),
        (" { ticket_action : updated } ", "ticket_action:updated"),
        ("{status:{from:4,to:6}}", "status:changed"),
        ("{priority:{from:Low,to:Urgent}}", "priority:changed"),
        ("{note_type:public}", "note_type:public"),
        ("ticket.created", "ticket.created"),
        ("{a:b,c:d}", "{a:b,c:d}"),
        ("{unbalanced", "{unbalanced"),
    ],
)
def test_normalize_triggered_event(raw: str, expected: str) -> None:
    assert normalize_triggered_event(raw) == expected
