"""DocuSign Connect: a known-answer vector, one signature header per key, composite dedup."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from connectors import VerificationError, WebhookRequest, sha256_of_parts
from connectors.docusign import DocuSignConnector
from connectors.testing import check_connector, check_malformed

from ._fakes import NOW
from ._support import fixture

KEY = "ds-key"


def connector(*keys: str) -> DocuSignConnector:
    return DocuSignConnector.from_config({"secrets": list(keys or [KEY])})


def b64_hmac(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def test_known_answer() -> None:
    # base64(HMAC-SHA256("ds-key", '{"id":1}')), computed with the stdlib.
    expected = "McEG3n7pLCr6KRgck+ucCqpjd5DIvgXvZNqO3jUObvg="
    assert b64_hmac(KEY, b'{"id":1}') == expected
    connector().verify(WebhookRequest.build(b'{"id":1}', {"X-DocuSign-Signature-1": expected}), NOW)
    assert connector().sign(b'{"id":1}', NOW).headers["X-DocuSign-Signature-1"] == expected


def test_any_numbered_header_may_match_any_key() -> None:
    body = fixture("docusign", "envelope-completed.json")
    headers = {
        "X-DocuSign-Signature-1": b64_hmac("retired", body),
        "X-DocuSign-Signature-2": b64_hmac("k2", body),
    }
    connector("k1", "k2").verify(WebhookRequest.build(body, headers), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("k1").verify(WebhookRequest.build(body, headers), NOW)
    signed = connector("k1", "k2").sign(body, NOW).headers
    assert signed["X-DocuSign-Signature-2"] == b64_hmac("k2", body)
    connector("k2").verify(WebhookRequest.build(body, signed), NOW)


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-DocuSign-Signature-1": ""}, {"X-DocuSign-Signature": "x"}, {"X-DocuSign-Signature-1000": "x"}],
)
def test_no_usable_signature_header(headers: dict[str, str]) -> None:
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().verify(WebhookRequest.build(b"{}", headers), NOW)


def test_fixture_and_dedup_across_retries() -> None:
    body = fixture("docusign", "envelope-completed.json")
    req = WebhookRequest.build(body, {"X-DocuSign-Signature-1": b64_hmac(KEY, body)})
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "envelope-completed"
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat().startswith("2025-03-22T19:31:42")
    retry = json.loads(body)
    retry["retryCount"] = 1
    [again] = connector().normalize(WebhookRequest.build(json.dumps(retry).encode()))
    assert again.dedup_key == event.dedup_key
    [bare] = connector().normalize(WebhookRequest.build(b'{"event": "envelope-sent"}'))
    assert bare.dedup_key == sha256_of_parts("docusign", b'{"event": "envelope-sent"}')


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"event": 1}')


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "envelope-completed"
