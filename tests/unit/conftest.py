"""Fixtures of the pipeline unit tests (store, dispatcher, events, config, sinks, HTTP sending)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.aws import use_offline_env
from tests.helpers.http_server import HttpServer, serve_http

from ._fakes import FakeClock


@pytest.fixture
def anyio_backend() -> str:
    """The gateway runs on asyncio only."""
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A real database file, fresh for each test."""
    return f"sqlite:///{tmp_path / 'hookgate.db'}"


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    """A local HTTP server recording requests, answering as each body's `respond` asks."""
    with serve_http() as server:
        yield server


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake AWS credentials only; no shared config, no instance metadata."""
    use_offline_env(monkeypatch, tmp_path / "aws")
