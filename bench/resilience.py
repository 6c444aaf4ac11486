"""Resilience benchmark: a consumer that takes 30 s per event does not slow the webhook.

Two `hookgate serve` processes run side by side with the same Stripe source and the same
local bus. On the baseline, one rule sends every `payment_intent.succeeded` to a fast
`http` consumer; on the other, the same rule also sends it to a slow `http` consumer that
takes `--delay` seconds to answer each event. Signed deliveries go to both servers at the
same moments (open loop: `--rate` per second each, for `--duration` seconds; a latency is
measured from when the request was due, so a stall is never hidden), so the machine's
noise falls on both alike. Then the run waits until every consumer has every event, and
checks what the servers stored.

The slow target is set up as the router's docs say: `timeout_seconds` well above the
consumer's time per event (twice it and 5 s more, so no attempt times out even on a busy
machine), `[dispatcher] lease_seconds` at least twice that timeout, and `concurrency` (its
requests in flight) at `--concurrency`.

    .venv/bin/python bench/resilience.py                        # 30 s per event, 50/s for 20 s
    .venv/bin/python bench/resilience.py --delay 3 --duration 5 # a smaller run

The last line is one JSON object: p50/p99 of both servers, `p99_ratio` (slow / baseline;
the target is ≤ 1.5), deliveries per consumer, `duplicates`, `missing`, `retries` and
`dead` (all 0 when the router kept its promises), `ok` and `problems`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOOKGATE = str(Path(sys.executable).with_name("hookgate"))
SECRET = "whsec_resilience_bench_0123456789"  # noqa: S105 - a test secret
RULE = "payments"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Consumers:
    """The consumers: `/fast` answers at once, `/slow` after `delay` seconds; each records
    the event ids it received (the `webhook-id`... here the event's own id), per server."""

    def __init__(self, delay: float) -> None:
        self.received: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        consumers = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.path.endswith("/slow"):
                    time.sleep(delay)
                with consumers._lock:
                    consumers.received.setdefault(self.path, []).append(json.loads(body)["id"])
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def ids(self, path: str) -> list[str]:
        with self._lock:
            return list(self.received.get(path, []))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def config(tmp: Path, port: int, consumers: int, name: str, *, slow: bool, args: argparse.Namespace) -> str:
    timeout = round(args.delay * 2 + 5, 3)
    slow_target = f"""
[[sinks.bus.rules.{RULE}.targets]]
id = "slow"
type = "http"
url = "http://127.0.0.1:{consumers}/{name}/slow"
timeout_seconds = {timeout}
concurrency = {args.concurrency}
"""
    return f"""
[server]
host = "127.0.0.1"
port = {port}

[store]
url = "sqlite:///{tmp / name}.db"

[dispatcher]
lease_seconds = {max(120.0, 2 * timeout)}
poll_interval_seconds = 0.5

[sources.stripe]
connector = "stripe"
secrets = ["{SECRET}"]
sinks = ["bus"]

[sinks.bus]
type = "router"

[sinks.bus.rules.{RULE}]
event_pattern = {{ "detail-type" = ["payment_intent.succeeded"] }}

[[sinks.bus.rules.{RULE}.targets]]
id = "fast"
type = "http"
url = "http://127.0.0.1:{consumers}/{name}/fast"
{slow_target if slow else ""}
"""


class Server:
    def __init__(self, tmp: Path, name: str, text: str, port: int) -> None:
        self.name, self.port, self.tmp = name, port, tmp
        path = tmp / f"{name}.toml"
        path.write_text(text)
        self.db = tmp / f"{name}.db"
        self.log = (tmp / f"{name}.log").open("wb")
        self.process = subprocess.Popen(
            [HOOKGATE, "serve", "--config", str(path)], stdout=self.log, stderr=subprocess.STDOUT, cwd=tmp
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name}: hookgate serve exited")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"{name}: hookgate serve did not become healthy")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def queue(self) -> dict[str, Any]:
        """What the store says of the deliveries: states and attempts per target."""
        with sqlite3.connect(self.db) as conn:
            states = conn.execute(
                "SELECT sink, state, COUNT(*), MAX(attempts) FROM deliveries GROUP BY sink, state"
            ).fetchall()
            outcomes = conn.execute("SELECT outcome, COUNT(*) FROM attempts GROUP BY outcome").fetchall()
            causes = conn.execute(
                "SELECT sink, cause, COUNT(*) FROM attempts WHERE outcome != 'delivered' GROUP BY sink, cause"
            ).fetchall()
        return {
            "causes": {f"{sink}: {cause}": count for sink, cause, count in causes},
            "states": {f"{sink}:{state}": count for sink, state, count, _ in states},
            "max_attempts": max((m for *_, m in states), default=0),
            "attempts": dict(outcomes),
        }


def signed(event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {"object": {"id": f"pi_{event_id[4:]}", "object": "payment_intent", "amount": 4200}},
        }
    ).encode()
    timestamp = int(time.time())
    signature = hmac.new(SECRET.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}


