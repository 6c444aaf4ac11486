"""The README's Quickstart, as a new user runs it: `hookgate serve --config examples/demo.toml`,
then `hookgate send-test stripe`; the event lands in the archive and, through the demo's
router rule, in the ledger, transformed, both next to the configuration file (a copy of
the demo, in a project directory of its own)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.served import HOOKGATE, free_port, jsonl_entries

pytestmark = pytest.mark.e2e

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.toml"


def wait_for_lines(path: Path, count: int, timeout: float = 20.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = jsonl_entries(path)
            if len(lines) >= count:
                return lines
        time.sleep(0.05)
    raise AssertionError(f"{path.name} never had {count} line(s)")


def test_the_demo_serves_and_routes_a_test_event(tmp_path: Path) -> None:
    project = tmp_path / "project"  # the repository root, as far as the demo knows
    (project / "examples").mkdir(parents=True)
    shutil.copy(DEMO, project / "examples" / "demo.toml")
    demo = "examples/demo.toml"
    port = free_port()
    env = {**os.environ, "HOOKGATE_SERVER__PORT": str(port)}  # the demo's 8080 may be taken here
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [HOOKGATE, "serve", "--config", demo],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo never became healthy"
                time.sleep(0.05)
        sent = subprocess.run(
            [HOOKGATE, "send-test", "stripe", "--config", demo],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr

        [archived] = wait_for_lines(project / "examples" / "events.jsonl", 1)
        assert archived["source"] == "hookgate.stripe"
        assert archived["detail-type"] == "payment_intent.succeeded"
        [ledger] = wait_for_lines(project / "examples" / "payments.jsonl", 1)
        assert ledger == {
            "payment": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
            "amount": 2000,
            "currency": "usd",
            "rule": "payments",
        }
        listed = subprocess.run(
            [HOOKGATE, "events", "list", "--config", demo],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        assert "payment_intent.succeeded" in listed.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)
        log.close()
    printed = (tmp_path / "serve.log").read_text()
    assert f"http://127.0.0.1:{port}/webhooks/stripe" in printed  # the webhook URL of each source
