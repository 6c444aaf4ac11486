"""Typeform: base64 `Typeform-Signature: sha256=…`, rotation, dedup fallbacks, fuzzing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from connectors import VerificationError, WebhookRequest, sha256_of_parts
from connectors.testing import check_connector, check_malformed, check_rotation, signed_request
from connectors.typeform import TypeformConnector

from ._fakes import NOW
from ._support import fixture

SECRET = "tf-webhook-secret-8f2c"


def connector(*secrets: str) -> TypeformConnector:
    return TypeformConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return WebhookRequest.build(body, {"Typeform-Signature": f"sha256={digest}"})


def test_known_answer() -> None:
    # sha256= + base64(HMAC-SHA256("hush", "Hello, World!")), computed with the stdlib.
    expected = "sha256=eWqogvoUoHfxGozoOur/6mK8fpong0+pPgXKo6qlu0Q="
    assert delivery(b"Hello, World!", "hush").headers["typeform-signature"] == expected
    connector("hush").verify(WebhookRequest.build(b"Hello, World!", {"typeform-signature": expected}), NOW)
    assert connector("hush").sign(b"Hello, World!", NOW).headers["Typeform-Signature"] == expected


def test_fixture() -> None:
    req = delivery(fixture("typeform", "form_response.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "form_response"
    assert event.dedup_key == event.provider_event_id == "01HF3X1QW8Y5B2T7N6V4K9M3ZC"
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW


def test_dedup_fallbacks() -> None:
    payload = json.loads(fixture("typeform", "form_response.json"))
    del payload["event_id"]
    [event] = connector().normalize(WebhookRequest.build(json.dumps(payload).encode()))
    assert event.dedup_key == "a3a12ec67a1365927098a606107fac15"
    body = b'{"event_type": "form_response"}'
    [event] = connector().normalize(WebhookRequest.build(body))
    assert event.dedup_key == sha256_of_parts("typeform", body)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"event_type": null}', b'{"event_type": ""}', b"\xff")


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (None, "missing_signature"),
        ("eWqogvoUoHfxGozoOur/6mK8fpong0+pPgXKo6qlu0Q=", "malformed_signature"),  # no prefix
        ("sha256=796aa882fa14a077f11a8ce83aeaffea62bc7e9a27834fa93e05caa3aaa5bb44", "bad_signature"),  # hex
        ("sha256=EWQOGVOUOHFXGOZOOUR/6MK8FPONG0+PPGXKO6QLU0Q=", "bad_signature"),
        ("sha256=\udcff", "bad_signature"),
    ],
)
def test_garbled_headers(value: str | None, cause: str) -> None:
    headers = {} if value is None else {"Typeform-Signature": value}
    with pytest.raises(VerificationError) as exc:
        connector("hush").verify(WebhookRequest.build(b"Hello, World!", headers), NOW)
    assert exc.value.cause == cause


def test_no_timestamp_so_any_clock_is_fine() -> None:
    req = signed_request(connector(), now=NOW)
    connector().verify(req, 0)
    connector().verify(req, NOW * 2)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "form_response"
