"""A `jsonl` sink whose file blocks, under a real `hookgate serve`: a FIFO nobody reads, and
a FIFO whose reader stops. The gateway still starts, listens and acknowledges; the sink's
attempts time out (`timeout_seconds`) and are retried; SIGTERM ends the process within its
grace (`[server] shutdown_grace_seconds`); the events stay queued, neither lost nor marked
delivered, and reach the FIFO once somebody reads it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.served import Served, base_config, free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 1
GRACE_SECONDS = 2
#: SIGTERM ends the process within this: requests drained, then the gateway stopped, each
#: within the grace, plus the interpreter's own exit.
EXIT_BOUND = 2 * GRACE_SECONDS + 3


@pytest.fixture
def fifo_served(tmp_path: Path) -> Iterator[Served]:
    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    port = free_port()
    config = tmp_path / "hookgate.toml"
    text = (
        base_config(tmp_path, port)
        .replace("[dispatcher]", "[dispatcher]\nmax_attempts = 1000")
        .replace("[server]", f"[server]\nshutdown_grace_seconds = {GRACE_SECONDS}")
    )
    config.write_text(text + f"fsync = false\ntimeout_seconds = {TIMEOUT_SECONDS}\n")
    served = Served(tmp_path, config, port)
    yield served
    served.stop()


def deliver(client: httpx.Client, url: str, padding: int = 0) -> str:
    event = json.loads(stripe_event())
    event["data"]["object"]["memo"] = "x" * padding
    body = json.dumps(event).encode()
    began = time.monotonic()
    response = client.post(f"{url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 200, response.text
    assert time.monotonic() - began < 1.0
    return str(response.headers["x-hookgate-event-ids"])


def states(served: Served) -> dict[str, str]:
    with sqlite3.connect(served.db) as conn:
        return dict(conn.execute("SELECT event_id, state FROM deliveries WHERE sink = 'archive'").fetchall())


def terminate(served: Served) -> float:
    """SIGTERM the process; the seconds it took to exit."""
    assert served.process is not None
    began = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    try:
        served.process.wait(EXIT_BOUND + 10)
    except Exception:
        served.process.kill()
        raise
    served.process = None
    return time.monotonic() - began


class Reader:
    """Reads a FIFO's lines on a thread of its own, from a read end kept open."""

    def __init__(self, fifo: Path) -> None:
        self.fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.data = b""
        self.reading = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            if not self.reading.is_set():
                time.sleep(0.02)
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                time.sleep(0.02)
                continue
            if chunk:
                self.data += chunk
            else:
                time.sleep(0.02)

    def ids(self) -> set[str]:
        *lines, _partial = self.data.decode().split("\n")
        return {json.loads(line)["id"] for line in lines if line}

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        os.close(self.fd)


def test_a_fifo_nobody_reads_neither_stops_the_gateway_nor_loses_events(fifo_served: Served) -> None:
    fifo_served.start()  # listens, although opening the sink's file would block
    with httpx.Client(timeout=10) as client:
        acknowledged = {deliver(client, fifo_served.url) for _ in range(5)}
        time.sleep(2 * TIMEOUT_SECONDS)
        assert client.get(f"{fifo_served.url}/healthz").status_code == 200
    found = states(fifo_served)
    assert set(found) == acknowledged
    assert set(found.values()) <= {"pending", "retry", "forwarding"}, found
    assert "no reader on the FIFO" in fifo_served.log_text()
    assert terminate(fifo_served) < EXIT_BOUND
    assert set(states(fifo_served).values()) <= {"pending", "retry", "forwarding"}

    reader = Reader(fifo_served.sink)
    reader.reading.set()
    try:
        fifo_served.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not reader.ids() >= acknowledged:
            time.sleep(0.1)
        assert reader.ids() >= acknowledged
    finally:
        fifo_served.stop()
        reader.close()


def test_a_reader_that_stops_stalls_no_request_and_no_shutdown(fifo_served: Served) -> None:
    reader = Reader(fifo_served.sink)  # opened, never read until the end: the pipe fills up
    try:
        fifo_served.start()
        with httpx.Client(timeout=10) as client:
            # lines of about 3 KiB (under PIPE_BUF: each goes into the pipe whole or not at all)
            acknowledged = {deliver(client, fifo_served.url, padding=2500) for _ in range(40)}
            deadline = time.monotonic() + 10
            while "io_timeout" not in fifo_served.log_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "io_timeout" in fifo_served.log_text()
            # the gateway still answers at once, and still acknowledges
            began = time.monotonic()
            assert client.get(f"{fifo_served.url}/healthz").status_code == 200
            assert time.monotonic() - began < 0.5
            acknowledged |= {deliver(client, fifo_served.url) for _ in range(3)}
        found = states(fifo_served)
        assert set(found) == acknowledged
        waiting = {event for event, state in found.items() if state != "delivered"}
        assert waiting, "every event fitted in the pipe: nothing was held up"
        assert "dead" not in found.values()
        assert terminate(fifo_served) < EXIT_BOUND
        assert {e for e, state in states(fifo_served).items() if state != "delivered"} >= waiting

        reader.reading.set()  # the reader is back: what it missed arrives
        fifo_served.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not reader.ids() >= acknowledged:
            time.sleep(0.1)
        assert reader.ids() >= acknowledged
        fifo_served.stop()
        assert set(states(fifo_served).values()) == {"delivered"}
    finally:
        fifo_served.stop()
        reader.close()
