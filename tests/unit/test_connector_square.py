"""Square: the SDK's published vector, `verify_signature` both ways, URL handling, rotation."""

from __future__ import annotations

import base64
import hmac
from typing import Any

import pytest
from square.utils.webhooks_helper import verify_signature

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.square import DEFAULT_SIGNING_URL, SquareConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

# The vector of Square's SDKs (square-python-sdk tests/utils/test_webhooks_helper.py).
SDK_BODY = (
    b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification",'
    b'"event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z",'
    b'"data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}'
)
SDK_SIGNATURE = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="
SDK_KEY = "Ibxx_5AKakO-3qeNVR61Dw"
SDK_URL = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
URL = "https://hooks.example.com/webhooks/square"
BODY = fixture("square", "payment.updated.json")
HEADER = "x-square-hmacsha256-signature"


def connector(*secrets: str, **options: Any) -> SquareConnector:
    return SquareConnector.from_config({"secrets": list(secrets or [SDK_KEY]), **options})


def deliver(c: SquareConnector, body: bytes = BODY, url: str = URL) -> WebhookRequest:
    d = c.sign(body, NOW, url=url)
    return WebhookRequest.build(d.body, d.headers, url=url)


def oracle(key: str, request: WebhookRequest, url: str) -> bool:
    try:
        return bool(
            verify_signature(
                request_body=request.body.decode(),
                signature_header=request.headers.get(HEADER, ""),
                signature_key=key,
                notification_url=url,
            )
        )
    except Exception:  # noqa: BLE001 - the SDK raises ValueError on an empty key or URL
        return False


def test_sdk_vector() -> None:
    req = WebhookRequest.build(SDK_BODY, {HEADER: SDK_SIGNATURE}, url=SDK_URL)
    connector().verify(req, NOW)
    assert connector().sign(SDK_BODY, NOW, url=SDK_URL).headers[HEADER] == SDK_SIGNATURE
    assert oracle(SDK_KEY, req, SDK_URL)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == (
        "webhooks.test_notification",
        "ac3ac95b-f97d-458c-a6e6-18981597e05f",
    )


def test_our_signature_passes_the_sdk() -> None:
    req = deliver(connector("sig-key"))
    assert oracle("sig-key", req, URL)
    assert not oracle("sig-key", req, URL + "/")
    assert not oracle("other", req, URL)
    assert not oracle("sig-key", tamper(req), URL)


def test_sdk_signature_passes_ours() -> None:
    sig = base64.b64encode(hmac.new(b"sig-key", URL.encode() + BODY, "sha256").digest()).decode()
    assert verify_signature(
        request_body=BODY.decode(), signature_header=sig, signature_key="sig-key", notification_url=URL
    )
    req = WebhookRequest.build(BODY, {HEADER: sig}, url=URL)
    connector("sig-key").verify(req, NOW)
    [event] = connector("sig-key").normalize(req)
    assert event.type == "payment.updated"
    assert event.dedup_key == event.provider_event_id == "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc"
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2020-02-06T21:27:34.308000+00:00"


def test_url_must_match_exactly() -> None:
    req = deliver(connector(), url=URL)
    for other in (URL + "/", URL.replace("https", "http"), URL + "?x=1", ""):
        with pytest.raises(VerificationError):
            connector().verify(WebhookRequest.build(req.body, dict(req.headers), url=other), NOW)


def test_notification_url_option_wins_over_the_called_url() -> None:
    configured = "https://public.example.com/square"
    c = connector(notification_url=configured)
    d = c.sign(BODY, NOW, url="https://ignored.example.com/")
    req = WebhookRequest.build(d.body, d.headers, url="http://10.0.0.7:8080/webhooks/square")
    c.verify(req, NOW)
    assert oracle(SDK_KEY, req, configured)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(req, NOW)
    check_connector(c, NOW)


def test_rotation() -> None:
    req = deliver(connector("old-key"))
    connector("new-key", "old-key").verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("new-key").verify(req, NOW)


def test_no_timestamp_so_any_clock_is_fine() -> None:
    req = deliver(connector())
    connector().verify(req, 0)
    connector().verify(req, NOW * 2)


def test_legacy_sha1_header_is_ignored() -> None:
    sha1 = base64.b64encode(hmac.new(SDK_KEY.encode(), URL.encode() + BODY, "sha1").digest()).decode()
    req = WebhookRequest.build(BODY, {"x-square-signature": sha1}, url=URL)
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().verify(req, NOW)


@pytest.mark.parametrize(
    ("headers", "url", "cause"),
    [
        ({}, URL, "missing_signature"),
        ({HEADER: "  "}, URL, "missing_signature"),
        ({HEADER: SDK_SIGNATURE}, "", "missing_url"),
        ({HEADER: "\udcff\u00e9"}, URL, "bad_signature"),
        ({HEADER: "not base64!"}, URL, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], url: str, cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(BODY, headers, url=url), NOW)
    assert exc.value.cause == cause


@pytest.mark.parametrize(
    "body", [b"nope", b"[]", b'{"type": "x"}', b'{"event_id": "e"}', b'{"event_id": "e", "type": ""}']
)
def test_normalize_rejects_unusable(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body, url=URL))


def test_check_connector_and_sample() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "payment.updated"
    assert signed_request(connector(), now=NOW).url == DEFAULT_SIGNING_URL
