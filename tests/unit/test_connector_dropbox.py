"""Dropbox: the documented vector (no Python SDK helper exists), the GET challenge echo,
and a fresh dedup key per notification."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.dropbox import DropboxConnector
from connectors.testing import check_connector, tamper

from ._fakes import NOW
from ._support import fixture

DOCS_SECRET = "the_secret"
DOCS_BODY = b'{"delta": {"users": [12345]}}'
DOCS_SIGNATURE = "0a8c16b085420b960dc78664279fe09e936a2a01b1f91064869d9e77dfd64529"
BODY = fixture("dropbox", "list_folder.json")


def connector(*secrets: str) -> DropboxConnector:
    return DropboxConnector.from_config({"secrets": list(secrets or [DOCS_SECRET])})


def by_hand(body: bytes, secret: str = DOCS_SECRET) -> WebhookRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"X-Dropbox-Signature": digest})


def test_known_answer_vector() -> None:
    connector().verify(WebhookRequest.build(DOCS_BODY, {"X-Dropbox-Signature": DOCS_SIGNATURE}), NOW)
    assert connector().sign(DOCS_BODY, NOW).headers["X-Dropbox-Signature"] == DOCS_SIGNATURE
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(tamper(by_hand(DOCS_BODY)), NOW)


def test_rotation_and_no_timestamp() -> None:
    old = by_hand(BODY, "old-app-secret")
    connector(DOCS_SECRET, "old-app-secret").verify(old, 0)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(DOCS_SECRET).verify(old, NOW)


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({"X-Dropbox-Signature": "  "}, "missing_signature"),
        ({"X-Dropbox-Signature": "sha256=" + DOCS_SIGNATURE}, "bad_signature"),
        ({"X-Dropbox-Signature": "\udcff\u00e9"}, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(DOCS_BODY, headers), NOW)
    assert exc.value.cause == cause


def test_uppercase_hex_is_accepted() -> None:
    connector().verify(WebhookRequest.build(DOCS_BODY, {"X-Dropbox-Signature": DOCS_SIGNATURE.upper()}), NOW)


def test_get_challenge_is_echoed() -> None:
    req = WebhookRequest.build(
        b"", method="GET", query="challenge=ZMyB1Et9N5Vp3XKhu3IDmaOoUKN6ZUyvYrr1Yl8Uvs"
    )
    answer = connector().handshake(req, NOW)
    assert answer is not None
    assert (answer.status, answer.body, answer.content_type) == (
        200,
        b"ZMyB1Et9N5Vp3XKhu3IDmaOoUKN6ZUyvYrr1Yl8Uvs",
        "text/plain",
    )
    assert "GET" in DropboxConnector.methods


@pytest.mark.parametrize("query", ["", "challenge=", "challenge=%3Cb%3E", "challenge=" + "a" * 257, "x=1"])
def test_odd_challenges_are_refused(query: str) -> None:
    answer = connector().handshake(WebhookRequest.build(b"", method="GET", query=query), NOW)
    assert answer is not None
    assert answer.status == 400


def test_notification() -> None:
    assert connector().handshake(by_hand(BODY), NOW) is None
    [first] = connector().normalize(by_hand(BODY))
    [second] = connector().normalize(by_hand(BODY))
    assert first.type == "list_folder"
    assert first.payload["list_folder"]["accounts"][0].startswith("dbid:")
    # Identical bodies announce distinct changes: never deduplicated against each other.
    assert first.dedup_key != second.dedup_key


@pytest.mark.parametrize("body", [b"[]", b"x", b"{}", b'{"list_folder": []}'])
def test_normalize_rejects_unusable_bodies(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(by_hand(body))


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "list_folder"
