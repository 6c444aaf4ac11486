"""Fixtures of the pipeline unit tests (store, dispatcher, events, config, HTTP sending)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._http_server import HttpServer, serve_http

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
