"""End-to-end fixtures: a real `hookgate serve` process over HTTP on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.served import Served, base_config, free_port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    config = tmp_path / "hookgate.toml"
    config.write_text(base_config(tmp_path, port))
    gw = Served(tmp_path, config, port)
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()
