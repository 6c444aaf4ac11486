"""A real `hookgate serve` whose SQLite store is on a small volume: `/metrics` reports the
volume's free space, and short of space the store cuts its WAL's file after every commit
(and after a write that fails for space), so a full disk does not find the WAL holding
megabytes that SQLite's own checkpoints keep allocated."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.helpers.served import Served, base_config, free_port, stripe_headers
from tests.helpers.volumes import small_tmpfs

pytestmark = pytest.mark.e2e


def free_bytes_metric(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    found = re.search(r"^hookgate_store_free_bytes (\S+)$", text, re.MULTILINE)
    assert found, "no hookgate_store_free_bytes in /metrics"
    return float(found[1])


def served_on(tmp_path: Path, store: Path) -> Served:
    port = free_port()
    config = tmp_path / "hookgate.toml"
    config.write_text(base_config(tmp_path, port).replace(str(tmp_path / "hookgate.db"), str(store)))
    return Served(tmp_path, config, port)


def padded_event(size: int) -> bytes:
    event = {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": "invoice.paid",
        "created": int(time.time()),
        "data": {"object": {"id": "in_1", "memo": uuid.uuid4().hex * (size // 32)}},
    }
    return json.dumps(event).encode()


def test_the_store_volumes_free_space_is_a_metric(tmp_path: Path) -> None:
    gw = served_on(tmp_path, tmp_path / "hookgate.db")
    gw.start()
    try:
        reported = free_bytes_metric(gw.url)
        actual = shutil.disk_usage(tmp_path).free
        assert reported > 0
        assert abs(reported - actual) < 64 * 1_048_576  # the same volume (others write to it too)
    finally:
        gw.stop()


def test_a_full_volume_checkpoints_the_wal_at_once(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path, "8m") as mount:
        gw = served_on(tmp_path, mount / "hookgate.db")
        gw.start()
        try:
            assert 0 < free_bytes_metric(gw.url) <= 8 * 1_048_576
            statuses: list[int] = []
            with httpx.Client() as client:
                for _ in range(600):
                    body = padded_event(40_000)
                    answer = client.post(
                        f"{gw.url}/webhooks/stripe", content=body, headers=stripe_headers(body)
                    )
                    statuses.append(answer.status_code)
                    if answer.status_code == 503:
                        break
                assert statuses[-1] == 503, "the volume never filled up"
                wal = (mount / "hookgate.db-wal").stat().st_size
                # SQLite's own checkpoints keep the WAL's file at its largest (~4 MB)
                assert wal < 1_048_576, f"the WAL holds {wal} bytes on a full volume"
                deadline = time.monotonic() + 5  # the log is written in batches
                events: list[str] = []
                while time.monotonic() < deadline and not {
                    "store_checkpointed",
                    "store_checkpoint_failed",
                } & {*events}:
                    time.sleep(0.1)
                    events = [str(r.get("event")) for r in gw.log_records()]
                assert "store_space_low" in events  # below 64 MiB free from the start
                # the failed write tried a checkpoint (which may fail too: it can need room)
                assert {"store_checkpointed", "store_checkpoint_failed"} & {*events}
                assert free_bytes_metric(gw.url) < 1_048_576
                with sqlite3.connect(mount / "hookgate.db") as conn:  # every 200 is stored
                    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == statuses.count(200)
        finally:
            gw.stop()
