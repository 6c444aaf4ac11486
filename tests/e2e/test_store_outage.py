"""A PostgreSQL outage seen by a real `hookgate serve`: while the database refuses
connections (`ALLOW_CONNECTIONS false`, its sessions terminated), deliveries answer 503
with `Retry-After` within the acquire timeout instead of hanging past a provider's
timeout, and `/readyz` says unavailable; once the database is back, deliveries answer 200
again, and every event acknowledged before, during or after the outage is delivered."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.helpers.served import Served, base_config, free_port, stripe_event, stripe_headers
from tests.unit._postgres import require_postgres

pytestmark = pytest.mark.e2e

OUTAGE_SECONDS = 6.0
#: `[store] acquire_timeout_seconds` (the default), and what a 503 may take beyond it.
ACQUIRE_TIMEOUT = 2.0
SLACK = 1.5


@pytest.fixture
def database() -> Iterator[tuple[str, str]]:
    """A database of its own (its name, and its URL), dropped afterwards."""
    url = require_postgres()
    name = f"hookgate_outage_{uuid.uuid4().hex[:12]}"
    admin = make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(url)
    host, port = params.get("host", "127.0.0.1"), params.get("port", "5432")
    user = params.get("user", "postgres")
    try:
        yield name, f"postgresql://{user}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def allow_connections(url: str, name: str, allowed: bool) -> None:
    """Open or close the database; closing it also ends every session it has."""
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if allowed else "false")
            )
        )
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )


def post(client: httpx.Client, url: str) -> tuple[int, float, str | None, list[str]]:
    """Deliver one signed event: the status, the time it took, `Retry-After`, the stored ids."""
    body = stripe_event()
    began = time.monotonic()
    try:
        response = client.post(f"{url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    except httpx.TimeoutException:
        return 0, time.monotonic() - began, None, []
    ids = response.headers.get("x-hookgate-event-ids", "")
    return (
        response.status_code,
        time.monotonic() - began,
        response.headers.get("retry-after"),
        [i for i in ids.split(",") if i],
    )


def test_a_postgres_outage_answers_503_fast_and_loses_nothing(
    tmp_path: Path, database: tuple[str, str]
) -> None:
    name, url = database
    port = free_port()
    config = tmp_path / "hookgate.toml"
    config.write_text(
        base_config(tmp_path, port).replace(f'url = "sqlite:///{tmp_path / "hookgate.db"}"', f'url = "{url}"')
    )
    served = Served(tmp_path, config, port)
    served.start()
    acknowledged: list[str] = []
    try:
        with httpx.Client(timeout=15) as client:
            for _ in range(5):
                status, _, _, ids = post(client, served.url)
                assert status == 200
                acknowledged += ids
            assert client.get(f"{served.url}/readyz").status_code == 200

            allow_connections(url, name, allowed=False)
            during: list[tuple[int, float, str | None]] = []
            began = time.monotonic()
            while time.monotonic() - began < OUTAGE_SECONDS:
                status, took, retry_after, ids = post(client, served.url)
                during.append((status, took, retry_after))
                acknowledged += ids if status == 200 else []
            ready_during = client.get(f"{served.url}/readyz")
            allow_connections(url, name, allowed=True)

            assert len(during) >= 2
            for status, took, retry_after in during:
                assert status == 503, during
                assert took < ACQUIRE_TIMEOUT + SLACK, during
                assert retry_after is not None
                assert int(retry_after) > 0
            assert ready_during.status_code == 503

            after: list[int] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status, _, _, ids = post(client, served.url)
                after.append(status)
                if status == 200:
                    acknowledged += ids
                    if after[-3:] == [200] * 3:
                        break
                else:
                    time.sleep(0.2)
            assert after[-3:] == [200] * 3, after
            assert client.get(f"{served.url}/readyz").status_code == 200

        entries = served.wait_for_sink(lambda found: {e["id"] for e in found} >= set(acknowledged), 30)
        assert {e["id"] for e in entries} >= set(acknowledged)
    finally:
        served.stop()
    with psycopg.connect(url) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM hookgate.events").fetchall()}
    assert set(acknowledged) <= stored
