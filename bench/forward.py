"""Forwarding benchmark: stored events → EventBridge PutEvents, from one process.

The real dispatcher claims events from a real SQLite store and hands them to the
`eventbridge` sink, which sends them with boto3 to a local PutEvents-compatible stub (a
separate process on its own CPU, answering from memory, so the gateway is the
bottleneck). The same run measures the naive baseline: one `put_events` call per event,
one call at a time, through the same store and dispatcher. Reported per mode: events/s and
CPU seconds of the gateway process per 1,000 events. The last line of output is one JSON
object.

    .venv/bin/python bench/forward.py                  # 20,000 events batched, 2,000 naive
    .venv/bin/python bench/forward.py --events 50000 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import typing
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.config import DispatcherSettings, StoreSettings  # noqa: E402
from gateway.dispatcher import Dispatcher  # noqa: E402
from gateway.events import Event, isoformat, new_event_id  # noqa: E402
from gateway.observability import Metrics, configure_logging  # noqa: E402
from gateway.sinks import Delivered, Outcome, Permanent, Retry, Sink  # noqa: E402
from gateway.sinks.eventbridge import EventBridgeOptions, EventBridgeSink, PreparedEntry, prepare  # noqa: E402
from gateway.store import Store, open_store  # noqa: E402

TARGET_EVENTS_PER_S = 5000
DEVNULL = open(os.devnull, "wb")  # noqa: SIM115 - open for the life of the process


# -- the stub: a minimal PutEvents endpoint ----------------------------------------------------


class _StubProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive; every request is a PutEvents call answered as all accepted."""

    count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower() + b"\r\n"
            start = head.find(b"content-length:")
            length = int(head[start + 15 : head.find(b"\r\n", start)]) if start >= 0 else 0
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            entries = len(orjson.loads(body).get("Entries", ())) if body else 0
            _StubProtocol.count += entries
            reply = orjson.dumps(
                {"FailedEntryCount": 0, "Entries": [{"EventId": str(uuid.uuid4())} for _ in range(entries)]}
            )
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
                b"x-amzn-RequestId: stub\r\nContent-Length: " + str(len(reply)).encode() + b"\r\n\r\n" + reply
            )


def serve_stub(port: int) -> None:
    try:
        import uvloop  # noqa: PLC0415

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_StubProtocol, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_stub() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, __file__, "--serve-stub", str(port)]
    if os.cpu_count() and (os.cpu_count() or 1) > 1 and _has_taskset():
        command = ["taskset", "-c", "1", *command]  # the stub on CPU 1, the gateway on CPU 0
    stub = subprocess.Popen(command)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return stub, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    stub.kill()
    raise RuntimeError("the PutEvents stub did not start")


