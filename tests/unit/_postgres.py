"""A fresh PostgreSQL schema per test, on the server named by `HOOKGATE_TEST_POSTGRES_URL`.

Without a reachable server the PostgreSQL tests are skipped, with the reason, except in CI
(`CI` set, as CI services do), where they fail: CI must not pass by skipping them.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("HOOKGATE_TEST_POSTGRES_URL", DEFAULT_URL)


@functools.cache
def _unreachable(url: str) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def require_postgres() -> str:
    """The test server's URL; skips the test (fails it in CI) when none answers."""
    url = postgres_url()
    problem = _unreachable(url)
    if problem is not None:
        reason = (
            f"no PostgreSQL server at HOOKGATE_TEST_POSTGRES_URL ({url}): {problem}; "
            "start one or point the variable at one"
        )
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI requires PostgreSQL: {reason}", pytrace=False)
        pytest.skip(reason)
    return url


@contextmanager
def postgres_schema() -> Iterator[dict[str, Any]]:
    """The `[store]` table of a store in a schema of its own, dropped afterwards."""
    url = require_postgres()
    schema = f"hookgate_test_{uuid.uuid4().hex[:16]}"
    try:
        yield {"url": url, "schema_name": schema, "pool_min_size": 1, "pool_max_size": 4}
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
