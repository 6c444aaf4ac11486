"""The local router end to end: Stripe webhooks into a real `hookgate serve`, through rules
and input transformers, to real HTTP targets; a target that is down, one that always fails,
and a replay of a time range."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import standardwebhooks

from tests.helpers.served import Served, base_config, free_port, jsonl_entries, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    """A local HTTP server recording what it receives; `/fail` always answers 500."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.received.append((self.path, dict(self.headers.items()), body))
                self.send_response(500 if self.path == "/fail" else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def on(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        with self._lock:
            return [(h, b) for p, h, b in self.received if p == path]

    def wait(self, path: str, count: int, timeout: float = 20.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.on(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{path} received {len(self.on(path))} of {count}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


ROUTER = """
[sinks.bus]
type = "router"
archive = {{ retention_days = 7 }}

[sinks.bus.rules.large-invoices]
description = "paid invoices above 10.00"
event_pattern = '''{{"source": ["hookgate.stripe"], "detail-type": ["invoice.paid"],
  "detail": {{"payload": {{"data": {{"object": {{"amount_paid": [{{"numeric": [">", 1000]}}]}}}}}}}}}}'''

[[sinks.bus.rules.large-invoices.targets]]
id = "billing"
type = "http"
url = "http://127.0.0.1:{up}/billing"
headers = {{ "x-team" = "billing" }}
signing_secret = "{secret}"

[sinks.bus.rules.large-invoices.targets.input_transformer]
input_paths_map = {{ event = "$.detail.payload.id", amount = "$.detail.payload.data.object.amount_paid" }}
input_template = '{{"event": <event>, "amount": <amount>, "rule": "<aws.events.rule-name>"}}'

[[sinks.bus.rules.large-invoices.targets]]
id = "late"
type = "http"
url = "http://127.0.0.1:{late}/late"
input_path = "$.detail.payload"

[[sinks.bus.rules.large-invoices.targets]]
id = "broken"
type = "http"
url = "http://127.0.0.1:{up}/fail"
retry_policy = {{ maximum_retry_attempts = 2, maximum_event_age_seconds = 60 }}

[[sinks.bus.rules.large-invoices.targets]]
id = "copy"
type = "jsonl"
path = "{copy}"

[sinks.bus.rules.refunds]
event_pattern = {{ "detail-type" = ["charge.refunded"] }}
enabled = false

[[sinks.bus.rules.refunds.targets]]
id = "audit"
type = "http"
url = "http://127.0.0.1:{up}/audit"
"""


def invoice(amount: int, kind: str = "invoice.paid") -> bytes:
    event = json.loads(stripe_event(kind=kind))
    event["data"]["object"]["amount_paid"] = amount
    return json.dumps(event).encode()


@pytest.fixture
def routed(tmp_path: Path) -> Iterator[tuple[Served, Receiver, int]]:
    port, up, late = free_port(), free_port(), free_port()
    receiver = Receiver(up)
    config = tmp_path / "hookgate.toml"
    extra = ROUTER.format(up=up, late=late, secret=SIGNING_SECRET, copy=tmp_path / "copy.jsonl")
    config.write_text(base_config(tmp_path, port, extra=extra))
    served = Served(tmp_path, config, port)
    served.start()
    try:
        yield served, receiver, late
    finally:
        served.stop()
        receiver.close()


def post(served: Served, body: bytes) -> str:
    response = httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 200, response.text
    event_id: str = response.json()["event_ids"][0]
    return event_id


def test_rules_route_transform_retry_dead_letter_and_replay(routed: tuple[Served, Receiver, int]) -> None:
    served, receiver, late_port = routed
    big = [invoice(5000 + i) for i in range(3)]
    small, refund = invoice(500), invoice(9000, kind="charge.refunded")
    started = time.time()
    ids = [post(served, body) for body in [*big, small, refund]]

    # Only matching events reach the rule's target, transformed and signed.
    billing = receiver.wait("/billing", 3)
    time.sleep(0.5)  # room for a wrong delivery (the small invoice, the disabled rule) to show
    assert len(receiver.on("/billing")) == 3
    assert receiver.on("/audit") == []
    stripe_ids = [json.loads(b)["id"] for b in big]
    sent = sorted((json.loads(body) for _, body in billing), key=lambda b: b["amount"])
    assert sent == [{"event": stripe_ids[i], "amount": 5000 + i, "rule": "large-invoices"} for i in range(3)]
    verifier = standardwebhooks.Webhook(SIGNING_SECRET)  # the official library as oracle
    for headers, body in billing:
        assert headers["x-team"] == "billing"
        verifier.verify(body, {k.lower(): v for k, v in headers.items()})
        assert headers["webhook-id"] in ids

    # Every event is archived by the jsonl sink too, routed or not.
    served.wait_for_sink(lambda e: len(e) == 5)
    # The bus's archive keeps them all for its 7 days, past the dedup window.
    with sqlite3.connect(served.db) as conn:
        kept = conn.execute("SELECT keep_until - received_at FROM events").fetchall()
    conn.close()
    assert [round(k) for (k,) in kept] == [7 * 86_400] * 5

    # A target that always fails is dead-lettered after its own retry budget (1 + 2 tries).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        dead = served.cli("dlq", "list", "--sink", "bus/large-invoices/broken").stdout
        if dead.count("max_attempts") == 3:
            break
        time.sleep(0.2)
    assert dead.count("max_attempts: http_500") == 3, dead
    assert len(receiver.on("/fail")) == 9

    # A target that was down gets everything once it is back.
    shown = json.loads(served.cli("events", "show", ids[0]).stdout)
    assert [d["sink"] for d in shown["deliveries"]].count("bus/large-invoices/late") == 1
    assert shown["archived_until"] > shown["event"]["time"]  # ISO-8601 strings: 7 days later
    late = Receiver(late_port)
    try:
        payloads = late.wait("/late", 3)
        assert sorted(json.loads(body)["id"] for _, body in payloads) == sorted(stripe_ids)

        # Replay a time range through one rule: its targets receive the events again,
        # marked with the replay's name; the other sinks and rules do not.
        before = len(receiver.on("/billing"))
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started - 1))
        result = served.cli("replay", "--from", since, "--rule", "large-invoices", "--name", "fix-1")
        assert "replayed as fix-1: 5 event(s)" in result.stdout, result.stdout
        again = late.wait("/late", 6)
        assert len(again) == 6
        replayed = receiver.wait("/billing", before + 3)
        assert len(replayed) == before + 3
        copies = served.tmp / "copy.jsonl"
        deadline = time.monotonic() + 20
        while len(jsonl_entries(copies)) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = jsonl_entries(copies)
        assert [line.get("replay-name") for line in lines] == [None] * 3 + ["fix-1"] * 3
        assert sorted(line["id"] for line in lines[3:]) == sorted(ids[:3])
        time.sleep(0.3)
        assert len(served.sink_entries()) == 5  # the archive sink was not replayed to
        assert served.stored_count() == 5  # a replay stores nothing: nothing is archived twice
    finally:
        late.close()
