"""Generic HMAC: provider schemes expressed as configuration, checked against stdlib hmac."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from pydantic import ValidationError

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.generic_hmac import GenericHmacConnector
from connectors.testing import check_connector, signed_request

from ._fakes import NOW
from ._support import fixture

GITHUB_STYLE: dict[str, Any] = {"signature_header": "X-Hub-Signature-256", "signature_prefix": "sha256="}
# Zendesk: base64 HMAC-SHA256 over timestamp + body, no separator.
ZENDESK_STYLE: dict[str, Any] = {
    "signature_header": "X-Zendesk-Webhook-Signature",
    "timestamp_header": "X-Zendesk-Webhook-Signature-Timestamp",
    "signed_content": "timestamp.body",
    "content_separator": "",
    "encoding": "base64",
}
# Twitch EventSub: hex HMAC-SHA256 over id + timestamp + body, no separator.
TWITCH_STYLE: dict[str, Any] = {
    "signature_header": "Twitch-Eventsub-Message-Signature",
    "signature_prefix": "sha256=",
    "id_header": "Twitch-Eventsub-Message-Id",
    "timestamp_header": "Twitch-Eventsub-Message-Timestamp",
    "signed_content": "id.timestamp.body",
    "content_separator": "",
    "type_header": "Twitch-Eventsub-Subscription-Type",
}


def connector(secrets: list[str] | None = None, **options: Any) -> GenericHmacConnector:
    return GenericHmacConnector.from_config({"secrets": secrets or ["s3cret"], **options})


def test_github_docs_vector() -> None:
    c = connector(["It's a Secret to Everybody"], **GITHUB_STYLE)
    sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    c.verify(WebhookRequest.build(b"Hello, World!", {"X-Hub-Signature-256": sig}), NOW)
    assert c.sign(b"Hello, World!", NOW).headers["X-Hub-Signature-256"] == sig


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_algorithms_and_encodings(algorithm: str, encoding: str) -> None:
    body = fixture("github", "push.json")
    mac = hmac.new(b"s3cret", body, algorithm)
    digest = mac.hexdigest() if encoding == "hex" else base64.b64encode(mac.digest()).decode()
    c = connector(signature_header="X-Signature", algorithm=algorithm, encoding=encoding)
    c.verify(WebhookRequest.build(body, {"x-signature": digest}), NOW)
    assert c.sign(body, NOW).headers["X-Signature"] == digest


def test_zendesk_style_timestamp_body() -> None:
    body = b'{"type":"zen:event-type:ticket.created","id":"01J5Y6"}'
    ts = "2024-08-21T12:00:00Z"  # Zendesk sends ISO timestamps; unix seconds only here
    c = connector(**ZENDESK_STYLE)
    sig = base64.b64encode(hmac.new(b"s3cret", str(NOW).encode() + body, hashlib.sha256).digest())
    hdrs = {
        "X-Zendesk-Webhook-Signature": sig.decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": str(NOW),
    }
    c.verify(WebhookRequest.build(body, hdrs), NOW)
    iso = {**hdrs, "X-Zendesk-Webhook-Signature-Timestamp": ts}
    with pytest.raises(VerificationError, match="malformed_timestamp"):
        c.verify(WebhookRequest.build(body, iso), NOW)


def test_twitch_style_id_timestamp_body() -> None:
    body = b'{"subscription":{"type":"channel.follow"},"event":{"user_id":"1337"}}'
    msg_id = "e76c6bd4-55c9-4987-8304-da1588d8988b"
    content = msg_id.encode() + str(NOW).encode() + body
    sig = "sha256=" + hmac.new(b"s3cret", content, hashlib.sha256).hexdigest()
    hdrs = {
        "Twitch-Eventsub-Message-Signature": sig,
        "Twitch-Eventsub-Message-Id": msg_id,
        "Twitch-Eventsub-Message-Timestamp": str(NOW),
        "Twitch-Eventsub-Subscription-Type": "channel.follow",
    }
    c = connector(**TWITCH_STYLE)
    req = WebhookRequest.build(body, hdrs)
    c.verify(req, NOW)
    [event] = c.normalize(req)
    assert (event.type, event.dedup_key, event.delivery_id) == ("channel.follow", msg_id, msg_id)
    for header in ["Twitch-Eventsub-Message-Id", "Twitch-Eventsub-Message-Timestamp"]:
        forged = WebhookRequest.build(body, {**hdrs, header: hdrs[header] + "0"})
        with pytest.raises(VerificationError):
            c.verify(forged, NOW)


def test_dot_separator_by_default() -> None:
    c = connector(signature_header="X-Sig", timestamp_header="X-Ts", signed_content="timestamp.body")
    sig = hmac.new(b"s3cret", b"%d.{}" % NOW, hashlib.sha256).hexdigest()
    c.verify(WebhookRequest.build(b"{}", {"X-Sig": sig, "X-Ts": str(NOW)}), NOW)


def test_signature_list_and_rotation() -> None:
    c = connector(
        ["new", "old"],
        signature_header="X-PagerDuty-Signature",
        signature_prefix="v1=",
        signature_separator=",",
    )
    body = b'{"event":{"id":"01DEN","event_type":"incident.triggered"}}'
    old = "v1=" + hmac.new(b"old", body, hashlib.sha256).hexdigest()
    junk = "v1=" + "0" * 64
    c.verify(WebhookRequest.build(body, {"X-PagerDuty-Signature": f"{junk}, {old}"}), NOW)
    c.verify(WebhookRequest.build(body, {"X-PagerDuty-Signature": f"t=1,{old}"}), NOW)
    header = c.sign(body, NOW).headers["X-PagerDuty-Signature"]
    assert header.count("v1=") == 2
    only_new = connector(["new"], signature_header="X-PagerDuty-Signature", signature_prefix="v1=")
    with pytest.raises(VerificationError, match="bad_signature"):
        only_new.verify(WebhookRequest.build(body, {"X-PagerDuty-Signature": old}), NOW)


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    c = connector(**ZENDESK_STYLE)
    req = signed_request(c, b"{}", now=NOW + offset)
    if ok:
        c.verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            c.verify(req, NOW)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "signature_header"),
        ({"signature_header": "X Sig"}, "pattern"),
        ({"signature_header": "X", "signed_content": "timestamp.body"}, "needs timestamp_header"),
        (
            {"signature_header": "X", "signed_content": "id.timestamp.body", "timestamp_header": "T"},
            "needs id_header",
        ),
        ({"signature_header": "X", "timestamp_header": "T"}, "only checked when it is signed"),
        ({"signature_header": "X", "type_header": "T", "type_field": "a"}, "not both"),
        ({"signature_header": "X", "algorithm": "md5"}, "sha1"),
        ({"signature_header": "X", "encoding": "base32"}, "hex"),
        ({"signature_header": "X", "signed_content": "body.timestamp"}, "id.timestamp.body"),
        ({"signature_header": "X", "tolerance_seconds": -1}, "greater than or equal"),
        ({"signature_header": "X", "signature_separator": ""}, "at least 1"),
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        connector(**options)


def test_secrets_are_required() -> None:
    with pytest.raises(ValidationError, match="secrets"):
        GenericHmacConnector.from_config({"secrets": [], "signature_header": "X"})


@pytest.mark.parametrize(
    ("hdrs", "cause"),
    [
        ({}, "missing_signature"),
        ({"X-Sig": "v1=abc"}, "missing_id"),
        ({"X-Sig": "v1=abc", "X-Id": "m1"}, "missing_timestamp"),
        ({"X-Sig": "v1=abc", "X-Id": "m1", "X-Ts": "soon"}, "malformed_timestamp"),
        ({"X-Sig": "sha1=abc", "X-Id": "m1", "X-Ts": str(NOW)}, "malformed_signature"),
        ({"X-Sig": "v1=\udcff", "X-Id": "\ud800", "X-Ts": str(NOW)}, "bad_signature"),
    ],
)
def test_garbled_headers(hdrs: dict[str, str], cause: str) -> None:
    c = connector(
        signature_header="X-Sig",
        signature_prefix="v1=",
        id_header="X-Id",
        timestamp_header="X-Ts",
        signed_content="id.timestamp.body",
    )
    with pytest.raises(VerificationError) as exc:
        c.verify(WebhookRequest.build(b"{}", hdrs), NOW)
    assert exc.value.cause == cause


def test_normalize_types_and_dedup() -> None:
    body = fixture("stripe", "invoice.paid.json")
    plain = connector(signature_header="X-Sig")
    [event] = plain.normalize(WebhookRequest.build(body))
    assert (event.type, event.dedup_key) == ("webhook", sha256_of_parts("generic-hmac", body))
    by_field = connector(signature_header="X-Sig", type_field="data.object.object")
    assert by_field.normalize(WebhookRequest.build(body))[0].type == "invoice"
    missing = connector(signature_header="X-Sig", type_field="nope.nope", default_type="fallback")
    assert missing.normalize(WebhookRequest.build(body))[0].type == "fallback"
    by_header = connector(signature_header="X-Sig", type_header="X-Event", id_header="X-Id")
    [event] = by_header.normalize(WebhookRequest.build(body, {"X-Event": "e", "X-Id": "d1"}))
    assert (event.type, event.dedup_key) == ("e", "d1")
    with pytest.raises(MalformedPayloadError, match="missing_header"):
        by_header.normalize(WebhookRequest.build(body, {"X-Event": "e"}))
    with pytest.raises(MalformedPayloadError, match="bad_event_type"):
        by_header.normalize(WebhookRequest.build(body, {"X-Event": "e" * 129, "X-Id": "d"}))
    with pytest.raises(MalformedPayloadError, match="invalid_json"):
        plain.normalize(WebhookRequest.build(b"<xml/>"))


@pytest.mark.parametrize(
    "options",
    [
        GITHUB_STYLE,
        ZENDESK_STYLE,
        TWITCH_STYLE,
        {"signature_header": "X-Sig", "signature_separator": " ", "algorithm": "sha512"},
        {"signature_header": "X-Sig", "id_header": "X-Id", "type_field": "type"},
    ],
)
def test_check_connector(options: dict[str, Any]) -> None:
    check_connector(connector(["a", "b"], **options), NOW)
