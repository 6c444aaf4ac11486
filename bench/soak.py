"""Soak benchmark: hostile traffic mixed with valid deliveries, against one `hookgate serve`.

Sends N requests (default 100,000) of the kinds an attacker, a careless provider and a
broken network produce (forged and stale signatures, malformed and non-finite JSON,
bodies over the limit, unknown and 10 KB source names, request smuggling, endless
headers, deep nesting, invalid UTF-8 paths), mixed with correctly signed Stripe
deliveries, from many concurrent connections, while a crowd of slow clients dribbles
header lines the whole time and one address floods. Then it checks:

- no answer is a 5xx (each kind's answers are counted by status);
- every valid delivery answered 2xx reached the sink, exactly once;
- the server's memory (RSS) and open file descriptors stayed bounded: their peak, and
  their level after the soak against the level before it;
- the latency of valid deliveries during the soak against a quiet run of the same
  deliveries before it (the baseline measured in the same run).

    .venv/bin/python bench/soak.py                  # 100,000 requests, 64 connections, 200 slow clients
    .venv/bin/python bench/soak.py --quick          # 10,000 requests
    .venv/bin/python bench/soak.py --store postgres

The last line of output is one JSON object; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import ingest  # noqa: E402 - bench/ingest.py, beside this file

SOURCE = "stripe"
MAX_BODY = 65_536


@dataclass
class Tally:
    """What the soak saw, per kind of request."""

    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    valid_ids: set[str] = field(default_factory=set)
    valid_ms: list[float] = field(default_factory=list)

    def count(self, kind: str, status: int) -> None:
        self.statuses[kind][status] += 1

    @property
    def server_errors(self) -> int:
        return sum(n for by in self.statuses.values() for status, n in by.items() if status >= 500)


# -- the requests ---------------------------------------------------------------------------


def stripe_body(event_id: str, *, payload: str | None = None) -> bytes:
    if payload is not None:
        return payload.encode()
    event = {
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": {"id": "pi_" + event_id[4:], "object": "payment_intent", "amount": 4200}},
    }
    return json.dumps(event).encode()


def signed(body: bytes, secret: str, *, at: int | None = None) -> str:
    t = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def http_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


#: Each kind of request: its weight in the mix, and how to build it (given the secret).
Builder = Callable[[str], tuple[bytes, str | None]]


def _valid(secret: str) -> tuple[bytes, str | None]:
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    body = stripe_body(event_id)
    return http_request(f"/webhooks/{SOURCE}", body, {"Stripe-Signature": signed(body, secret)}), event_id


def _forged(secret: str) -> tuple[bytes, str | None]:
    body = stripe_body(f"evt_{uuid.uuid4().hex[:24]}")
    return http_request(f"/webhooks/{SOURCE}", body, {"Stripe-Signature": signed(body, "whsec_forged")}), None


def _stale(secret: str) -> tuple[bytes, str | None]:
    body = stripe_body(f"evt_{uuid.uuid4().hex[:24]}")
    sig = signed(body, secret, at=int(time.time()) - 3600)
    return http_request(f"/webhooks/{SOURCE}", body, {"Stripe-Signature": sig}), None


def _malformed(secret: str) -> tuple[bytes, str | None]:
    body = b'{"id": "evt_x", "type": '
    return http_request(f"/webhooks/{SOURCE}", body, {"Stripe-Signature": signed(body, secret)}), None


def _non_finite(secret: str) -> tuple[bytes, str | None]:
    text = '{"id": "evt_' + uuid.uuid4().hex + '", "type": "x.y", "amount": NaN}'
    body = stripe_body("", payload=text)
    return http_request(f"/webhooks/{SOURCE}", body, {"Stripe-Signature": signed(body, secret)}), None


def _deep(secret: str) -> tuple[bytes, str | None]:
    body = b'{"id": "evt_deep", "type": "x.y", "d": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    return http_request(f"/webhooks/{SOURCE}", body, {"Stripe-Signature": signed(body, secret)}), None


def _too_large(secret: str) -> tuple[bytes, str | None]:
    body = b"x" * (MAX_BODY + 1)
    return http_request(f"/webhooks/{SOURCE}", body, {"Stripe-Signature": signed(body, secret)}), None


def _unknown_source(secret: str) -> tuple[bytes, str | None]:
    return http_request(f"/webhooks/nope-{random.randrange(10**6)}", b"{}", {}), None


def _long_source(secret: str) -> tuple[bytes, str | None]:
    return http_request("/webhooks/" + "a" * 10_000, b"{}", {}), None


def _bad_utf8_path(secret: str) -> tuple[bytes, str | None]:
    return http_request("/webhooks/%ff%fe", b"{}", {}), None


def _smuggled(secret: str) -> tuple[bytes, str | None]:
    body = b"0\r\n\r\nPOST /webhooks/stripe HTTP/1.1\r\n\r\n"
    request = http_request(f"/webhooks/{SOURCE}", body, {"Transfer-Encoding": "chunked"})
    return request, None


def _endless_header(secret: str) -> tuple[bytes, str | None]:
    head = f"POST /webhooks/{SOURCE} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".encode()
    return head + b"A" * 256_000, None  # never ends its header


KINDS: dict[str, tuple[int, Builder]] = {
    "valid": (30, _valid),
    "forged": (20, _forged),
    "stale": (8, _stale),
    "malformed": (8, _malformed),
    "non_finite": (5, _non_finite),
    "deep": (2, _deep),
    "too_large": (5, _too_large),
    "unknown_source": (6, _unknown_source),
    "long_source": (3, _long_source),
    "bad_utf8_path": (3, _bad_utf8_path),
    "smuggled": (5, _smuggled),
    "endless_header": (5, _endless_header),
}


async def send(port: int, request: bytes, timeout: float) -> int:  # noqa: ASYNC109 - per step
    """The status the server answered `request` with; 0 when it closed without answering
    (as it may for an endless header or a smuggled request), -1 on a timeout."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, TimeoutError):
        return -2  # refused: counted, and never mistaken for an answer
    try:
        with contextlib.suppress(ConnectionError):
            writer.write(request)
            await asyncio.wait_for(writer.drain(), timeout)
        line = await asyncio.wait_for(reader.readline(), timeout)
        parts = line.split()
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
    except TimeoutError:
        return -1
    except (ConnectionError, OSError):
        return 0
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def slow_client(port: int, stop: asyncio.Event, interval: float) -> int:
    """Keeps a connection that sends one header line every `interval` seconds, reconnecting
    whenever the server closes it; how many times it was closed."""
    closed = 0
    while not stop.is_set():
        writer: asyncio.StreamWriter | None = None
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"POST /webhooks/{SOURCE} HTTP/1.1\r\nHost: x\r\n".encode())
            while not stop.is_set():
                await asyncio.sleep(interval)
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
        except (ConnectionError, OSError):
            closed += 1
            await asyncio.sleep(0.2)
        finally:
            if writer is not None:
                writer.close()
    return closed


