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
    .venv/bin/python bench/ingest.py --requests-log   # also hookgate with the requests log on
    .venv/bin/python bench/ingest.py --encryption     # also hookgate with encryption at rest
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import hmac
import json
import math
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
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


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


def wrk_command(
    url: str,
    requests_file: Path,
    *,
    threads: int,
    connections: int,
    duration: float,
    cpu: int | None,
    slices: int,
    first_slice: int,
) -> list[str]:
    return pinned(
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


def run_wrk(
    urls: Sequence[str], requests_file: Path, *, threads: int, first_slice: int, **opts: Any
) -> WrkResult:
    """One wrk per URL, all at once, each with `threads` threads and its own slices (wrk
    sends every connection to one address); their counts are added up. Latency
    percentiles are the highest any of them measured."""
    procs = []
    for i, url in enumerate(urls):
        cmd = wrk_command(url, requests_file, threads=threads, first_slice=first_slice + i * threads, **opts)
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for proc in procs:
        out, err = proc.communicate()
        line = next((ln for ln in out.splitlines() if ln.startswith("WRK_JSON ")), None)
        if proc.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}\n{err}")
        results.append(json.loads(line.removeprefix("WRK_JSON ")))

    def total(key: str) -> int:
        return sum(int(raw[key]) for raw in results)

    def worst_ms(key: str) -> float:
        return float(max(raw[key] for raw in results)) / 1000

    return WrkResult(
        duration_s=max(raw["duration_us"] for raw in results) / 1e6,
        requests=total("requests"),
        non_2xx=total("status_errors"),
        socket_errors=total("connect_errors") + total("read_errors") + total("write_errors"),
        timeouts=total("timeouts"),
        p50_ms=worst_ms("latency_p50_us"),
        p90_ms=worst_ms("latency_p90_us"),
        p99_ms=worst_ms("latency_p99_us"),
        max_ms=worst_ms("latency_max_us"),
        wrapped=total("wrapped"),
    )


def start_profiler(pid: int, output: Path, duration: float, cpu: int | None) -> subprocess.Popen[bytes]:
    """py-spy over the hookgate process for the run (collapsed stacks or speedscope by suffix)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    fmt = "speedscope" if output.suffix == ".json" else "flamegraph" if output.suffix == ".svg" else "raw"
    cmd = [py_spy, "record", "--pid", str(pid), "--rate", "200", "--threads"]
    cmd += ["--duration", str(round(duration)), "--format", fmt, "--output", str(output)]
    return subprocess.Popen(pinned(cmd, cpu), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """User + system CPU time of processes and all their threads so far (Linux), else None."""
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def postgres_pids() -> list[int]:
    """The PostgreSQL server processes running on this machine (Linux; none elsewhere)."""
    pids = []
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if (entry / "comm").read_text().startswith(("postgres", "postmaster")):
                        pids.append(int(entry.name))
    return pids


def postgres_cpu_seconds() -> float | None:
    """CPU time used so far by the PostgreSQL server processes alive now (backends that
    exited meanwhile are missed, so a difference of two readings is a lower bound)."""
    total = 0.0
    for pid in postgres_pids():
        used = cpu_seconds([pid])
        total += used or 0.0
    return total or None


@dataclass(slots=True)
class Measured:
    """The rounds of one server: wrk's view and the server processes' CPU time."""

    rounds: list[WrkResult]
    cpu_s: float | None = 0.0
    #: CPU time of the PostgreSQL server processes during the rounds (hookgate on PostgreSQL).
    db_cpu_s: float | None = None

    def measure(
        self, pids: Sequence[int], run: Callable[[], WrkResult], *, database: bool = False
    ) -> WrkResult:
        before, db_before = cpu_seconds(pids), postgres_cpu_seconds() if database else None
        result = run()
        after, db_after = cpu_seconds(pids), postgres_cpu_seconds() if database else None
        if before is None or after is None or self.cpu_s is None:
            self.cpu_s = None
        else:
            self.cpu_s += after - before
        if db_before is not None and db_after is not None:
            self.db_cpu_s = (self.db_cpu_s or 0.0) + max(0.0, db_after - db_before)
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
    def db_cpu_us_per_request(self) -> float | None:
        return None if self.db_cpu_s is None or not self.requests else self.db_cpu_s / self.requests * 1e6

    @property
    def cpu_busy(self) -> float | None:
        """Share of the run's wall time the server spent on a CPU (1.0: one core, saturated)."""
        wall = sum(r.duration_s for r in self.rounds)
        return None if self.cpu_s is None or not wall else self.cpu_s / wall


