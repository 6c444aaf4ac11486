"""Shared helpers for the connector unit tests."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, settings

from connectors import Connector, VerificationError, WebhookRequest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

#: Deterministic fuzzing: same examples on every run, nothing written to disk.
FUZZ = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def fixture(provider: str, name: str) -> bytes:
    """The raw bytes of `tests/fixtures/<provider>/<name>`."""
    return (FIXTURES / provider / name).read_bytes()


def outcome(connector: Connector, request: WebhookRequest, now: float) -> str:
    """`"ok"` when `verify` accepts the request, else the `VerificationError` cause."""
    try:
        connector.verify(request, now)
    except VerificationError as exc:
        return exc.cause
    return "ok"