# -- the server's resources -------------------------------------------------------------


def rss_and_fds(pid: int) -> tuple[int, int]:
    """The process's resident memory (bytes) and its number of open file descriptors."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def sample(pid: int, stop: asyncio.Event, into: list[tuple[int, int]]) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError):
            into.append(rss_and_fds(pid))
        await asyncio.sleep(0.5)


# -- the run --------------------------------------------------------------------------


async def run_valid(port: int, secret: str, count: int, concurrency: int, tally: Tally) -> list[float]:
    """`count` valid deliveries, `concurrency` at a time: their latencies (ms)."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            request, event_id = _valid(secret)
            started = time.perf_counter()
            status = await send(port, request, 30)
            latencies.append((time.perf_counter() - started) * 1000)
            tally.count("valid (quiet)", status)
            if 200 <= status < 300 and event_id:
                tally.valid_ids.add(event_id)

    await asyncio.gather(*(one() for _ in range(count)))
    return latencies


@dataclass
class Figures:
    """What a soak measured besides the answers: times, the quiet run, the server's resources."""

    elapsed_s: float
    quiet_ms: list[float]
    start: tuple[int, int]  # (rss bytes, fds) before anything was sent
    end: tuple[int, int]  # ...after the soak, once the slow clients left
    peak_rss: int
    peak_fds: int
    slow_clients_closed: int