# -- the stores ------------------------------------------------------------------------


class SQLiteRows:
    """Row counts of the bench's SQLite database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.schema: str | None = None

    def __call__(self) -> dict[str, int]:
        with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as conn:
            return {name: conn.execute(query).fetchone()[0] for name, query in ROW_COUNTS.items()}

    def drop(self) -> None:
        """The file goes with the temporary directory."""


class PostgresRows:
    """Row counts of one fresh schema in a PostgreSQL database, dropped by `drop`."""

    def __init__(self, url: str, schema: str) -> None:
        self.url, self.schema = url, schema

    def _connect(self) -> Any:
        import psycopg  # noqa: PLC0415 - only the PostgreSQL mode needs it

        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def check(self) -> None:
        """Fail early, with libpq's words, when the database cannot be reached."""
        with self._connect() as conn:
            conn.execute("SELECT 1")

    def __call__(self) -> dict[str, int]:
        with self._connect() as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            return {name: conn.execute(query).fetchone()[0] for name, query in ROW_COUNTS.items()}

    def drop(self) -> None:
        with self._connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


ROW_COUNTS = {
    "events": "SELECT count(*) FROM events",
    "distinct_keys": "SELECT count(DISTINCT dedup_key) FROM events",
    "delivered": "SELECT count(*) FROM deliveries WHERE state = 'delivered'",
}


# -- checks ----------------------------------------------------------------------------


def settle(rows: Callable[[], dict[str, int]], timeout: float = 10.0) -> dict[str, int]:
    """Row counts once the servers stopped adding events (wrk leaves requests in flight)."""
    last = rows()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = rows()
        if now["events"] == last["events"] and now["delivered"] == last["delivered"]:
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


def hookgate_config(
    tmp: Path, port: int, secret: str, store: SQLiteRows | PostgresRows, *, feature: str = ""
) -> str:
    """hookgate's configuration, with `feature` ("requests_log", "encryption") turned on."""
    requests_log = feature == "requests_log"
    schema = f'schema_name = "{store.schema}"\n' if store.schema else ""
    if feature == "encryption":
        schema += f'encryption_keys = ["{base64.b64encode(secrets.token_bytes(32)).decode()}"]\n'
    # An admin token turns the requests log on.
    admin = f'\n[admin]\ntokens = ["{secrets.token_hex(16)}"]\n' if requests_log else ""
    return (
        admin
        + f"""
[server]
host = "127.0.0.1"
port = {port}

# every request comes from one address here: the per-client bucket would measure itself
[server.rate_limits]
enabled = false

[store]
url = "{store.url}"
{schema}
[sources.{SOURCE}]
connector = "stripe"
secrets = ["{secret}"]
tolerance_seconds = {TOLERANCE_SECONDS}

[sinks.archive]
type = "jsonl"
path = "{tmp / f"events-{port}.jsonl"}"
"""
    )


@dataclass(slots=True)
class Servers:
    """One server under test: the bare endpoint, or hookgate with its replicas."""

    name: str
    urls: list[str]
    procs: list[subprocess.Popen[bytes]]
    measured: Measured
    store: SQLiteRows | PostgresRows | None = None
    logs: list[Path] | None = None

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]


