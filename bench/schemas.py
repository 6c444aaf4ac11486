"""Schema discovery benchmark: what inference costs per event, and ingest throughput with
discovery on against off, in the same run.

1. Inference alone: the `detail` of distinct `payment_intent.succeeded` events (the
   envelope the edge stores), inferred and merged as the discovery task does, timed per
   event in this process.
2. Ingest: two `hookgate serve` processes, identical but for the source's
   `schema_discovery`, each on its own SQLite file, pinned to the same CPU (`taskset`),
   take turns under the same wrk load (`bench/ingest.py`'s requests, slices and
   `replay.lua`); round r of each sends the r-th slice of the events. Target: the
   throughput with discovery on is at least 0.95 of the throughput with it off.
3. Enforcement: a third server, discovery on and `schema_enforcement = "reject"`, with the
   version discovered from a few warm-up events pinned, takes its turn too: every event
   is checked on the request path (and fits). Its throughput against "off" is the cost
   of the check (`ratio_enforcement`).
4. Before and after, same run: two more servers, "on-before" and "reject-before", are
   the "on" and "reject" ones run through `bench/schemas_before.py`, which puts back the
   walk that checked every event before the compiled check, and the inference of every
   event before the fit-check. `ratio_enforcement_before` against `ratio_enforcement`,
   and the share of stored events discovery counted (not sampled) with and without the
   fit-check (`counted_share_on_before`, `counted_share_on`), under the same CPU budget.
   In this process, the discovery cost per event before (infer + merge) and after (the
   fit-check against the known version, inferring only what it does not describe).
5. Each server's CPU time per request (all its threads, so discovery's too), median of
   its rounds: the cost of each mode as the ratio of "off"'s to its own (`cpu_ratio*`),
   which a machine busy with other work disturbs far less than throughput.
6. Afterwards: every event the "on" servers stored was counted for a schema version, or
   skipped and counted in `hookgate_schema_events_skipped_total` (sampled, or its queue
   was full).

The last line of output is one JSON object.

    .venv/bin/python bench/schemas.py                 # 3 rounds of 10 s per server
    .venv/bin/python bench/schemas.py --quick         # one round of 3 s per server
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import ingest  # noqa: E402 - bench/ingest.py, beside this file

TARGET_RATIO = 0.95


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def inference_cost(bodies: Sequence[bytes]) -> tuple[float, float]:
    """Microseconds per event for discovery to count a stored envelope's detail: before
    (infer and merge each), and with the fit-check against the version known from a few
    first events (inferring only the details it does not describe)."""
    import orjson  # noqa: PLC0415 - the gateway's own dependencies, loaded once here

    from connectors import ProviderEvent  # noqa: PLC0415
    from gateway.events import build_event  # noqa: PLC0415
    from gateway.schemas import Limits, describes, infer, infer_many, merge  # noqa: PLC0415

    entries = []
    for body in bodies:
        payload = json.loads(body)
        event = ProviderEvent(type=payload["type"], payload=payload, dedup_key=payload["id"])
        entries.append(
            build_event(
                event, time.time(), source="stripe", connector="stripe", event_source="hookgate.stripe"
            ).entry
        )
    limits = Limits()
    known = infer_many((orjson.loads(entry)["detail"] for entry in entries[:3]), limits)
    assert known is not None
    schema = None
    started = time.perf_counter()
    for entry in entries:
        found = infer(orjson.loads(entry)["detail"], limits)
        schema = found if schema is None else merge(schema, found, limits)
    before = (time.perf_counter() - started) / len(entries) * 1e6
    schema = None
    started = time.perf_counter()
    for entry in entries:
        detail = orjson.loads(entry)["detail"]
        if describes(known, detail, limits):
            continue
        found = infer(detail, limits)
        schema = found if schema is None else merge(schema, found, limits)
    after = (time.perf_counter() - started) / len(entries) * 1e6
    return before, after


MODES = ("off", "on", "reject", "on-before", "reject-before")
#: The servers that run the gateway through `schemas_before.py`.
BEFORE = "-before"


def config(tmp: Path, port: int, secret: str, db: Path, *, mode: str) -> str:
    text = ingest.hookgate_config(tmp, port, secret, ingest.SQLiteRows(db))
    keys = f"schema_discovery = {str(mode != 'off').lower()}\n"
    if mode.startswith("reject"):
        keys += 'schema_enforcement = "reject"\n'
    return text.replace(
        f"tolerance_seconds = {ingest.TOLERANCE_SECONDS}\n",
        f"tolerance_seconds = {ingest.TOLERANCE_SECONDS}\n{keys}",
    )


def pin_warm_up_version(url: str, config_path: Path, secret: str, hookgate: Path) -> None:
    """Send a few events, wait for their schema's first version, pin it, and wait for
    the server to read the pin."""
    for body in ingest.make_bodies(3):
        timestamp = int(time.time())
        signature = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(  # noqa: S310 - a local URL
            f"{url}/webhooks/{ingest.SOURCE}",
            data=body,
            headers={"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.status == 200
    name = "hookgate.stripe@PaymentIntentSucceeded"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pinned = subprocess.run(
            [str(hookgate), "schemas", "pin", name, "1", "--config", str(config_path)],
            capture_output=True,
            check=False,
        )
        if pinned.returncode == 0:
            time.sleep(6.0)  # the server reads the pins every 5 s
            return
        time.sleep(0.5)
    raise RuntimeError(f"no version of {name} to pin")


def counted(db: Path) -> tuple[int, int]:
    """(events stored, events counted for a schema version)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        (events,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
        (versioned,) = conn.execute("SELECT COALESCE(SUM(event_count), 0) FROM schema_versions").fetchone()
    return int(events), int(versioned)


def skipped(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:  # noqa: S310 - a local URL
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("hookgate_schema_events_skipped_total{")
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server (default 3)")
    parser.add_argument("--connections", "-c", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--events", type=int, help="distinct events (default: enough for the run)")
    parser.add_argument("--quick", action="store_true", help="one round of 3 s per server")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 3.0, 1
    events = args.events or int(ingest.DEFAULT_RATE_CEILING * args.duration * args.rounds)
    hookgate = Path(sys.executable).with_name("hookgate")
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    server_cpu, load_cpu = (0, 1) if shutil.which("taskset") and len(cpus) >= 2 else (None, None)

    say(f"generating {events} distinct Stripe events")
    bodies = ingest.make_bodies(events)
    before_us, per_event_us = inference_cost(bodies[:2000])
    say(
        f"discovery: {before_us:.1f} µs per event before (infer + merge of the stored detail), "
        f"{per_event_us:.1f} µs with the fit-check"
    )
    secret = "whsec_" + secrets.token_urlsafe(24)
    ingest.check_signature_with_connector(bodies[0], secret)

    rps: dict[str, list[float]] = {mode: [] for mode in MODES}
    #: the server's CPU time per request (all its threads, discovery's too): what each
    #: request costs, whatever else the machine runs meanwhile
    cpu_us: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="hookgate-schemas-bench-") as name:
        tmp = Path(name)
        urls: dict[str, str] = {}
        dbs: dict[str, Path] = {}
        pids: dict[str, int] = {}
        with contextlib.ExitStack() as stack:
            for mode in MODES:
                port = ingest.free_port()
                urls[mode] = f"http://127.0.0.1:{port}"
                dbs[mode] = tmp / f"{mode}.db"
                path = tmp / f"hookgate-{mode}.toml"
                path.write_text(config(tmp, port, secret, dbs[mode], mode=mode), encoding="utf-8")
                log = stack.enter_context((tmp / f"{mode}.log").open("wb"))
                program = [str(hookgate)]
                if mode.endswith(BEFORE):
                    program = [sys.executable, str(BENCH_DIR / "schemas_before.py")]
                cmd = ingest.pinned([*program, "serve", "--config", str(path)], server_cpu)
                pids[mode] = stack.enter_context(ingest.server(cmd, f"{urls[mode]}/healthz", log)).pid
            for mode in ("reject", "reject-before"):
                pin_warm_up_version(urls[mode], tmp / f"hookgate-{mode}.toml", secret, hookgate)
            requests_file = tmp / "requests.bin"
            ingest.write_requests(requests_file, bodies, secret, "127.0.0.1")
            for r in range(args.rounds):
                for mode in MODES if r % 2 == 0 else MODES[::-1]:
                    cpu_before = ingest.cpu_seconds([pids[mode]])
                    result = ingest.run_wrk(
                        [urls[mode]],
                        requests_file,
                        threads=1,
                        connections=args.connections,
                        duration=args.duration,
                        cpu=load_cpu,
                        slices=args.rounds,
                        first_slice=r,
                    )
                    if result.non_2xx or result.socket_errors or result.timeouts:
                        errors = result.socket_errors + result.timeouts
                        say(f"PROBLEM: {mode}: {result.non_2xx} non-2xx, {errors} socket errors or timeouts")
                    rps[mode].append(result.rps)
                    cpu_after = ingest.cpu_seconds([pids[mode]])
                    if cpu_before is not None and cpu_after is not None and result.requests:
                        cpu_us[mode].append((cpu_after - cpu_before) / result.requests * 1e6)
                say(f"  round {r + 1}: " + " | ".join(f"{m} {rps[m][-1]:7,.0f} req/s" for m in MODES))
            skipped_on = {mode: skipped(urls[mode]) for mode in ("on", "on-before")}
        # the servers have stopped: what the "on" ones had queued is recorded
        stored = {mode: counted(dbs[mode]) for mode in ("on", "on-before")}
    off, on, reject, on_before, reject_before = (statistics.median(rps[m]) for m in MODES)
    ratio = on / off if off else 0.0
    enforced = reject / off if off else 0.0
    enforced_before = reject_before / off if off else 0.0
    share = {mode: versioned / events if events else 0.0 for mode, (events, versioned) in stored.items()}
    say(
        f"enforcement (reject, every event checked): {reject:,.0f} req/s, ratio {enforced:.3f}; "
        f"before: {reject_before:,.0f} req/s, ratio {enforced_before:.3f}"
    )
    say(
        f"discovery counted {share['on']:.1%} of the stored events with the fit-check, "
        f"{share['on-before']:.1%} before (the rest sampled under the same CPU budget)"
    )
    say(f"median: off {off:,.0f} req/s, on {on:,.0f} req/s, ratio {ratio:.3f} (target >= {TARGET_RATIO})")
    say(f"before: on {on_before:,.0f} req/s, ratio {on_before / off if off else 0.0:.3f}")
    stored_on, versioned_on = stored["on"]
    cpu = {mode: statistics.median(cpu_us[mode]) if cpu_us[mode] else 0.0 for mode in MODES}

    def cost_ratio(mode: str, base: str = "off") -> float:
        """CPU per request of `base` over CPU per request of `mode` (1.0: no cost)."""
        return round(cpu[base] / cpu[mode], 4) if cpu[mode] else 0.0

    say(
        "CPU per request: "
        + " | ".join(f"{m} {cpu[m]:,.0f} µs" for m in MODES)
        + f"; enforcement alone (reject against on) {cost_ratio('reject', 'on'):.3f} "
        f"(before {cost_ratio('reject-before', 'on-before'):.3f}), "
        f"enforcement with discovery {cost_ratio('reject'):.3f} (before {cost_ratio('reject-before'):.3f}), "
        f"discovery {cost_ratio('on'):.3f} (before {cost_ratio('on-before'):.3f})"
    )
    summary = {
        "inference_us_per_event": round(per_event_us, 2),
        "inference_us_per_event_before": round(before_us, 2),
        "rps_discovery_off": round(off, 1),
        "rps_discovery_on": round(on, 1),
        "ratio": round(ratio, 4),
        "rps_discovery_on_before": round(on_before, 1),
        "ratio_before": round(on_before / off if off else 0.0, 4),
        "rps_enforcement_reject": round(reject, 1),
        "ratio_enforcement": round(enforced, 4),
        "rps_enforcement_reject_before": round(reject_before, 1),
        "ratio_enforcement_before": round(enforced_before, 4),
        "counted_share_on": round(share["on"], 4),
        "counted_share_on_before": round(share["on-before"], 4),
        "cpu_us_per_request": {mode: round(cpu[mode], 1) for mode in MODES},
        "cpu_ratio": cost_ratio("on"),
        "cpu_ratio_before": cost_ratio("on-before"),
        "cpu_ratio_enforcement": cost_ratio("reject"),
        "cpu_ratio_enforcement_before": cost_ratio("reject-before"),
        "cpu_ratio_enforcement_alone": cost_ratio("reject", "on"),
        "cpu_ratio_enforcement_alone_before": cost_ratio("reject-before", "on-before"),
        "target_ratio": TARGET_RATIO,
        "ok": ratio >= TARGET_RATIO
        and all(events == versioned + skipped_on[mode] for mode, (events, versioned) in stored.items()),
        "events_skipped_on": skipped_on["on"],
        "stored_on": stored_on,
        "versioned_on": versioned_on,
    }
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
