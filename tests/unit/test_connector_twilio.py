"""Twilio: the documented vectors, the official RequestValidator both ways, bodySHA256, SharedKey."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.testing import check_connector, signed_request, tamper
from connectors.twilio import DEFAULT_SIGNING_URL, TwilioConnector

from ._fakes import NOW
from ._support import FUZZ, fixture

DOCS_TOKEN = "12345"
DOCS_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOCS_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675310",
    "Digits": "1234",
    "From": "+14158675310",
    "To": "+18005551212",
}
DOCS_SIGNATURE = "GvWf1cFY/Q7PnoempGyD5oXAezc="
# twilio-python's JSON-body vector (token 12345).
JSON_BODY = b'{"property": "value", "boolean": true}'
JSON_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
JSON_SIGNATURE = "a9nBmqA0ju/hNViExpshrM61xv4="
URL = "https://hooks.example.com/webhooks/twilio"


def connector(*secrets: str, **options: Any) -> TwilioConnector:
    return TwilioConnector.from_config({"secrets": list(secrets or [DOCS_TOKEN]), **options})


def form(body: bytes, url: str, signature: str, **headers: str) -> WebhookRequest:
    hdrs = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded", **headers}
    return WebhookRequest.build(body, hdrs, url=url, query=url.partition("?")[2])


def deliver(c: TwilioConnector, body: bytes, url: str = URL, now: float = NOW) -> WebhookRequest:
    """What Twilio sends to `url` (the URL goes to sign(), as `hookgate send-test` would pass it)."""
    d = c.sign(body, now, url=url)
    full = url + (("&" if "?" in url else "?") + urlencode(d.query) if d.query else "")
    return WebhookRequest.build(d.body, d.headers, method=d.method, query=d.query, url=full)


class MultiDict(dict[str, str]):
    """Flask's MultiDict as far as RequestValidator uses it (`getall`)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]


def oracle(token: str, request: WebhookRequest, algorithm: str | None = None) -> bool:
    """RequestValidator.validate, fed as a web framework would (raw str for JSON bodies)."""
    signature = request.headers.get("x-twilio-signature", "")
    try:
        text = request.body.decode()
        params: Any = text if "bodySHA256" in request.url else MultiDict(parse_qsl(text, True))
        return bool(RequestValidator(token).validate(request.url, params, signature, algorithm=algorithm))
    except Exception:  # noqa: BLE001 - the SDK raises on some garbage; that is a "no"
        return False


def test_docs_vector() -> None:
    body = urlencode(DOCS_PARAMS).encode()
    req = form(body, DOCS_URL, DOCS_SIGNATURE)
    connector().verify(req, NOW)
    assert connector().sign(body, NOW, url=DOCS_URL).headers["X-Twilio-Signature"] == DOCS_SIGNATURE
    assert oracle(DOCS_TOKEN, req)


def test_json_body_vector() -> None:
    url = f"{DOCS_URL}&bodySHA256={JSON_HASH}"
    req = WebhookRequest.build(
        JSON_BODY, {"X-Twilio-Signature": JSON_SIGNATURE}, url=url, query=url.partition("?")[2]
    )
    connector().verify(req, NOW)
    assert oracle(DOCS_TOKEN, req)
    delivery = connector().sign(JSON_BODY, NOW, url=DOCS_URL)
    assert delivery.headers["X-Twilio-Signature"] == JSON_SIGNATURE
    assert delivery.query == (("bodySHA256", JSON_HASH),)
    with pytest.raises(VerificationError, match="bad_body_hash"):
        connector().verify(tamper(req), NOW)


@pytest.mark.parametrize("name", ["message.received.form", "message.delivered.form", "call.completed.form"])
def test_our_signature_passes_the_sdk(name: str) -> None:
    body = fixture("twilio", name)
    req = deliver(connector("auth-token"), body)
    connector("auth-token").verify(req, NOW)
    assert oracle("auth-token", req)
    assert not oracle("other-token", req)
    assert not oracle("auth-token", tamper(req))


def test_sdk_signature_passes_ours() -> None:
    body = fixture("twilio", "message.received.form")
    params = dict(parse_qsl(body.decode()))
    sig = RequestValidator("auth-token").compute_signature(URL, params)
    connector("auth-token").verify(form(body, URL, sig), NOW)
    json_body = fixture("twilio", "conversation.message_added.json")
    url = f"{URL}?bodySHA256={hashlib.sha256(json_body).hexdigest()}"
    sig = RequestValidator("auth-token").compute_signature(url, {})
    req = WebhookRequest.build(json_body, {"X-Twilio-Signature": sig}, url=url)
    connector("auth-token").verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "onMessageAdded"