def parse_replicas(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of replica counts, each at least 1")
    return list(dict.fromkeys(counts))


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
    parser.add_argument("--threads", "-t", type=int, default=1, help="wrk threads per replica (default 1)")
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help=f"distinct signed events (default: rounds x duration x {DEFAULT_RATE_CEILING}/s, >= 20000)",
    )
    parser.add_argument(
        "--store",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="hookgate's store: a SQLite file (default), or PostgreSQL (a fresh schema per replica set)",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help=f"the database of --store postgres (default {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument(
        "--replicas",
        type=parse_replicas,
        default=None,
        help="hookgate replica counts to measure, e.g. 1,3 (default: 1 for sqlite, 1,3 for postgres)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: one round of 3 s per server")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin the servers to CPU 0 and wrk to CPU 1 with taskset"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="py-spy record the first hookgate round into FILE (.txt collapsed stacks, .json, .svg)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and print it")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="also measure a second baseline: the bare endpoint storing each body durably in SQLite "
        "through hookgate's group commit (the price of durability alone)",
    )
    parser.add_argument(
        "--requests-log",
        action="store_true",
        help="also measure hookgate with the requests log on (an [admin] token configured), in the "
        "same rounds: `requests_log.ratio` is its throughput over the same hookgate's without",
    )
    parser.add_argument(
        "--encryption",
        action="store_true",
        help="also measure hookgate with encryption at rest on ([store] encryption_keys), in the "
        "same rounds: `encryption.ratio` is its throughput over the same hookgate's without",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 3.0, 1
    if args.replicas is None:
        args.replicas = [1, 3] if args.store == "postgres" else [1]
    if args.store == "sqlite" and args.replicas != [1]:
        parser.error("SQLite serves one process: --replicas applies to --store postgres")
    # Every server gets the same number of wrk threads in all (one wrk per replica), each
    # thread its own slice of the events: `slices_per_round` of them.
    args.slices_per_round = math.lcm(*args.replicas) * args.threads
    if args.events is None:
        args.events = max(20_000, int(args.rounds * args.duration * DEFAULT_RATE_CEILING))
    if args.threads < 1 or args.rounds < 1:
        parser.error("need at least one round and one thread")
    if args.connections < args.slices_per_round:
        parser.error(f"need at least one connection per wrk thread ({args.slices_per_round})")
    args.connections -= args.connections % args.slices_per_round  # wrk splits them evenly
    servers = 1 + len(args.replicas) + len(features(args))
    if 2 * args.rounds * args.duration * servers / 2 + 60 > TOLERANCE_SECONDS:
        parser.error("rounds x duration x servers must stay below the signature tolerance (300 s)")
    return args


#: The features measured against the same hookgate without them: option → its name.
FEATURES = {"requests_log": "requests log", "encryption": "encryption at rest"}


def features(args: argparse.Namespace) -> list[str]:
    """The features this run measures (`--requests-log`, `--encryption`)."""
    return [feature for feature in FEATURES if getattr(args, feature)]


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
    stores: list[SQLiteRows | PostgresRows] = []
    try:
        return _run(args, tmp, hookgate=hookgate, server_cpu=server_cpu, load_cpu=load_cpu, stores=stores)
    finally:
        if not args.keep:
            for store in stores:
                with contextlib.suppress(Exception):
                    store.drop()
        if args.keep:
            say(f"kept {tmp}" + "".join(f", schema {s.schema}" for s in stores if s.schema))
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(
    args: argparse.Namespace,
    tmp: Path,
    *,
    hookgate: Path,
    server_cpu: int | None,
    load_cpu: int | None,
    stores: list[SQLiteRows | PostgresRows],
) -> int:
    secret = "whsec_" + secrets.token_urlsafe(24)
    run_id = secrets.token_hex(4)
    for replicas in args.replicas:
        if args.store == "postgres":
            pg = PostgresRows(args.postgres_url, f"hookgate_bench_{run_id}_r{replicas}")
            pg.check()
            stores.append(pg)
        else:
            stores.append(SQLiteRows(tmp / "bench.db"))
    # (replicas, store, the feature turned on: "" for none)
    plan = [(replicas, store, "") for replicas, store in zip(args.replicas, stores, strict=True)]
    for feature in features(args):
        if args.store == "postgres":
            own: SQLiteRows | PostgresRows = PostgresRows(
                args.postgres_url, f"hookgate_bench_{run_id}_r{args.replicas[0]}_{feature}"
            )
        else:
            own = SQLiteRows(tmp / f"bench-{feature}.db")
        stores.append(own)
        plan.append((args.replicas[0], own, feature))
    say(f"generating {args.events} distinct Stripe events")
    bodies = make_bodies(args.events)
    check_signature_with_connector(bodies[0], secret)
    sizes = sorted(len(b) for b in bodies)
    say(f"  body size {sizes[0]}-{sizes[-1]} bytes")
    requests_file = tmp / "requests.bin"
    profiler: subprocess.Popen[bytes] | None = None
    per_round = args.slices_per_round
    say(
        f"wrk: {per_round} thread(s), {args.connections} connections, {args.duration:g} s, "
        f"{args.rounds} round(s) per server; hookgate on {args.store}"
        + (f" with {', '.join(map(str, args.replicas))} replica(s)" if args.store == "postgres" else "")
    )

    # All servers run side by side (an idle one costs nothing) and take turns, so a
    # neighbour's load on this machine hits all alike. Round r of each server sends slice
    # r of the events: the bare endpoint sees exactly the bytes hookgate sees.
    with contextlib.ExitStack() as stack:
        bare_port = free_port()
        bare_url = f"http://127.0.0.1:{bare_port}"
        bare_out = stack.enter_context((tmp / "bare.log").open("wb"))
        bare_cmd = [sys.executable, str(BARE_APP), "--port", str(bare_port)]
        bare_proc = stack.enter_context(server(pinned(bare_cmd, server_cpu), f"{bare_url}/healthz", bare_out))
        bare = Servers("bare", [bare_url], [bare_proc], Measured([]))
        baselines = [bare]
        if args.durable:
            durable_port = free_port()
            durable_url = f"http://127.0.0.1:{durable_port}"
            durable_out = stack.enter_context((tmp / "durable.log").open("wb"))
            durable_cmd = [
                sys.executable,
                str(BARE_APP),
                "--port",
                str(durable_port),
                "--durable",
                str(tmp / "bodies.db"),
            ]
            durable_proc = stack.enter_context(
                server(pinned(durable_cmd, server_cpu), f"{durable_url}/healthz", durable_out)
            )
            baselines.append(Servers("durable", [durable_url], [durable_proc], Measured([])))
        variants: list[Servers] = []
        for replicas, store, feature in plan:
            name = "hookgate" if args.store == "sqlite" else f"hookgate x{replicas}"
            name += f" +{FEATURES[feature]}" if feature else ""
            servers = Servers(name, [], [], Measured([]), store, [])
            for _ in range(replicas):
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                config = tmp / f"hookgate-{port}.toml"
                config.write_text(
                    hookgate_config(tmp, port, secret, store, feature=feature), encoding="utf-8"
                )
                log_path = tmp / f"hookgate-{port}.log"
                out = stack.enter_context(log_path.open("wb"))
                cmd = pinned([str(hookgate), "serve", "--config", str(config)], server_cpu)
                servers.procs.append(stack.enter_context(server(cmd, f"{url}/healthz", out)))
                servers.urls.append(url)
                assert servers.logs is not None
                servers.logs.append(log_path)
            variants.append(servers)

        signed_at = write_requests(requests_file, bodies, secret, "127.0.0.1")
        for r in range(args.rounds):
            line = []
            for target in (*baselines, *variants):
                replicas = len(target.urls)
                run = functools.partial(
                    run_wrk,
                    target.urls,
                    requests_file,
                    threads=per_round // replicas,
                    connections=args.connections // replicas,
                    duration=args.duration,
                    cpu=load_cpu,
                    slices=args.rounds * per_round,
                    first_slice=r * per_round,
                )
                if args.profile and r == 0 and target is variants[0]:
                    output = args.profile.resolve()
                    profiler = start_profiler(target.pids[0], output, args.duration, load_cpu)
                result = target.measured.measure(target.pids, run, database=args.store == "postgres")
                line.append(
                    f"{target.name} {result.rps:7,.0f} req/s "
                    f"p50 {result.p50_ms:5.2f} p99 {result.p99_ms:6.2f} ms"
                )
            ratios = " ".join(
                f"{v.measured.rounds[-1].rps / bare.measured.rounds[-1].rps:.3f}"
                for v in variants
                if bare.measured.rounds[-1].rps
            )
            say(f"  round {r + 1}: " + " | ".join(line) + f" | ratio {ratios}")
        counted = [settle(v.store) if v.store is not None else {} for v in variants]
        if time.time() - signed_at > TOLERANCE_SECONDS:
            say("warning: the run outlived the signature tolerance")
    if profiler is not None:
        _, err = profiler.communicate(timeout=60)
        if profiler.returncode != 0:
            say(f"py-spy failed: {err.decode(errors='replace').strip()}")
        else:
            say(f"profile of round 1 written to {args.profile}")

    problems = []
    non_2xx = sum(r.non_2xx for r in bare.measured.rounds)
    errors = sum(r.socket_errors + r.timeouts for r in bare.measured.rounds)
    if non_2xx or errors:
        problems.append(f"bare: {non_2xx} non-2xx responses, {errors} socket errors or timeouts")
    reports = [
        _variant_report(args, v, rows, bare.measured, problems)
        for v, rows in zip(variants, counted, strict=True)
    ]
    for problem in problems:
        say(f"PROBLEM: {problem}")

    first = reports[0]
    summary = {
        "bench": "ingest",
        "store": args.store,
        "bare_rps": round(bare.measured.median("rps"), 1),
        "hookgate_rps": first["rps"],
        "ratio": first["ratio"],
        "bare_p50_ms": round(bare.measured.median("p50_ms"), 2),
        "bare_p99_ms": round(bare.measured.median("p99_ms"), 2),
        "hookgate_p50_ms": first["p50_ms"],
        "hookgate_p99_ms": first["p99_ms"],
        "round_ratios": first["round_ratios"],
        "bare_cpu_us_per_req": _round(bare.measured.cpu_us_per_request, 1),
        "hookgate_cpu_us_per_req": first["cpu_us_per_req"],
        "cpu_ratio": first["cpu_ratio"],
        "bare_cpu_busy": _round(bare.measured.cpu_busy, 2),
        "hookgate_cpu_busy": first["cpu_busy"],
        "connections": args.connections,
        "threads": per_round,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "pinned": server_cpu is not None,
        "body_bytes": sizes[len(sizes) // 2],
        "events_signed": args.events,
        **{k: first[k] for k in _COUNT_KEYS},
        "bare_non_2xx": non_2xx,
        "replicas": args.replicas,
        "variants": reports,
        "targets_met": first["targets_met"],
        "ok": not problems,
        "problems": problems,
    }
    for i, feature in enumerate(features(args)):
        off, on = variants[0].measured, variants[len(args.replicas) + i].measured
        paired = [b.rps / a.rps for a, b in zip(off.rounds, on.rounds, strict=True) if a.rps]
        summary[feature] = {
            "off_rps": round(off.median("rps"), 1),
            "on_rps": round(on.median("rps"), 1),
            "ratio": round(statistics.median(paired), 3) if paired else None,
            "round_ratios": [round(r, 3) for r in paired],
            "off_p99_ms": round(off.median("p99_ms"), 2),
            "on_p99_ms": round(on.median("p99_ms"), 2),
        }
    if args.durable:
        durable = baselines[1].measured
        durable_rps = durable.median("rps")
        summary["durable_rps"] = round(durable_rps, 1)
        summary["durable_p99_ms"] = round(durable.median("p99_ms"), 2)
        summary["durable_cpu_us_per_req"] = _round(durable.cpu_us_per_request, 1)
        summary["ratio_vs_durable"] = round(first["rps"] / durable_rps, 3) if durable_rps else None
    print(json.dumps(summary), flush=True)
    return 0 if not problems else 1


_COUNT_KEYS = (
    "hookgate_requests",
    "hookgate_2xx",
    "events_stored",
    "events_delivered",
    "hookgate_non_2xx",
    "hookgate_non_2xx_by_status",
    "duplicates",
    "wrapped",
)


def _variant_report(
    args: argparse.Namespace, servers: Servers, rows: dict[str, int], bare: Measured, problems: list[str]
) -> dict[str, Any]:
    """One hookgate replica set's numbers; what it got wrong is added to `problems`."""
    measured = servers.measured
    statuses: Counter[int] = Counter()
    duplicates = 0
    for path in servers.logs or []:
        found, dups = request_log(path)
        statuses.update(found)
        duplicates += dups

    # Every request hookgate answered 200 stored one new event; nothing else did.
    server_ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    wrk_ok = sum(r.ok for r in measured.rounds)
    name = servers.name
    non_2xx = sum(r.non_2xx for r in measured.rounds)
    errors = sum(r.socket_errors + r.timeouts for r in measured.rounds)
    if non_2xx or errors:
        problems.append(f"{name}: {non_2xx} non-2xx responses, {errors} socket errors or timeouts")
    wrapped = sum(r.wrapped for r in measured.rounds)
    if wrapped:
        problems.append(f"{name}: the load generator reused events ({wrapped} wraps): raise --events")
    if duplicates:
        problems.append(f"{name}: {duplicates} requests were acknowledged as duplicates")
    if rows["events"] != server_ok or rows["distinct_keys"] != rows["events"]:
        problems.append(
            f"{name}: stored {rows['events']} events ({rows['distinct_keys']} distinct) "
            f"for {server_ok} 2xx answers"
        )
    in_flight = server_ok - wrk_ok  # answered after wrk stopped counting, at most one per connection
    if not 0 <= in_flight <= args.connections * args.rounds:
        problems.append(f"{name}: hookgate logged {server_ok} 2xx answers, wrk counted {wrk_ok}")

    ratios = [h.rps / b.rps for b, h in zip(bare.rounds, measured.rounds, strict=True) if b.rps]
    ratio = statistics.median(ratios) if ratios else 0.0
    p99 = measured.median("p99_ms")
    bare_cpu, cpu = bare.cpu_us_per_request, measured.cpu_us_per_request
    return {
        "replicas": len(servers.procs),
        "rps": round(measured.median("rps"), 1),
        "ratio": round(ratio, 3),
        "round_ratios": [round(x, 3) for x in ratios],
        "p50_ms": round(measured.median("p50_ms"), 2),
        "p99_ms": round(p99, 2),
        "cpu_us_per_req": _round(cpu, 1),
        "cpu_ratio": _round(bare_cpu / cpu if bare_cpu and cpu else None, 3),
        "cpu_busy": _round(measured.cpu_busy, 2),
        "db_cpu_us_per_req": _round(measured.db_cpu_us_per_request, 1),
        "hookgate_requests": measured.requests,
        "hookgate_2xx": server_ok,
        "events_stored": rows["events"],
        "events_delivered": rows["delivered"],
        "hookgate_non_2xx": non_2xx,
        "hookgate_non_2xx_by_status": {str(s): n for s, n in sorted(statuses.items()) if not 200 <= s < 300},
        "duplicates": duplicates,
        "wrapped": wrapped,
        "targets_met": ratio >= TARGET_RATIO and p99 <= TARGET_P99_MS,
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


if __name__ == "__main__":
    sys.exit(main())