async def soak(args: argparse.Namespace, port: int, pid: int, secret: str, tally: Tally) -> Figures:
    samples: list[tuple[int, int]] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(pid, stop, samples))
    start_resources = rss_and_fds(pid)

    quiet = await run_valid(port, secret, args.baseline, args.connections, tally)

    slow = [asyncio.create_task(slow_client(port, stop, 2.0)) for _ in range(args.slow_clients)]
    rng = random.Random(args.seed)
    names = list(KINDS)
    weights = [KINDS[name][0] for name in names]
    gate = asyncio.Semaphore(args.connections)

    async def one(kind: str) -> None:
        async with gate:
            request, event_id = KINDS[kind][1](secret)
            started = time.perf_counter()
            status = await send(port, request, args.timeout)
            if kind == "valid":
                tally.valid_ms.append((time.perf_counter() - started) * 1000)
                if 200 <= status < 300 and event_id:
                    tally.valid_ids.add(event_id)
            tally.count(kind, status)

    started = time.monotonic()
    batch = 2_000  # tasks created at a time: the client's own memory stays flat
    kinds = rng.choices(names, weights, k=args.requests)
    for start in range(0, len(kinds), batch):
        await asyncio.gather(*(one(kind) for kind in kinds[start : start + batch]))
        done = start + batch
        if done % 20_000 == 0:
            rss, fds = rss_and_fds(pid)
            ingest.say(
                f"  {done:,} requests, {time.monotonic() - started:.0f} s, rss {rss >> 20} MB, {fds} fds"
            )
    elapsed = time.monotonic() - started
    stop.set()
    slow_closed = sum(await asyncio.gather(*slow))
    await sampler
    await asyncio.sleep(2)  # let the server close what the slow clients left
    end_resources = rss_and_fds(pid)
    return Figures(
        elapsed_s=round(elapsed, 1),
        quiet_ms=quiet,
        start=start_resources,
        end=end_resources,
        peak_rss=max([end_resources[0], *(s[0] for s in samples)]),
        peak_fds=max([end_resources[1], *(s[1] for s in samples)]),
        slow_clients_closed=slow_closed,
    )


def config_text(tmp: Path, port: int, secret: str, store_url: str, schema: str | None) -> str:
    schema_line = f'schema_name = "{schema}"\n' if schema else ""
    return f"""
[server]
host = "127.0.0.1"
port = {port}
max_body_bytes = {MAX_BODY}

[store]
url = "{store_url}"
{schema_line}
[sources.{SOURCE}]
connector = "stripe"
secrets = ["{secret}"]
tolerance_seconds = 300

[sinks.archive]
type = "jsonl"
path = "{tmp / "events.jsonl"}"
"""


