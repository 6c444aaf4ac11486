"""Sentry: hex `Sentry-Hook-Signature`, resource + action types, Request-ID dedup, fuzzing."""

from __future__ import annotations

import contextlib
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.sentry import SentryConnector
from connectors.testing import check_connector, check_rotation, signed_request

from ._fakes import NOW
from ._support import FUZZ, fixture, outcome

SECRET = "7d3c2b1a0f9e8d7c6b5a49382716f5e4d3c2b1a0f9e8d7c6b5a49382716f5e4d"
REQUEST_ID = "e8b6a3f2-1d4c-4b7a-9e5f-0c2d4e6f8a1b"
HUSH = "796aa882fa14a077f11a8ce83aeaffea62bc7e9a27834fa93e05caa3aaa5bb44"


def connector(*secrets: str) -> SentryConnector:
    return SentryConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, resource: str, secret: str = SECRET) -> WebhookRequest:
    headers = {
        "Content-Type": "application/json",
        "Request-ID": REQUEST_ID,
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(NOW),
        "Sentry-Hook-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }
    return WebhookRequest.build(body, headers)


def test_known_answer() -> None:
    # HMAC-SHA256 hex of "Hello, World!" under "hush", computed with the stdlib.
    assert delivery(b"Hello, World!", "issue", "hush").headers["sentry-hook-signature"] == HUSH
    connector("hush").verify(WebhookRequest.build(b"Hello, World!", {"sentry-hook-signature": HUSH}), NOW)
    assert connector("hush").sign(b"Hello, World!", NOW).headers["Sentry-Hook-Signature"] == HUSH


@pytest.mark.parametrize(
    ("name", "resource", "expected"),
    [
        ("issue.created.json", "issue", "issue.created"),
        ("installation.created.json", "installation", "installation.created"),
    ],
)
def test_fixtures(name: str, resource: str, expected: str) -> None:
    req = delivery(fixture("sentry", name), resource)
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == expected
    assert event.dedup_key == event.delivery_id == REQUEST_ID
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW


def test_no_action_and_no_request_id() -> None:
    body = b'{"data": {"error": {}}}'
    [event] = connector().normalize(WebhookRequest.build(body, {"Sentry-Hook-Resource": "error"}))
    assert (event.type, event.dedup_key, event.occurred_at) == (
        "error",
        sha256_of_parts("sentry", body),
        None,
    )


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"{}", {}),
        (b"[]", {"Sentry-Hook-Resource": "issue"}),
        (b'{"action": 1}', {"Sentry-Hook-Resource": "issue"}),
        (b"{}", {"Sentry-Hook-Resource": " "}),
        (b"{", {"Sentry-Hook-Resource": "issue"}),
    ],
)
def test_unusable_deliveries(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body, headers))


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", "issue", secret=secret), NOW)


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("sha256=" + HUSH, "bad_signature"),
        ("\udcff", "bad_signature"),
    ],
)
def test_garbled_headers(value: str | None, cause: str) -> None:
    headers = {} if value is None else {"Sentry-Hook-Signature": value}
    with pytest.raises(VerificationError) as exc:
        connector("hush").verify(WebhookRequest.build(b"Hello, World!", headers), NOW)
    assert exc.value.cause == cause


def test_unsigned_timestamp_is_not_checked() -> None:
    req = signed_request(connector(), now=NOW)
    connector().verify(req, 0)
    connector().verify(req, NOW * 2)


def test_sign_names_the_resource() -> None:
    headers = connector().sign(fixture("sentry", "installation.created.json"), NOW).headers
    assert headers["Sentry-Hook-Resource"] == "installation"


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "issue.created"


CAUSES = {"ok", "missing_signature", "malformed_signature", "bad_signature"}
text = st.text(max_size=70) | st.just(HUSH)


# Sentry's own property (tests/unit/test_connectors_fuzz.py fuzzes what all connectors share):
# its timestamp header is not signed, so any value there leaves a signed delivery valid.
@FUZZ
@given(body=st.binary(max_size=200), value=text, timestamp=st.text(max_size=12))
def test_fuzz_signed_then_mutated(body: bytes, value: str, timestamp: str) -> None:
    c = connector("a", "b")
    req = signed_request(c, body, now=NOW)
    req = WebhookRequest.build(req.body, {**dict(req.headers), "sentry-hook-timestamp": timestamp})
    assert outcome(c, req, NOW) == "ok"
    with contextlib.suppress(MalformedPayloadError):
        assert c.normalize(req)
    assert outcome(c, WebhookRequest.build(req.body, {"sentry-hook-signature": value}), NOW) in CAUSES