def test_url_with_and_without_default_port() -> None:
    body = fixture("twilio", "message.delivered.form")
    with_port = "https://hooks.example.com:443/webhooks/twilio"
    sig = RequestValidator(DOCS_TOKEN).compute_signature(with_port, dict(parse_qsl(body.decode())))
    connector().verify(form(body, URL, sig), NOW)
    sig = RequestValidator(DOCS_TOKEN).compute_signature(URL, dict(parse_qsl(body.decode())))
    connector().verify(form(body, with_port, sig), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(form(body, URL + "/", sig), NOW)


def test_repeated_params_are_sorted_distinct_values() -> None:
    body = b"b=2&a=z&a=y&a=z"
    signed = URL + "ayaz" + "b2"
    sig = base64.b64encode(hmac.new(b"k", signed.encode(), "sha1").digest()).decode()
    connector("k").verify(form(body, URL, sig), NOW)
    [event] = connector("k").normalize(form(body, URL, sig))
    assert event.payload == {"b": "2", "a": ["z", "y", "z"]}


def test_shared_key_sha256() -> None:
    body = fixture("twilio", "message.delivered.form")
    params = dict(parse_qsl(body.decode()))
    sig = RequestValidator("shared-secret").compute_signature(URL, params, algorithm="HMAC_SHA256")
    settings = "key=webhooks_sharedkey_123,algorithm=HMAC_SHA256"
    req = form(body, URL, sig, **{"X-Twilio-Webhooks-Signature-Settings": settings})
    connector("auth-token", "shared-secret").verify(req, NOW)
    assert oracle("shared-secret", req, "HMAC_SHA256")
    bad = form(body, URL, sig, **{"X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_MD5"})
    with pytest.raises(VerificationError, match="unsupported_algorithm"):
        connector("shared-secret").verify(bad, NOW)
    sha1 = form(body, URL, sig, **{"X-Twilio-Webhooks-Signature-Settings": "key=x"})
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("shared-secret").verify(sha1, NOW)


def test_rotation() -> None:
    body = fixture("twilio", "message.received.form")
    req = deliver(connector("old-token"), body)
    connector("new-token", "old-token").verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("new-token").verify(req, NOW)


def test_no_timestamp_so_any_clock_is_fine() -> None:
    req = deliver(connector(), fixture("twilio", "call.completed.form"))
    connector().verify(req, 0)
    connector().verify(req, NOW * 2)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("message.received.form", "message.received"),
        ("message.delivered.form", "message.delivered"),
        ("call.completed.form", "call.completed"),
    ],
)
def test_event_types(name: str, expected: str) -> None:
    req = deliver(connector(), fixture("twilio", name))
    [event] = connector().normalize(req)
    assert event.type == expected
    assert event.dedup_key == event.delivery_id == req.headers["i-twilio-idempotency-token"]


def test_dedup_falls_back_to_body_hash_and_default_type() -> None:
    body = b"AccountSid=AC1&Foo=bar"
    [event] = connector(default_type="twilio.custom").normalize(form(body, URL, "x"))
    assert event.type == "twilio.custom"
    assert event.dedup_key == sha256_of_parts("twilio", body)
    [call] = connector().normalize(form(fixture("twilio", "call.completed.form"), URL, "x"))
    assert call.occurred_at is not None
    assert call.occurred_at.timestamp() == NOW


@pytest.mark.parametrize(
    ("body", "url"),
    [
        (b"\xff", URL),
        (b"MessageStatus=", URL),
        (b"CallStatus=a&CallStatus=b", URL),
        (b"[1", URL + "?bodySHA256=00"),
        (b'{"type": 3}', URL + "?bodySHA256=00"),
    ],
)
def test_normalize_rejects_unusable(body: bytes, url: str) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body, url=url))


@pytest.mark.parametrize(
    ("headers", "url", "cause"),
    [
        ({}, URL, "missing_signature"),
        ({"X-Twilio-Signature": " "}, URL, "missing_signature"),
        ({"X-Twilio-Signature": "\udcff"}, URL, "bad_signature"),
        ({"X-Twilio-Signature": "AAAA"}, "http://[::1/x", "malformed_url"),
        ({"X-Twilio-Signature": "AAAA"}, URL + "?bodySHA256=zz", "bad_body_hash"),
        ({"X-Twilio-Signature": "AAAA"}, "https://h:99999999/x", "bad_signature"),
    ],
)
def test_garbled_requests(headers: dict[str, str], url: str, cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(b"a=1", headers, url=url), NOW)
    assert exc.value.cause == cause
    with pytest.raises(VerificationError, match="malformed_body"):
        connector().verify(WebhookRequest.build(b"\xff", {"X-Twilio-Signature": "x"}, url=URL), NOW)


def test_signing_url_option() -> None:
    c = connector(signing_url=URL)
    req = signed_request(c, now=NOW, url=URL)
    c.verify(req, NOW)
    assert oracle(DOCS_TOKEN, req)
    default = signed_request(connector(), now=NOW)
    assert default.url == DEFAULT_SIGNING_URL
    connector().verify(default, NOW)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "message.received"
    [json_event] = check_connector(
        connector(), NOW, body=fixture("twilio", "conversation.message_added.json")
    )
    assert json_event.type == "onMessageAdded"


# Twilio's own property (tests/unit/test_connectors_fuzz.py fuzzes what all connectors share):
# an independent implementation of Twilio's scheme accepts whatever the connector signs.
@FUZZ
@given(body=st.binary(max_size=120))
def test_fuzz_sign_verify_round_trip(body: bytes) -> None:
    req = deliver(connector(), body)
    connector().verify(req, NOW)
    assert oracle(DOCS_TOKEN, req) or not _utf8(body)
    with contextlib.suppress(MalformedPayloadError):
        connector().normalize(req)


def _utf8(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True