def _has_taskset() -> bool:
    try:
        subprocess.run(["taskset", "-V"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


# -- the gateway side ---------------------------------------------------------------------------


def make_events(count: int, now: float) -> list[Event]:
    """Stripe-like envelopes of about 1.5 KB, as the HTTP edge stores them."""
    events = []
    for n in range(count):
        event_id = new_event_id(now)
        payload = {
            "id": f"evt_{n:024d}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(now),
            "data": {
                "object": {
                    "id": f"pi_{n:024d}",
                    "object": "payment_intent",
                    "amount": 2000 + n,
                    "currency": "usd",
                    "customer": f"cus_{n:014d}",
                    "description": "Subscription update " + "x" * 700,
                    "metadata": {"order_id": str(n), "plan": "pro"},
                    "status": "succeeded",
                }
            },
        }
        envelope = {
            "version": "0",
            "id": event_id,
            "detail-type": "payment_intent.succeeded",
            "source": "hookgate.stripe",
            "time": isoformat(now),
            "resources": [],
            "detail": {
                "metadata": {
                    "event_id": event_id,
                    "source": "stripe",
                    "connector": "stripe",
                    "provider_event_id": payload["id"],
                    "delivery_id": None,
                    "dedup_key": payload["id"],
                    "received_at": isoformat(now),
                },
                "payload": payload,
            },
        }
        events.append(
            Event(
                event_id,
                "stripe",
                str(payload["id"]),
                "payment_intent.succeeded",
                now,
                orjson.dumps(envelope).decode(),
            )
        )
    return events


class NaiveSink(EventBridgeSink):
    """The baseline: one PutEvents call per event, one call at a time."""

    kind = "eventbridge-naive"

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        await self.open()
        return await asyncio.to_thread(self._one_by_one, events)

    def _one_by_one(self, events: Sequence[Event]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for index, event in enumerate(events):
            entry = prepare(
                index, event, bus=self.options.event_bus_name, limit=self.options.max_request_bytes
            )
            if not isinstance(entry, PreparedEntry):
                outcomes.append(Permanent("not sendable"))
                continue
            try:
                result = self._events.put_events(Entries=[entry.request])["Entries"][0]
            except Exception as exc:  # noqa: BLE001 - a benchmark counts, it does not crash
                outcomes.append(Retry(str(exc)))
                continue
            outcomes.append(Delivered() if "EventId" in result else Retry(result.get("ErrorCode", "")))
        return outcomes


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(sink: Sink, count: int, batch_size: int, workdir: Path) -> dict[str, Any]:
    """Store `count` events, then time the dispatcher draining them through `sink`."""
    settings = DispatcherSettings(batch_size=batch_size, poll_interval_seconds=3600.0)
    db = workdir / f"{sink.kind}.db"
    store: Store = open_store(StoreSettings(url=f"sqlite:///{db}"), settings, time.time)
    await store.open()
    events = make_events(count, time.time())
    for start in range(0, count, 500):
        await store.persist(events[start : start + 500], [sink.name])
    metrics = Metrics()
    dispatcher = Dispatcher(store, {sink.name: sink}, settings, metrics)
    await sink.open()
    # Warm up: the first calls pay for connections and lazily loaded botocore models.
    await sink.deliver(make_events(20, time.time()))
    cpu, wall = cpu_seconds(), time.perf_counter()
    handled = await dispatcher.drain()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    delivered = metrics.registry.get_sample_value("hookgate_deliveries_delivered_total", {"sink": sink.name})
    await sink.close()
    await store.close()
    return {
        "events": count,
        "handled": handled,
        "delivered": int(delivered or 0),
        "seconds": round(wall, 3),
        "events_per_s": round(count / wall, 1),
        "cpu_s_per_1000": round(cpu / count * 1000, 4),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    try:
        import uvloop  # noqa: PLC0415

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # as `hookgate serve` runs
    except ImportError:
        pass
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        os.environ[name] = value
    configure_logging("info", DEVNULL)  # as `hookgate serve` logs, to a stream nobody reads
    stub, endpoint = start_stub()
    try:
        options = EventBridgeOptions(
            event_bus_name="bench",
            region="us-east-1",
            endpoint_url=endpoint,
            concurrency=args.concurrency,
            max_batch=args.batch_size,
        )
        with tempfile.TemporaryDirectory() as tmp:
            batched = await run(EventBridgeSink("bus", options), args.events, args.batch_size, Path(tmp))
            print("batched", json.dumps(batched), flush=True)
            naive = await run(NaiveSink("naive", options), args.naive_events, args.batch_size, Path(tmp))
            print("naive  ", json.dumps(naive), flush=True)
    finally:
        stub.terminate()
        stub.wait(5)
    return {
        "bench": "forward",
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        "batched": batched,
        "naive": naive,
        "speedup": round(batched["events_per_s"] / naive["events_per_s"], 1),
        "cpu_ratio": round(naive["cpu_s_per_1000"] / batched["cpu_s_per_1000"], 1),
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "meets_target": batched["events_per_s"] >= TARGET_EVENTS_PER_S
        and batched["delivered"] == args.events
        and naive["delivered"] == args.naive_events,
    }


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-stub":
        serve_stub(int(sys.argv[2]))
        sys.exit(0)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--naive-events", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=500)
    summary = asyncio.run(main(parser.parse_args()))
    print(json.dumps(summary))
