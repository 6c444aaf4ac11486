"""The public test kit catches connectors that are too lenient or inconsistent."""

from __future__ import annotations

import pytest

from connectors import ProviderEvent, VerificationError, WebhookRequest
from connectors.github import GitHubConnector, GitHubOptions
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW


def github() -> GitHubConnector:
    return GitHubConnector.from_config({"secrets": ["s"]})


class AcceptsAnything(GitHubConnector):
    def verify(self, request: WebhookRequest, now: float) -> None:
        return None


class IgnoresBody(GitHubConnector):
    def verify(self, request: WebhookRequest, now: float) -> None:
        if "x-hub-signature-256" not in request.headers:
            raise VerificationError("missing_signature")


class RejectsItsOwn(GitHubConnector):
    def verify(self, request: WebhookRequest, now: float) -> None:
        raise VerificationError("bad_signature")


class EmptyType(GitHubConnector):
    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return [ProviderEvent(type="", payload={}, dedup_key="k")]


class NoEvents(GitHubConnector):
    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return []


def test_tamper_changes_exactly_one_byte() -> None:
    req = signed_request(github(), b"abcdef", now=NOW)
    changed = tamper(req)
    assert len(changed.body) == len(req.body)
    assert sum(a != b for a, b in zip(changed.body, req.body, strict=True)) == 1
    assert changed.headers == req.headers
    assert tamper(WebhookRequest.build(b"")).body == b"\x00"


def test_signed_request_uses_sample_body_and_url() -> None:
    req = signed_request(github(), now=NOW, url="https://example.test/hooks/gh")
    assert req.body == github().sample_body(NOW)
    assert req.url == "https://example.test/hooks/gh"
    assert req.method == "POST"


def test_check_connector_passes_a_sound_connector() -> None:
    assert check_connector(github(), NOW)[0].type == "ping"


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (AcceptsAnything, "bare delivery passed"),
        (IgnoresBody, "tampered delivery passed"),
        (RejectsItsOwn, "own signed delivery failed"),
        (EmptyType, "is not 1-128 characters"),
        (NoEvents, "returned no events"),
    ],
)
def test_check_connector_catches(cls: type[GitHubConnector], message: str) -> None:
    connector = cls(GitHubOptions.model_validate({"secrets": ["s"]}))
    with pytest.raises(AssertionError, match=message):
        check_connector(connector, NOW)
