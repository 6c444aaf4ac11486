"""Shared helpers for the connector unit tests."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, settings

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
