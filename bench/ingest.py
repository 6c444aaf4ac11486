"""Ingest benchmark: signed Stripe deliveries verified, stored durably and acknowledged.

Measures one `hookgate serve` worker process against a bare Starlette endpoint
(`bench/bare_app.py`, served by uvicorn with the same settings) with the same load
generator (wrk), the same connections and the same request bytes: many distinct
`payment_intent.succeeded` events, each signed with the source's secret just before the
runs, in alternating rounds. Afterwards it checks that every request hookgate answered
200 stored exactly one new event. The last line of output is one JSON object; see
bench/README.md.

    .venv/bin/python bench/ingest.py              # 3 rounds of 10 s per server, 32 connections
    .venv/bin/python bench/ingest.py --quick      # one round of 3 s per server
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
LUA_SCRIPT = BENCH_DIR / "replay.lua"
BARE_APP = BENCH_DIR / "bare_app.py"
SOURCE = "stripe"
TOLERANCE_SECONDS = 300
TARGET_RATIO = 0.7
TARGET_P99_MS = 20.0
#: Events are sized for this many hookgate requests per second (`--events` overrides it);
#: the run reports `wrapped` > 0 if the load generator had to reuse events anyway.
DEFAULT_RATE_CEILING = 6000


@dataclass(frozen=True, slots=True)
class WrkResult:
    duration_s: float
    requests: int
    non_2xx: int
    socket_errors: int
    timeouts: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    wrapped: int

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx


# -- the events ------------------------------------------------------------------------


def _event_template() -> str:
    """A Stripe `payment_intent.succeeded` event (API 2024-06-20) as `str.format` text.

    Pretty-printed with two spaces, as Stripe sends it; about 1.9 KB once filled in.
    """

    def field(name: str) -> str:
        return f"@@{name}@@"

    event: dict[str, Any] = {
        "id": field("evt"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": field("created"),
        "data": {
            "object": {
                "id": field("pi"),
                "object": "payment_intent",
                "amount": field("amount"),
                "amount_capturable": 0,
                "amount_details": {"tip": {}},
                "amount_received": field("amount"),
                "application": None,
                "application_fee_amount": None,
                "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
                "canceled_at": None,
                "cancellation_reason": None,
                "capture_method": "automatic_async",
                "client_secret": field("secret"),
                "confirmation_method": "automatic",
                "created": field("created"),
                "currency": "usd",
                "customer": field("cus"),
                "description": "Subscription update",
                "invoice": field("invoice"),
                "last_payment_error": None,
                "latest_charge": field("ch"),
                "livemode": False,
                "metadata": {"order_id": field("order"), "plan": "pro-annual"},
                "next_action": None,
                "on_behalf_of": None,
                "payment_method": field("pm"),
                "payment_method_configuration_details": None,
                "payment_method_options": {
                    "card": {
                        "installments": None,
                        "mandate_options": None,
                        "network": None,
                        "request_three_d_secure": "automatic",
                    }
                },
                "payment_method_types": ["card"],
                "processing": None,
                "receipt_email": "jenny.rosen@example.com",
                "review": None,
                "setup_future_usage": "off_session",
                "shipping": None,
                "source": None,
                "statement_descriptor": None,
                "statement_descriptor_suffix": None,
                "status": "succeeded",
                "transfer_data": None,
                "transfer_group": None,
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": field("req"), "idempotency_key": field("idem")},
        "type": "payment_intent.succeeded",
    }
    text = json.dumps(event, indent=2).replace("{", "{{").replace("}", "}}")
    for number in ("created", "amount"):  # numbers, not strings
        text = text.replace(f'"{field(number)}"', "{" + number + "}")
    return re.sub(r"@@(\w+)@@", r"{\1}", text)


def make_bodies(count: int) -> list[bytes]:
    """`count` distinct events: every id in them is unique to this run."""
    template = _event_template()
    run = secrets.token_hex(4)
    created = int(time.time())
    bodies = []
    for i in range(count):
        key = f"{run}{i:010d}"
        bodies.append(
            template.format(
                evt=f"evt_3Bn{key}",
                pi=f"pi_3Bn{key}",
                secret=f"pi_3Bn{key}_secret_{key[::-1]}",
                cus=f"cus_Q{key[-8:]}",
                invoice=f"in_1Bn{key}",
                ch=f"ch_3Bn{key}",
                order=f"ord-{i}",
                pm=f"pm_1Bn{key}",
                req=f"req_{key}",
                idem=f"{key[:8]}-{key[8:12]}-4000-8000-{i:012d}",
                created=created,
                amount=1000 + i % 90000,
            ).encode()
        )
    return bodies


def write_requests(path: Path, bodies: Sequence[bytes], secret: str, host: str) -> float:
    """Sign every body now and write the raw requests for `replay.lua`; the signing time."""
    now = time.time()
    timestamp = int(now)
    key = secret.encode()
    prefix = b"%d." % timestamp
    with path.open("wb") as out:
        out.write(b"%d\n" % len(bodies))
        for body in bodies:
            signature = hmac.new(key, prefix + body, hashlib.sha256).hexdigest()
            head = (
                f"POST /webhooks/{SOURCE} HTTP/1.1\r\n"
                f"Host: {host}\r\n"
                "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
                "Accept: */*; q=0.5, application/xml\r\n"
                "Cache-Control: no-cache\r\n"
                "Content-Type: application/json; charset=utf-8\r\n"
                f"Stripe-Signature: t={timestamp},v1={signature}\r\n"
                f"Content-Length: {len(body)}\r\n"
                "\r\n"
            ).encode()
            out.write(b"%d\n" % (len(head) + len(body)))
            out.write(head)
            out.write(body)
    return now


def check_signature_with_connector(body: bytes, secret: str) -> None:
    """Fail early if the bench's signing disagrees with the Stripe connector's verify."""
    from connectors import Headers, WebhookRequest  # noqa: PLC0415 - only for the self-check
    from connectors.stripe import StripeConnector, StripeOptions  # noqa: PLC0415

    connector = StripeConnector(StripeOptions.model_validate({"secrets": [secret]}))
    now = time.time()
    timestamp = int(now)
    signature = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    request = WebhookRequest(
        method="POST",
        body=body,
        headers=Headers({"Stripe-Signature": f"t={timestamp},v1={signature}"}),
        query=(),
        url=f"http://localhost/webhooks/{SOURCE}",
    )
    connector.verify(request, now)
    connector.normalize(request)


# -- processes -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pinned(cmd: list[str], cpu: int | None) -> list[str]:
    return cmd if cpu is None else ["taskset", "-c", str(cpu), *cmd]


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(url, timeout=1) as response,  # noqa: S310 - a local URL
        ):
            if response.status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def server(cmd: list[str], health_url: str, log: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        wait_healthy(health_url, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_wrk(
    url: str,
    requests_file: Path,
    *,
    threads: int,
    connections: int,
    duration: float,
    cpu: int | None,
    slices: int,
    first_slice: int,
) -> WrkResult:
    cmd = pinned(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration:g}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA_SCRIPT),
            url,
            "--",
            str(requests_file),
            str(slices),
            str(first_slice),
        ],
        cpu,
    )
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        duration_s=raw["duration_us"] / 1e6,
        requests=raw["requests"],
        non_2xx=raw["status_errors"],
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"],
        timeouts=raw["timeouts"],
        p50_ms=raw["latency_p50_us"] / 1000,
        p90_ms=raw["latency_p90_us"] / 1000,
        p99_ms=raw["latency_p99_us"] / 1000,
        max_ms=raw["latency_max_us"] / 1000,
        wrapped=raw["wrapped"],
    )


def start_profiler(pid: int, output: Path, duration: float, cpu: int | None) -> subprocess.Popen[bytes]:
    """py-spy over the hookgate process for the run (collapsed stacks or speedscope by suffix)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    fmt = "speedscope" if output.suffix == ".json" else "flamegraph" if output.suffix == ".svg" else "raw"
    cmd = [py_spy, "record", "--pid", str(pid), "--rate", "200", "--threads"]
    cmd += ["--duration", str(round(duration)), "--format", fmt, "--output", str(output)]
    return subprocess.Popen(pinned(cmd, cpu), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and all its threads so far (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class Measured:
    """The rounds of one server: wrk's view and the server process's CPU time."""

    rounds: list[WrkResult]
    cpu_s: float | None = 0.0

    def measure(self, proc: subprocess.Popen[bytes], run: Callable[[], WrkResult]) -> WrkResult:
        before = cpu_seconds(proc.pid)
        result = run()
        after = cpu_seconds(proc.pid)
        if before is None or after is None or self.cpu_s is None:
            self.cpu_s = None
        else:
            self.cpu_s += after - before
        self.rounds.append(result)
        return result

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.rounds)

    def median(self, name: str) -> float:
        return float(statistics.median(float(getattr(r, name)) for r in self.rounds))

    @property
    def cpu_us_per_request(self) -> float | None:
        return None if self.cpu_s is None or not self.requests else self.cpu_s / self.requests * 1e6

    @property
    def cpu_busy(self) -> float | None:
        """Share of the run's wall time the server spent on a CPU (1.0: one core, saturated)."""
        wall = sum(r.duration_s for r in self.rounds)
        return None if self.cpu_s is None or not wall else self.cpu_s / wall


# -- checks ----------------------------------------------------------------------------


def count_rows(db: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        distinct = conn.execute("SELECT count(DISTINCT dedup_key) FROM events").fetchone()[0]
        delivered = conn.execute("SELECT count(*) FROM deliveries WHERE state = 'delivered'").fetchone()[0]
    return {"events": events, "distinct_keys": distinct, "delivered": delivered}


def settle(db: Path, timeout: float = 10.0) -> dict[str, int]:
    """Row counts once the server stopped adding events (wrk leaves requests in flight)."""
    last = count_rows(db)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = count_rows(db)
        if now["events"] == last["events"]:
            return now
        last = now
    return last


def request_log(path: Path) -> tuple[Counter[int], int]:
    """Status counts of the webhook requests in hookgate's log, and duplicates it reported."""
    statuses: Counter[int] = Counter()
    duplicates = 0
    with path.open("rb") as log:
        for line in log:
            if b'"event":"request"' not in line:
                continue
            record = json.loads(line)
            if not str(record.get("path", "")).startswith("/webhooks/"):
                continue
            statuses[int(record["status"])] += 1
            duplicates += int(record.get("duplicates") or 0)
    return statuses, duplicates


# -- the run ---------------------------------------------------------------------------


def hookgate_config(tmp: Path, port: int, secret: str) -> str:
    return f"""
[server]
host = "127.0.0.1"
port = {port}

[store]
url = "sqlite:///{tmp / "bench.db"}"

[sources.{SOURCE}]
connector = "stripe"
secrets = ["{secret}"]
tolerance_seconds = {TOLERANCE_SECONDS}

[sinks.archive]
type = "jsonl"
path = "{tmp / "events.jsonl"}"
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--connections", "-c", type=int, default=32, help="open connections (default 32)")
    parser.add_argument(
        "--duration", "-d", type=float, default=10.0, help="seconds per server and round (default 10)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="alternate bare/hookgate this many times; medians are reported (default 3)",
    )
    parser.add_argument("--threads", "-t", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help=f"distinct signed events (default: rounds x duration x {DEFAULT_RATE_CEILING}/s, >= 20000)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: one round of 3 s per server")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin the server to CPU 0 and wrk to CPU 1 with taskset"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="py-spy record the hookgate run into FILE (.txt collapsed stacks, .json speedscope, .svg)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and print it")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 3.0, 1
    if args.events is None:
        args.events = max(20_000, int(args.rounds * args.duration * DEFAULT_RATE_CEILING))
    if args.threads < 1 or args.connections < args.threads or args.rounds < 1:
        parser.error("need at least one round, one thread and one connection per thread")
    if 2 * args.rounds * args.duration + 60 > TOLERANCE_SECONDS:
        parser.error(
            f"rounds x duration must stay below {(TOLERANCE_SECONDS - 60) // 2} s (signatures expire)"
        )
    return args


def say(message: str) -> None:
    print(message, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        say("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
        return 2
    pin = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    server_cpu, load_cpu = (0, 1) if pin else (None, None)
    hookgate = Path(sys.executable).with_name("hookgate")
    if not hookgate.exists():
        hookgate = Path(shutil.which("hookgate") or "hookgate")

    tmp = Path(tempfile.mkdtemp(prefix="hookgate-bench-"))
    try:
        return _run(args, tmp, hookgate, server_cpu, load_cpu)
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(
    args: argparse.Namespace, tmp: Path, hookgate: Path, server_cpu: int | None, load_cpu: int | None
) -> int:
    secret = "whsec_" + secrets.token_urlsafe(24)
    say(f"generating {args.events} distinct Stripe events")
    bodies = make_bodies(args.events)
    check_signature_with_connector(bodies[0], secret)
    sizes = sorted(len(b) for b in bodies)
    say(f"  body size {sizes[0]}-{sizes[-1]} bytes")

    bare_port, hookgate_port = free_port(), free_port()
    bare_url, hookgate_url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{hookgate_port}"
    config = tmp / "hookgate.toml"
    config.write_text(hookgate_config(tmp, hookgate_port, secret), encoding="utf-8")
    hookgate_log = tmp / "hookgate.log"
    bare_cmd = [sys.executable, str(BARE_APP), "--port", str(bare_port)]
    hookgate_cmd = [str(hookgate), "serve", "--config", str(config)]
    requests_file = tmp / "requests.bin"
    bare, hg = Measured([]), Measured([])
    profiler: subprocess.Popen[bytes] | None = None
    say(f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, {args.rounds} round(s) each")

    # Both servers run side by side (the idle one costs nothing) and take turns, so a
    # neighbour's load on this machine hits both alike. Round r of either server sends
    # slice r of the events: the bare endpoint sees exactly the bytes hookgate sees.
    with (
        (tmp / "bare.log").open("wb") as bare_out,
        hookgate_log.open("wb") as hookgate_out,
        server(pinned(bare_cmd, server_cpu), f"{bare_url}/healthz", bare_out) as bare_proc,
        server(pinned(hookgate_cmd, server_cpu), f"{hookgate_url}/healthz", hookgate_out) as hookgate_proc,
    ):
        signed_at = write_requests(requests_file, bodies, secret, "127.0.0.1")
        for r in range(args.rounds):
            opts: dict[str, Any] = {
                "threads": args.threads,
                "connections": args.connections,
                "duration": args.duration,
                "cpu": load_cpu,
                "slices": args.rounds * args.threads,
                "first_slice": r * args.threads,
            }
            b = bare.measure(bare_proc, functools.partial(run_wrk, bare_url, requests_file, **opts))
            if args.profile and r == 0:
                profiler = start_profiler(hookgate_proc.pid, args.profile.resolve(), args.duration, load_cpu)
            h = hg.measure(hookgate_proc, functools.partial(run_wrk, hookgate_url, requests_file, **opts))
            say(
                f"  round {r + 1}: bare {b.rps:7,.0f} req/s p50 {b.p50_ms:5.2f} p99 {b.p99_ms:6.2f} ms | "
                f"hookgate {h.rps:7,.0f} req/s p50 {h.p50_ms:5.2f} p99 {h.p99_ms:6.2f} ms | "
                f"ratio {h.rps / b.rps if b.rps else 0:.3f}"
            )
        rows = settle(tmp / "bench.db")
        if time.time() - signed_at > TOLERANCE_SECONDS:
            say("warning: the run outlived the signature tolerance")
    if profiler is not None:
        _, err = profiler.communicate(timeout=60)
        if profiler.returncode != 0:
            say(f"py-spy failed: {err.decode(errors='replace').strip()}")
        else:
            say(f"profile of round 1 written to {args.profile}")
    statuses, duplicates = request_log(hookgate_log)

    # Every request hookgate answered 200 stored one new event; nothing else did.
    server_ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    wrk_ok = sum(r.ok for r in hg.rounds)
    problems = []
    for name, measured in (("hookgate", hg), ("bare", bare)):
        non_2xx = sum(r.non_2xx for r in measured.rounds)
        errors = sum(r.socket_errors + r.timeouts for r in measured.rounds)
        if non_2xx or errors:
            problems.append(f"{name}: {non_2xx} non-2xx responses, {errors} socket errors or timeouts")
    wrapped = sum(r.wrapped for r in hg.rounds)
    if wrapped:
        problems.append(f"the load generator reused events ({wrapped} wraps): raise --events")
    if duplicates:
        problems.append(f"{duplicates} requests were acknowledged as duplicates")
    if rows["events"] != server_ok or rows["distinct_keys"] != rows["events"]:
        problems.append(
            f"stored {rows['events']} events ({rows['distinct_keys']} distinct) for {server_ok} 2xx answers"
        )
    in_flight = server_ok - wrk_ok  # answered after wrk stopped counting, at most one per connection
    if not 0 <= in_flight <= args.connections * args.rounds:
        problems.append(f"hookgate logged {server_ok} 2xx answers, wrk counted {wrk_ok}")
    for problem in problems:
        say(f"PROBLEM: {problem}")

    ratios = [h.rps / b.rps for b, h in zip(bare.rounds, hg.rounds, strict=True) if b.rps]
    ratio = statistics.median(ratios) if ratios else 0.0
    hookgate_p99 = hg.median("p99_ms")
    bare_cpu, hookgate_cpu = bare.cpu_us_per_request, hg.cpu_us_per_request
    summary = {
        "bench": "ingest",
        "store": "sqlite",
        "bare_rps": round(bare.median("rps"), 1),
        "hookgate_rps": round(hg.median("rps"), 1),
        "ratio": round(ratio, 3),
        "bare_p50_ms": round(bare.median("p50_ms"), 2),
        "bare_p99_ms": round(bare.median("p99_ms"), 2),
        "hookgate_p50_ms": round(hg.median("p50_ms"), 2),
        "hookgate_p99_ms": round(hookgate_p99, 2),
        "round_ratios": [round(x, 3) for x in ratios],
        "bare_cpu_us_per_req": _round(bare_cpu, 1),
        "hookgate_cpu_us_per_req": _round(hookgate_cpu, 1),
        "cpu_ratio": _round(bare_cpu / hookgate_cpu if bare_cpu and hookgate_cpu else None, 3),
        "bare_cpu_busy": _round(bare.cpu_busy, 2),
        "hookgate_cpu_busy": _round(hg.cpu_busy, 2),
        "connections": args.connections,
        "threads": args.threads,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "pinned": server_cpu is not None,
        "body_bytes": sizes[len(sizes) // 2],
        "events_signed": args.events,
        "hookgate_requests": hg.requests,
        "hookgate_2xx": server_ok,
        "events_stored": rows["events"],
        "events_delivered": rows["delivered"],
        "hookgate_non_2xx": sum(r.non_2xx for r in hg.rounds),
        "hookgate_non_2xx_by_status": {str(s): n for s, n in sorted(statuses.items()) if not 200 <= s < 300},
        "bare_non_2xx": sum(r.non_2xx for r in bare.rounds),
        "duplicates": duplicates,
        "wrapped": wrapped,
        "targets_met": ratio >= TARGET_RATIO and hookgate_p99 <= TARGET_P99_MS,
        "ok": not problems,
        "problems": problems,
    }
    print(json.dumps(summary), flush=True)
    return 0 if not problems else 1


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


if __name__ == "__main__":
    sys.exit(main())
