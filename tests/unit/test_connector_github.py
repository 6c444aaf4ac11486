"""GitHub: the documented vector, rotation, event types from real payload shapes."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

import pytest

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.github import GitHubConnector
from connectors.testing import check_connector, signed_request

from ._fakes import NOW
from ._support import fixture

DOCS_SECRET = "It's a Secret to Everybody"
DOCS_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def connector(*secrets: str) -> GitHubConnector:
    return GitHubConnector.from_config({"secrets": list(secrets or [DOCS_SECRET])})


def delivery(body: bytes, event: str, secret: str = DOCS_SECRET, **extra: str) -> WebhookRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": DELIVERY,
        "Content-Type": "application/json",
        **extra,
    }
    return WebhookRequest.build(body, headers)


def test_docs_vector() -> None:
    req = WebhookRequest.build(b"Hello, World!", {"X-Hub-Signature-256": DOCS_SIGNATURE})
    connector().verify(req, NOW)
    assert connector().sign(b"Hello, World!", NOW).headers["X-Hub-Signature-256"] == DOCS_SIGNATURE


def test_uppercase_hex_is_accepted() -> None:
    req = WebhookRequest.build(b"Hello, World!", {"x-hub-signature-256": DOCS_SIGNATURE.upper()})
    with pytest.raises(VerificationError, match="malformed_signature"):
        connector().verify(req, NOW)  # the "sha256=" prefix is case-sensitive
    upper_hex = "sha256=" + DOCS_SIGNATURE.removeprefix("sha256=").upper()
    connector().verify(WebhookRequest.build(b"Hello, World!", {"x-hub-signature-256": upper_hex}), 0)


@pytest.mark.parametrize(
    ("name", "event", "expected"),
    [
        ("ping.json", "ping", "ping"),
        ("push.json", "push", "push"),
        ("pull_request.opened.json", "pull_request", "pull_request.opened"),
    ],
)
def test_fixtures_verify_and_normalize(name: str, event: str, expected: str) -> None:
    body = fixture("github", name)
    req = delivery(body, event)
    connector().verify(req, NOW)
    [ev] = connector().normalize(req)
    assert ev.type == expected
    assert ev.dedup_key == ev.delivery_id == DELIVERY
    assert ev.payload["repository"]["full_name"] == "octo-org/hello-world"


def test_form_encoded_payload() -> None:
    body = urlencode({"payload": fixture("github", "pull_request.opened.json").decode()}).encode()
    req = delivery(body, "pull_request", **{"Content-Type": "application/x-www-form-urlencoded"})
    connector().verify(req, NOW)
    [ev] = connector().normalize(req)
    assert ev.type == "pull_request.opened"
    assert ev.payload["number"] == 42


def test_missing_delivery_falls_back_to_body_hash() -> None:
    body = fixture("github", "push.json")
    req = WebhookRequest.build(body, {"X-GitHub-Event": "push"})
    [ev] = connector().normalize(req)
    assert ev.dedup_key == sha256_of_parts("github", body)
    assert ev.delivery_id is None


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"{}", {}),  # no X-GitHub-Event
        (b"[1]", {"X-GitHub-Event": "push"}),
        (b"nope", {"X-GitHub-Event": "push"}),
        (b'{"action": 3}', {"X-GitHub-Event": "issues"}),
        (b'{"action": ""}', {"X-GitHub-Event": "issues"}),
        (b"{}", {"X-GitHub-Event": "x" * 129}),
        (b"payload=%7B", {"X-GitHub-Event": "push", "Content-Type": "application/x-www-form-urlencoded"}),
        (b"a=b", {"X-GitHub-Event": "push", "Content-Type": "application/x-www-form-urlencoded"}),
    ],
)
def test_normalize_rejects_unusable_deliveries(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body, headers))


def test_rotation_tries_every_secret() -> None:
    body = fixture("github", "push.json")
    signed_with_old = delivery(body, "push", secret="old-secret")
    connector("new-secret", "old-secret").verify(signed_with_old, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("new-secret").verify(signed_with_old, NOW)


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({"X-Hub-Signature": "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6"}, "missing_signature"),
        ({"X-Hub-Signature-256": ""}, "missing_signature"),
        ({"X-Hub-Signature-256": "757107ea0eb2509fc2112"}, "malformed_signature"),
        ({"X-Hub-Signature-256": "sha1=757107ea"}, "malformed_signature"),
        ({"X-Hub-Signature-256": "sha256=zz\u00e9"}, "bad_signature"),
        ({"X-Hub-Signature-256": "sha256="}, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(b"Hello, World!", headers), NOW)
    assert exc.value.cause == cause


def test_no_timestamp_so_any_clock_is_fine() -> None:
    req = signed_request(connector(), fixture("github", "ping.json"), now=NOW)
    connector().verify(req, 0)
    connector().verify(req, NOW * 2)


def test_sign_names_the_event_of_known_payloads() -> None:
    for name, event in [("ping.json", "ping"), ("push.json", "push")]:
        headers = connector().sign(fixture("github", name), NOW).headers
        assert headers["X-GitHub-Event"] == event
    req = signed_request(connector(), fixture("github", "pull_request.opened.json"), now=NOW)
    assert connector().normalize(req)[0].type == "pull_request.opened"


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "ping"


def test_body_dedup_makes_a_replay_under_other_headers_a_duplicate() -> None:
    """GitHub signs the body only: with `dedup = "body"`, a captured delivery sent again
    with another X-GitHub-Delivery (or event) has the same dedup key."""
    body = fixture("github", "push.json")
    by_body = GitHubConnector.from_config({"secrets": [DOCS_SECRET], "dedup": "body"})
    original = delivery(body, "push")
    replayed = delivery(body, "push", **{"X-GitHub-Delivery": "00000000-0000-0000-0000-000000000000"})
    for request in (original, replayed):
        by_body.verify(request, NOW)
    [first], [again] = by_body.normalize(original), by_body.normalize(replayed)
    assert first.dedup_key == again.dedup_key == sha256_of_parts("github", body)
    assert again.delivery_id == "00000000-0000-0000-0000-000000000000"
    # the default keeps GitHub's GUID
    assert connector().normalize(replayed)[0].dedup_key != connector().normalize(original)[0].dedup_key
