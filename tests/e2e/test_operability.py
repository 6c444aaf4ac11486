"""What an operator sees of a real `hookgate serve`: its startup and shutdown lines, log
lines for people on a terminal, and metrics on a port of their own."""

from __future__ import annotations

import importlib.metadata
import json
import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.served import HOOKGATE, Served, base_config, free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e


def records(served: Served, event: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The JSON log lines named `event` (waiting a moment for the first: lines are batched)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in served.log_records() if r["event"] == event]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_startup_and_shutdown_lines(served: Served) -> None:
    [started] = records(served, "started")
    assert started["level"] == "info"
    assert started["version"] == importlib.metadata.version("hookgate")
    assert started["url"] == served.url
    assert started["sources"] == {
        name: f"{served.url}/webhooks/{name}" for name in ("stripe", "github", "support")
    }
    assert started["store"] == f"sqlite:///{served.db}"
    assert started["sinks"] == {"archive": "jsonl"}
    assert started["metrics_url"] == f"{served.url}/metrics"

    served.stop()
    served.config.write_text(served.config.read_text().replace(str(served.sink), "/dev/full"))
    served.start()  # the sink's file refuses every write now (ENOSPC): every delivery waits for a retry
    body = stripe_event()
    assert httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body)).is_success
    served.stop()

    stopped = records(served, "stopped")
    assert len(stopped) == 2
    assert stopped[0]["pending"] == 0
    assert stopped[1]["pending"] == 1  # the event's delivery to the archive, resumed on the next start
    assert all(0 <= r["drain_seconds"] < 10 and r["level"] == "info" for r in stopped)


def test_metrics_on_a_port_of_their_own(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    config = tmp_path / "hookgate.toml"
    text = base_config(tmp_path, port)
    config.write_text(text.replace("[store]", f"metrics_port = {metrics_port}\n\n[store]"))
    served = Served(tmp_path, config, port)
    served.start()
    try:
        body = stripe_event()
        accepted = httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
        assert accepted.is_success
        scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        elsewhere = [
            httpx.get(f"{served.url}/metrics"),
            httpx.post(f"http://127.0.0.1:{metrics_port}/webhooks/stripe", content=body),
            httpx.get(f"http://127.0.0.1:{metrics_port}/healthz"),
        ]
        [started] = records(served, "started")
    finally:
        served.stop()

    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    assert 'hookgate_requests_received_total{source="stripe"} 1.0' in text
    assert "hookgate_build_info{version=" in text
    assert "process_cpu_seconds_total" in text
    assert "python_info{" in text
    assert "_created" not in text
    assert [r.status_code for r in elsewhere] == [404, 404, 404]
    assert started["metrics_url"] == f"http://127.0.0.1:{metrics_port}/metrics"


class Terminal:
    """`hookgate serve` with its stderr on a pseudo-terminal, as when run by hand."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.port = free_port()
        config = tmp / "hookgate.toml"
        config.write_text(base_config(tmp, self.port))
        self.master, replica = pty.openpty()
        self.process = subprocess.Popen(
            [HOOKGATE, "serve", "--config", str(config), *args],
            stdout=subprocess.DEVNULL,
            stderr=replica,
            env=Served(tmp, config, self.port).env(),
            cwd=tmp,
        )
        os.close(replica)
        self.output = b""

    def read_until(self, text: bytes, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:  # the process is gone
                    break
        return self.output.decode(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        os.close(self.master)


@pytest.fixture
def terminal(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Terminal]:
    run = Terminal(tmp_path, *request.param)
    try:
        yield run
    finally:
        run.close()


@pytest.mark.parametrize("terminal", [()], indirect=True)
def test_a_terminal_gets_lines_for_people(terminal: Terminal) -> None:
    text = terminal.read_until(b"started")
    [line] = [line for line in text.splitlines() if "started" in line]
    assert not line.lstrip().startswith("{")
    assert "\x1b[" in line  # in colour
    assert "sinks" in line
    assert "/webhooks/stripe" in line
    body = stripe_event()
    response = httpx.post(
        f"http://127.0.0.1:{terminal.port}/webhooks/stripe", content=body, headers=stripe_headers(body)
    )
    assert response.status_code == 200
    text = terminal.read_until(b"delivery_attempt")
    assert "delivery_attempt" in text
    assert "{" not in text.split("delivery_attempt", 1)[0].splitlines()[-1]


@pytest.mark.parametrize("terminal", [("--log-format", "json")], indirect=True)
def test_json_lines_on_a_terminal_when_asked(terminal: Terminal) -> None:
    text = terminal.read_until(b'"started"')
    [started] = [json.loads(line) for line in text.splitlines() if '"started"' in line]
    assert started["sinks"] == {"archive": "jsonl"}


def test_lines_for_people_in_a_file_when_asked(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "hookgate.toml"
    config.write_text(base_config(tmp_path, port))
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [HOOKGATE, "serve", "--config", str(config), "--log-format", "console"],
            stdout=subprocess.DEVNULL,
            stderr=out,
            env=Served(tmp_path, config, port).env(),
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 30
        while "started" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
    lines = log.read_text().splitlines()
    assert any("started" in line for line in lines)
    assert any("stopped" in line and "drain_seconds=" in line for line in lines)
    assert not any(line.startswith("{") for line in lines)
    assert "\x1b[" not in log.read_text()  # not a terminal: no colours
