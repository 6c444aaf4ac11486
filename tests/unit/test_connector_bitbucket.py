"""Bitbucket: `X-Hub-Signature: sha256=…`, X-Event-Key types, request-id dedup, fuzzing."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.bitbucket import BitbucketConnector
from connectors.testing import check_connector, check_rotation, signed_request

from ._fakes import NOW
from ._support import fixture

SECRET = "bb-webhook-secret-42"
HUSH = "sha256=796aa882fa14a077f11a8ce83aeaffea62bc7e9a27834fa93e05caa3aaa5bb44"
REQUEST = "9b3c5a0e-2f4d-4e6b-8a1c-3d5f7a9b1c2e"


def connector(*secrets: str) -> BitbucketConnector:
    return BitbucketConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET, **extra: str) -> WebhookRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature": f"sha256={digest}", "X-Event-Key": "repo:push", **extra}
    return WebhookRequest.build(body, headers)


def test_known_answer() -> None:
    # HMAC-SHA256 hex of "Hello, World!" under "hush", computed with the stdlib.
    assert delivery(b"Hello, World!", "hush").headers["x-hub-signature"] == HUSH
    connector("hush").verify(WebhookRequest.build(b"Hello, World!", {"x-hub-signature": HUSH}), NOW)
    assert connector("hush").sign(b"Hello, World!", NOW).headers["X-Hub-Signature"] == HUSH


def test_fixture_cloud_and_data_center_ids() -> None:
    body = fixture("bitbucket", "repo_push.json")
    req = delivery(body, **{"X-Request-UUID": REQUEST, "X-Hook-UUID": "hook"})
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key, event.delivery_id) == ("repo:push", REQUEST, REQUEST)
    assert event.payload["repository"]["full_name"] == "acme/hello-world"
    [event] = connector().normalize(delivery(body, **{"X-Request-Id": "dc-7", "X-Event-Key": "pr:opened"}))
    assert (event.type, event.dedup_key) == ("pr:opened", "dc-7")
    [event] = connector().normalize(delivery(body))
    assert event.dedup_key == sha256_of_parts("bitbucket", body)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"{}", {}),
        (b"[]", {"X-Event-Key": "repo:push"}),
        (b"{}", {"X-Event-Key": ""}),
        (b"x", {"X-Event-Key": "a"}),
    ],
)
def test_unusable_deliveries(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body, headers))


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (None, "missing_signature"),
        (HUSH.removeprefix("sha256="), "malformed_signature"),
        ("sha1=" + HUSH[7:47], "malformed_signature"),
        ("sha256=" + HUSH[7:].upper(), None),
        ("sha256=\udcff", "bad_signature"),
    ],
)
def test_garbled_headers(value: str | None, cause: str | None) -> None:
    headers = {} if value is None else {"X-Hub-Signature": value}
    req = WebhookRequest.build(b"Hello, World!", headers)
    if cause is None:
        connector("hush").verify(req, NOW)
        return
    with pytest.raises(VerificationError) as exc:
        connector("hush").verify(req, NOW)
    assert exc.value.cause == cause


def test_no_timestamp_so_any_clock_is_fine() -> None:
    req = signed_request(connector(), now=NOW)
    connector().verify(req, 0)
    connector().verify(req, NOW * 2)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "repo:push"
    assert event.delivery_id
