"""Shared helpers for the connector unit tests."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

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

#: A fixed clock: 2023-11-14T22:13:20Z.
NOW = 1_700_000_000


def fixture(provider: str, name: str) -> bytes:
    """The raw bytes of `tests/fixtures/<provider>/<name>`."""
    return (FIXTURES / provider / name).read_bytes()


#: Any clock a fuzzed `verify` may be called with (unix seconds, 1970 to 2096).
CLOCK = st.floats(min_value=0, max_value=4e9)


def query_pairs(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Up to two query parameters with names and values drawn from `values`."""
    return st.lists(st.tuples(values, values), max_size=2)


def outcome(connector: Connector, request: WebhookRequest, now: float) -> str:
    """`"ok"` when `verify` accepts the request, else the `VerificationError` cause."""
    try:
        connector.verify(request, now)
    except VerificationError as exc:
        return exc.cause
    return "ok"