def delivered_ids(sink: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    if not sink.exists():
        return found
    *lines, _partial = sink.read_text().split("\n")
    for line in lines:
        if line:
            found[json.loads(line)["detail"]["payload"]["id"]] += 1
    return found


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=100_000, help="requests in the soak (default 100,000)"
    )
    parser.add_argument("--connections", type=int, default=64, help="concurrent requests (default 64)")
    parser.add_argument("--slow-clients", type=int, default=200, help="slow clients kept up (default 200)")
    parser.add_argument("--baseline", type=int, default=2_000, help="valid deliveries in the quiet run")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--quick", action="store_true", help="10,000 requests, 50 slow clients")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and print it")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.slow_clients, args.baseline = 10_000, 50, 500
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="hookgate-soak-"))
    secret = "whsec_" + secrets.token_urlsafe(24)
    port = ingest.free_port()
    store: ingest.SQLiteRows | ingest.PostgresRows
    if args.store == "postgres":
        store = ingest.PostgresRows(args.postgres_url, f"hookgate_soak_{secrets.token_hex(4)}")
        store.check()
    else:
        store = ingest.SQLiteRows(tmp / "hookgate.db")
    config = tmp / "hookgate.toml"
    config.write_text(config_text(tmp, port, secret, store.url, store.schema), encoding="utf-8")
    hookgate = Path(sys.executable).with_name("hookgate")
    tally = Tally()
    try:
        with (
            (tmp / "serve.log").open("wb") as log,
            ingest.server(
                [str(hookgate), "serve", "--config", str(config)], f"http://127.0.0.1:{port}/healthz", log
            ) as proc,
        ):
            ingest.say(
                f"soak: {args.requests:,} requests, {args.connections} at a time, "
                f"{args.slow_clients} slow clients"
            )
            figures = asyncio.run(soak(args, port, proc.pid, secret, tally))
            deadline = time.monotonic() + 120
            found = delivered_ids(tmp / "events.jsonl")
            while not tally.valid_ids <= set(found) and time.monotonic() < deadline:
                time.sleep(0.5)
                found = delivered_ids(tmp / "events.jsonl")
    finally:
        if args.store == "postgres":
            with contextlib.suppress(Exception):
                store.drop()
        if args.keep:
            ingest.say(f"kept {tmp}")
        else:
            import shutil  # noqa: PLC0415

            shutil.rmtree(tmp, ignore_errors=True)

    missing = len(tally.valid_ids - set(found))
    twice = sum(1 for event_id in tally.valid_ids if found[event_id] > 1)
    quiet_ms, soak_ms = figures.quiet_ms, tally.valid_ms
    for kind, by_status in sorted(tally.statuses.items()):
        answers = ", ".join(f"{status}: {n:,}" for status, n in sorted(by_status.items()))
        ingest.say(f"  {kind:<16} {answers}")
    problems = []
    if tally.server_errors:
        problems.append(f"{tally.server_errors} answers were 5xx")
    if missing or twice:
        problems.append(
            f"of {len(tally.valid_ids)} accepted deliveries, {missing} missing and {twice} delivered twice"
        )
    quiet_p99, soak_p99 = percentile(quiet_ms, 0.99), percentile(soak_ms, 0.99)
    summary = {
        "bench": "soak",
        "store": args.store,
        "requests": args.requests,
        "elapsed_s": figures.elapsed_s,
        "answers": {kind: dict(sorted(by.items())) for kind, by in sorted(tally.statuses.items())},
        "server_errors": tally.server_errors,
        "accepted": len(tally.valid_ids),
        "missing": missing,
        "delivered_twice": twice,
        "quiet_p50_ms": round(statistics.median(quiet_ms), 2) if quiet_ms else None,
        "quiet_p99_ms": round(quiet_p99, 2),
        "soak_p50_ms": round(statistics.median(soak_ms), 2) if soak_ms else None,
        "soak_p99_ms": round(soak_p99, 2),
        "p99_ratio": round(soak_p99 / quiet_p99, 2) if quiet_p99 else None,
        "rss_mb": {
            "start": figures.start[0] >> 20,
            "peak": figures.peak_rss >> 20,
            "end": figures.end[0] >> 20,
        },
        "fds": {"start": figures.start[1], "peak": figures.peak_fds, "end": figures.end[1]},
        "slow_clients_closed": figures.slow_clients_closed,
        "ok": not problems,
        "problems": problems,
    }
    for problem in problems:
        ingest.say(f"PROBLEM: {problem}")
    print(json.dumps(summary), flush=True)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
