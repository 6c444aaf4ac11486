"""The public test kit catches connectors that are too lenient or inconsistent."""

from __future__ import annotations

import pytest

from connectors import ProviderEvent, VerificationError, WebhookRequest
from connectors.github import GitHubConnector, GitHubOptions
from connectors.stripe import StripeConnector
from connectors.testing import (
    check_connector,
    check_malformed,
    check_rotation,
    check_tolerance,
    signed_request,
    tamper,
)

from ._fakes import NOW
from ._support import fixture


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


def stripe(*secrets: str, tolerance: int = 300) -> StripeConnector:
    return StripeConnector.from_config({"secrets": list(secrets) or ["s"], "tolerance_seconds": tolerance})


def stripe_signed(secret: str = "s", at: float = NOW) -> WebhookRequest:  # noqa: S107 - a test secret
    """Signed by a connector holding `secret` only, at `at`."""
    return signed_request(stripe(secret), b"{}", now=at)


class FirstSecretOnly(StripeConnector):
    def verify(self, request: WebhookRequest, now: float) -> None:
        stripe(self.options.secrets[0].get_secret_value()).verify(request, now)


class WrongCause(StripeConnector):
    def verify(self, request: WebhookRequest, now: float) -> None:
        try:
            super().verify(request, now)
        except VerificationError:
            raise VerificationError("malformed_header") from None


class Timeless(StripeConnector):
    def verify(self, request: WebhookRequest, now: float) -> None:
        super().verify(request, float(request.headers["stripe-signature"].split(",")[0][2:]))


def test_check_rotation_and_tolerance_pass_a_sound_connector() -> None:
    check_rotation(stripe, stripe_signed, NOW)
    check_tolerance(stripe(), lambda at: stripe_signed(at=at), NOW, 300)
    check_tolerance(stripe(tolerance=60), lambda at: stripe_signed(at=at), NOW, 60, step=2)


def test_check_rotation_catches() -> None:
    def first_only(*secrets: str) -> StripeConnector:
        return FirstSecretOnly(stripe(*secrets).options)

    with pytest.raises(AssertionError, match=r"old secret failed verify\(\) while both .*: bad_signature"):
        check_rotation(first_only, stripe_signed, NOW)
    with pytest.raises(AssertionError, match="a delivery signed with the old secret only passed"):
        check_rotation(lambda *_: stripe("new", "old"), stripe_signed, NOW)
    with pytest.raises(AssertionError, match="refused as malformed_header, not bad_signature"):
        check_rotation(lambda *secrets: WrongCause(stripe(*secrets).options), stripe_signed, NOW)


def test_check_tolerance_catches() -> None:
    with pytest.raises(AssertionError, match=r"a delivery signed -301 s away passed"):
        check_tolerance(stripe(tolerance=301), lambda at: stripe_signed(at=at), NOW, 300)
    with pytest.raises(AssertionError, match=r"a delivery signed -300 s away failed verify"):
        check_tolerance(stripe(tolerance=299), lambda at: stripe_signed(at=at), NOW, 300)
    with pytest.raises(AssertionError, match="passed verify"):
        check_tolerance(Timeless(stripe().options), lambda at: stripe_signed(at=at), NOW, 300)
    with pytest.raises(AssertionError, match="not stale_timestamp"):
        check_tolerance(WrongCause(stripe().options), lambda at: stripe_signed(at=at), NOW, 300)


def test_check_malformed() -> None:
    check_malformed(stripe(), b"[]", b"{}", b"nope")
    with pytest.raises(AssertionError, match="accepted"):
        check_malformed(stripe(), b"[]", fixture("stripe", "invoice.paid.json"))
