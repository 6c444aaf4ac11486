"""A real `hookgate serve` process over HTTP on a real SQLite file, and signed Stripe
deliveries to send it (the end-to-end tests' helpers)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import stripe

HOOKGATE = str(Path(sys.executable).with_name("hookgate"))
STRIPE_SECRET = "whsec_e2e_test_secret_0123456789"
GITHUB_SECRET = "github-e2e-secret"
FRESHDESK_PASSWORD = "freshdesk-e2e-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def base_config(tmp: Path, port: int, *, sink_path: Path | None = None, extra: str = "") -> str:
    return f"""
[server]
host = "127.0.0.1"
port = {port}
max_body_bytes = 65536

[store]
url = "sqlite:///{tmp / "hookgate.db"}"

[dispatcher]
poll_interval_seconds = 0.2
base_delay_seconds = 0.05
max_delay_seconds = 0.2
breaker_open_seconds = 0.2
breaker_max_open_seconds = 1.0

[sources.stripe]
connector = "stripe"
secrets = ["env:E2E_STRIPE_SECRET"]
tolerance_seconds = 300

[sources.github]
connector = "github"
secrets = ["{GITHUB_SECRET}"]

[sources.support]
connector = "freshdesk"
username = "hookgate"
password = "env:E2E_FRESHDESK_PASSWORD"

[sinks.archive]
type = "jsonl"
path = "{sink_path or tmp / "events.jsonl"}"
{extra}
"""


def jsonl_entries(path: Path) -> list[Any]:
    """The complete JSON lines of a file being appended to (none when it does not exist)."""
    if not path.exists():
        return []
    # JSON lines end at "\n" only (`splitlines` would also cut at U+0085, U+2028, …);
    # the last piece is a line still being written, unless it ends with one
    *lines, _partial = path.read_text().split("\n")
    return [json.loads(line) for line in lines if line]


@dataclass
class Served:
    """A running `hookgate serve` and the files it writes."""

    tmp: Path
    config: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.tmp / "hookgate.db"

    @property
    def sink(self) -> Path:
        return self.tmp / "events.jsonl"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(E2E_STRIPE_SECRET=STRIPE_SECRET, E2E_FRESHDESK_PASSWORD=FRESHDESK_PASSWORD)
        return env

    def start(self) -> None:
        log = self.tmp / f"serve-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [HOOKGATE, "serve", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env(),
                cwd=self.tmp,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hookgate serve exited: {log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("hookgate serve did not become healthy")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [HOOKGATE, *args, "--config", str(self.config)] if args[0] != "connectors" else [HOOKGATE, *args],
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=self.tmp,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"hookgate {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result

    def stored_count(self) -> int:
        with sqlite3.connect(self.db) as conn:
            (count,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
            return int(count)

    def sink_entries(self) -> list[dict[str, Any]]:
        if not self.sink.exists():
            return []
        return jsonl_entries(self.sink)

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far, parsed; a line still being written (the log
        is written in batches, by another thread) is left for the next look."""
        records: list[dict[str, Any]] = []
        for path in self.logs:
            if not path.exists():
                continue
            text = path.read_text(errors="replace")
            complete = text[: text.rfind("\n") + 1]
            records.extend(json.loads(line) for line in complete.splitlines() if line.startswith("{"))
        return records

    def wait_for_sink(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        entries = self.sink_entries()
        while time.monotonic() < deadline:
            entries = self.sink_entries()
            if predicate(entries):
                return entries
            time.sleep(0.1)
        raise AssertionError(f"sink never satisfied the condition; it has {len(entries)} entries")


def stripe_event(event_id: str | None = None, kind: str = "invoice.paid") -> bytes:
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": {"id": "in_1", "object": "invoice", "amount_paid": 4200}},
    }
    return json.dumps(event).encode()


def stripe_headers(
    body: bytes, *, secret: str = STRIPE_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    # The official SDK signs: an oracle nobody here wrote.
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=timestamp)
    return {"Stripe-Signature": header, "Content-Type": "application/json"}
