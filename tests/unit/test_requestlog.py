"""The requests log's redaction: by the default patterns, the configured ones and the
headers a connector declares, checked against every built-in connector's own signing (a
header whose value depends on the credential must never be stored), and the bounded
buffer of rejected requests."""

from __future__ import annotations

import pytest

from gateway.requestlog import REDACTED, REDACTED_HEADERS, Redactor, RequestLog
from tests.catalogue import CATALOGUE, Case

from ._fakes import NOW


def raw(headers: tuple[tuple[str, str], ...]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


@pytest.mark.parametrize("case", CATALOGUE.values(), ids=lambda case: case.key)
def test_every_header_that_carries_a_credential_is_redacted(case: Case) -> None:
    """Signed twice with the real credential and once with a forged one, at the same moment
    and over the same body: a header whose value changes with the credential (and not by
    itself) carries something derived from a secret, and is stored as `[redacted]`."""
    url = "https://hooks.example.com/webhooks/" + case.key
    body = case.body(NOW)
    real = dict(case.sign(body, NOW, url).headers)
    again = dict(case.sign(body, NOW, url).headers)
    forged = dict(case.sign(body, NOW, url, forged=True).headers)
    credential = {
        name.lower() for name, value in real.items() if forged.get(name) != value and again.get(name) == value
    }
    stored = dict(Redactor().headers(raw(tuple(real.items())), case.server().secret_headers()))
    leaked = {name: stored[name] for name in credential if stored[name] != REDACTED}
    assert not leaked, f"{case.key}: stored in clear: {sorted(leaked)}"


def test_configured_patterns_and_declared_headers_are_redacted_and_the_rest_kept() -> None:
    redactor = Redactor((*REDACTED_HEADERS, "x-custom-*"))
    headers = (
        ("Authorization", "Bearer abc"),
        ("X-Custom-Thing", "secret-1"),
        ("X-Webhook-Token", "secret-2"),
        ("X-Shopify-Hmac-Sha256", "secret-3"),
        ("X-Our-Header", "secret-4"),
        ("Content-Type", "application/json"),
        ("User-Agent", "Stripe/1.0"),
    )
    stored = redactor.headers(raw(headers), frozenset({"x-our-header"}))
    assert stored == (
        ("authorization", REDACTED),
        ("x-custom-thing", REDACTED),
        ("x-webhook-token", REDACTED),
        ("x-shopify-hmac-sha256", REDACTED),
        ("x-our-header", REDACTED),
        ("content-type", "application/json"),
        ("user-agent", "Stripe/1.0"),
    )
    # The same names again: the cached decisions, and the declared header only where declared.
    assert redactor.headers(raw(headers))[4] == ("x-our-header", "secret-4")


class _NoStore:
    """What the buffer is handed to: records, kept (a `StoreAdmin` stand-in)."""

    def __init__(self) -> None:
        self.written: list[object] = []

    async def record_requests(self, records: list[object]) -> None:
        self.written.extend(records)


@pytest.mark.anyio
async def test_the_rejected_buffer_is_bounded_and_a_kept_body_truncated() -> None:
    store = _NoStore()
    log = RequestLog(store, keep_rejected_bodies=True, body_limit=8, buffer_limit=5)  # type: ignore[arg-type]
    for i in range(12):
        log.later(
            log.record(
                now=NOW + i,
                source="s",
                status=401,
                cause="bad_signature",
                size=20,
                client=None,
                headers=[(b"cookie", b"c")],
                body=b"0123456789abcdef",
            )
        )
    accepted = log.record(
        now=NOW, source="s", status=200, cause=None, size=3, client=None, headers=[], body=b"abc"
    )
    assert accepted.body is None  # an accepted body is never kept
    assert log.dropped == 7
    assert await log.flush() == 5
    assert [r.received_at for r in store.written] == [NOW + i for i in range(7, 12)]  # type: ignore[attr-defined]
    assert {r.body for r in store.written} == {b"01234567"}  # type: ignore[attr-defined]
    assert await log.flush() == 0