async def load(servers: list[Server], rate: float, duration: float, warmup: int) -> dict[str, list[float]]:
    """Open loop: at each tick one new event to every server at once; latencies in ms
    from when each request was due (not of the first `warmup` ticks)."""
    latencies: dict[str, list[float]] = {s.name: [] for s in servers}
    failures: list[str] = []
    # Idle connections are dropped before the server's keep-alive timeout (5 s) could.
    limits = httpx.Limits(max_connections=200, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def send(server: Server, due: float, measured: bool) -> None:
            body, headers = signed(f"evt_{uuid.uuid4().hex[:24]}")
            url = f"http://127.0.0.1:{server.port}/webhooks/stripe"
            response = await client.post(url, content=body, headers=headers)
            if measured:
                latencies[server.name].append((time.perf_counter() - due) * 1000)
            if response.status_code != 200:
                failures.append(f"{server.name}: {response.status_code}")

        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter() + 0.1
        for tick in range(warmup + int(rate * duration)):
            due = start + tick / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.extend(asyncio.create_task(send(server, due, tick >= warmup)) for server in servers)
        await asyncio.gather(*tasks)
    if failures:
        raise RuntimeError(f"non-200 answers: {failures[:5]}")
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=50.0, help="deliveries per second to each server")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--delay", type=float, default=30.0, help="the slow consumer's seconds per event")
    parser.add_argument("--concurrency", type=int, default=100, help="the slow target's requests in flight")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="hookgate-resilience-"))
    consumers = Consumers(args.delay)
    servers: list[Server] = []
    problems: list[str] = []
    try:
        for name, slow in (("baseline", False), ("slow", True)):
            port = free_port()
            servers.append(
                Server(tmp, name, config(tmp, port, consumers.port, name, slow=slow, args=args), port)
            )
        started = time.monotonic()
        warmup = max(1, int(args.rate))  # a second's worth, not measured (first connections)
        latencies = asyncio.run(load(servers, args.rate, args.duration, warmup))
        sent = warmup + int(args.rate * args.duration)
        print(f"sent {sent} deliveries to each server in {time.monotonic() - started:.1f} s", flush=True)
        expected = {"/baseline/fast": sent, "/slow/fast": sent, "/slow/slow": sent}
        drain = args.delay * math.ceil(sent / args.concurrency) * 1.5 + 30
        deadline = time.monotonic() + drain
        while time.monotonic() < deadline:
            if all(len(set(consumers.ids(p))) >= n for p, n in expected.items()):
                break
            time.sleep(0.5)
        time.sleep(min(2.0, args.delay))  # a duplicate would arrive now
        print(f"consumers done {time.monotonic() - started:.1f} s after the first delivery", flush=True)
        received = {p: consumers.ids(p) for p in expected}
        duplicates = sum(n - 1 for ids in received.values() for n in Counter(ids).values() if n > 1)
        missing = sum(max(0, expected[p] - len(set(ids))) for p, ids in received.items())
        queues = {s.name: s.queue() for s in servers}
    finally:
        for server in servers:
            server.stop()
        consumers.close()
        if not args.keep:
            import shutil  # noqa: PLC0415

            shutil.rmtree(tmp, ignore_errors=True)

    retries = sum(q["attempts"].get("retry", 0) for q in queues.values())
    dead = sum(q["attempts"].get("dead", 0) + q["attempts"].get("permanent", 0) for q in queues.values())
    max_attempts = max(q["max_attempts"] for q in queues.values())
    summary: dict[str, Any] = {
        "bench": "resilience",
        "rate_per_s": args.rate,
        "duration_s": args.duration,
        "delay_s": args.delay,
        "concurrency": args.concurrency,
        "deliveries_per_server": sent,
        "baseline_p50_ms": percentile(latencies["baseline"], 0.5),
        "baseline_p99_ms": percentile(latencies["baseline"], 0.99),
        "slow_p50_ms": percentile(latencies["slow"], 0.5),
        "slow_p99_ms": percentile(latencies["slow"], 0.99),
        "received": {p: len(ids) for p, ids in received.items()},
        "duplicates": duplicates,
        "missing": missing,
        "retries": retries,
        "dead": dead,
        "max_attempts": max_attempts,
        "queues": {name: q["states"] for name, q in queues.items()},
        "not_delivered_causes": {name: q["causes"] for name, q in queues.items()},
    }
    summary["p99_ratio"] = round(summary["slow_p99_ms"] / max(summary["baseline_p99_ms"], 1e-9), 3)
    if summary["p99_ratio"] > 1.5:
        problems.append(f"p99 with the slow consumer is {summary['p99_ratio']}x the baseline's (limit 1.5x)")
    if duplicates or missing:
        problems.append(f"{duplicates} duplicate and {missing} missing deliveries")
    if retries or dead or max_attempts > 1:
        problems.append(f"{retries} retries, {dead} dead letters, up to {max_attempts} attempts per delivery")
    summary["ok"] = not problems
    summary["problems"] = problems
    print(json.dumps(summary), flush=True)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
