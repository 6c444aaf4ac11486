"""A real `hookgate serve` process, real HTTP, a real SQLite file, a real jsonl sink."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.helpers.served import (
    FRESHDESK_PASSWORD,
    GITHUB_SECRET,
    STRIPE_SECRET,
    Served,
    stripe_event,
    stripe_headers,
)

pytestmark = pytest.mark.e2e


def test_signed_events_reach_the_sink_exactly_once_per_dedup_key(served: Served) -> None:
    bodies = [stripe_event() for _ in range(20)]
    with httpx.Client(base_url=served.url) as client:
        for _ in range(2):  # every delivery is sent twice, as providers do on retry
            for body in bodies:
                response = client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
                assert response.status_code == 200, response.text
    ids = {json.loads(b)["id"] for b in bodies}
    entries = served.wait_for_sink(lambda e: len(e) >= len(ids))
    time.sleep(0.5)  # give a wrongly duplicated delivery the chance to show up
    entries = served.sink_entries()
    delivered = [e["detail"]["payload"]["id"] for e in entries]
    assert sorted(delivered) == sorted(ids)
    assert served.stored_count() == len(ids)
    entry = entries[0]
    assert entry["source"] == "hookgate.stripe"
    assert entry["detail-type"] == "invoice.paid"
    assert entry["detail"]["metadata"]["connector"] == "stripe"


def test_github_and_freshdesk_deliveries(served: Served) -> None:
    body = json.dumps({"action": "opened", "number": 7, "pull_request": {"id": 1}}).encode()
    signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    delivery = str(uuid.uuid4())
    headers = {
        "X-Hub-Signature-256": signature,
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": delivery,
        "Content-Type": "application/json",
    }
    response = httpx.post(f"{served.url}/webhooks/github", content=body, headers=headers)
    assert response.status_code == 200, response.text

    ticket = json.dumps(
        {"freshdesk_webhook": {"ticket_id": 42, "triggered_event": "{ticket_action:created}"}}
    )
    basic = base64.b64encode(f"hookgate:{FRESHDESK_PASSWORD}".encode()).decode()
    response = httpx.post(
        f"{served.url}/webhooks/support",
        content=ticket,
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    wrong = base64.b64encode(b"hookgate:wrong").decode()
    response = httpx.post(
        f"{served.url}/webhooks/support", content=ticket + " ", headers={"Authorization": f"Basic {wrong}"}
    )
    assert response.status_code == 401

    entries = served.wait_for_sink(lambda e: len(e) >= 2)
    by_source = {e["detail"]["metadata"]["source"]: e for e in entries}
    assert by_source["github"]["detail-type"] == "pull_request.opened"
    assert by_source["github"]["detail"]["metadata"]["dedup_key"] == delivery
    assert by_source["support"]["source"] == "hookgate.support"


def test_bad_requests_get_clear_answers_and_leave_no_trace(served: Served) -> None:
    good = stripe_event()
    cases: list[tuple[str, str, bytes, dict[str, str], int]] = [
        ("forged", "/webhooks/stripe", good, stripe_headers(good, secret="whsec_forged"), 401),
        ("stale", "/webhooks/stripe", good, stripe_headers(good, timestamp=int(time.time()) - 3600), 401),
        ("unsigned", "/webhooks/stripe", good, {}, 401),
        ("garbled header", "/webhooks/stripe", good, {"Stripe-Signature": "t=abc,v1=%%%"}, 401),
        ("oversize", "/webhooks/stripe", b"x" * 70_000, stripe_headers(b"x" * 70_000), 413),
        ("malformed", "/webhooks/stripe", b"{not json", stripe_headers(b"{not json"), 400),
        ("unknown source", "/webhooks/nope", good, stripe_headers(good), 404),
    ]
    with httpx.Client(base_url=served.url) as client:
        for name, path, body, headers, status in cases:
            response = client.post(path, content=body, headers=headers)
            assert response.status_code == status, name
            assert response.headers["content-type"] == "application/json", name
            text = response.text
            assert "Traceback" not in text, name
            assert "signature" not in text.lower(), name  # the cause is logged, never echoed
        metrics = client.get("/metrics").text
    assert served.stored_count() == 0
    assert 'hookgate_requests_rejected_total{cause="verification_failed",source="stripe"} 4.0' in metrics
    assert 'hookgate_requests_rejected_total{cause="too_large",source="stripe"} 1.0' in metrics
    expected = {"stale_timestamp", "bad_signature", "missing_signature", "invalid_json"}
    deadline = time.monotonic() + 10  # log lines are written in batches, a moment later
    while True:
        logs = served.log_text()
        records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
        causes = {r.get("cause_detail") for r in records if r["event"] == "request"}
        if expected <= causes or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert expected <= causes
    assert STRIPE_SECRET not in logs
    assert "amount_paid" not in logs  # payload bodies are never logged


async def _burst(url: str, bodies: list[bytes], acked: list[str], concurrency: int) -> None:
    limits = httpx.Limits(max_connections=concurrency)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            try:
                response = await client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
            except httpx.TransportError:
                continue  # the server died mid-request: no ack, the provider would retry
            if response.status_code == 200:
                acked.append(json.loads(body)["id"])

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))


def test_kill_9_during_a_burst_loses_no_acknowledged_event(served: Served) -> None:
    bodies = [stripe_event() for _ in range(3000)]
    acked: list[str] = []

    async def scenario() -> None:
        burst = asyncio.create_task(_burst(served.url, bodies, acked, concurrency=32))
        while len(acked) < 300:  # kill once the burst is well under way  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        served.kill9()
        await burst

    asyncio.run(scenario())
    assert 300 <= len(acked) < len(bodies), "the kill should land mid-burst"
    served.start()
    expected = set(acked)
    entries = served.wait_for_sink(
        lambda e: expected <= {x["detail"]["payload"]["id"] for x in e}, timeout=60
    )
    delivered = {x["detail"]["payload"]["id"] for x in entries}
    assert expected <= delivered
    # Nothing the gateway did not ack may appear as stored twice, and every stored event is delivered.
    assert served.stored_count() == len(delivered)


def test_send_test_and_inspection_commands(served: Served) -> None:
    sent = served.cli("send-test", "stripe", "--url", f"{served.url}/webhooks/stripe")
    assert sent.stdout.startswith("200 ")
    event_id = json.loads(sent.stdout[4:])["event_ids"][0]
    served.wait_for_sink(lambda e: len(e) == 1)

    listed = served.cli("events", "list", "--json")
    rows = json.loads(listed.stdout)["events"]
    assert rows[0]["id"] == event_id
    shown = json.loads(served.cli("events", "show", event_id).stdout)
    assert shown["event"]["detail-type"] == "payment_intent.succeeded"
    assert shown["deliveries"][0]["sink"] == "archive"
    assert shown["archived_until"] is None  # no router archive: kept for the dedup window only

    replayed = served.cli("replay", "--source", "stripe", "--since", "1h")
    assert "replayed: 1 event(s) to archive" in replayed.stdout
    served.wait_for_sink(lambda e: len(e) == 2)  # delivered again
    assert served.cli("dlq", "list").stdout.strip() == f"no dead letters in sqlite:///{served.db}"


def test_failing_sink_dead_letters_then_redrive_delivers(served: Served) -> None:
    served.stop()
    # A file that opens (a sink that cannot even be opened stops `serve` from starting)
    # but refuses every write: ENOSPC, a full disk.
    blocked = Path("/dev/full")
    original = served.config.read_text()
    broken = original.replace(str(served.sink), str(blocked))
    served.config.write_text(broken.replace("[dispatcher]", "[dispatcher]\nmax_attempts = 2"))
    served.start()
    body = stripe_event()
    assert httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body)).is_success

    deadline = time.monotonic() + 20
    while "io_error" not in (out := served.cli("dlq", "list").stdout) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "max_attempts: io_error" in out
    served.stop()
    served.config.write_text(original)  # the sink is fixed
    served.start()
    assert served.cli("dlq", "redrive", "--all").stdout.strip() == "redriven: 1"
    entries = served.wait_for_sink(lambda e: len(e) == 1)
    assert entries[0]["detail"]["payload"]["id"] == json.loads(body)["id"]


def test_invalid_config_is_refused_with_the_key(served: Served) -> None:
    served.config.write_text(
        served.config.read_text().replace("tolerance_seconds = 300", 'tolerance_seconds = "x"')
    )
    result = served.cli("check-config", check=False)
    assert result.returncode == 2
    assert "sources.stripe.tolerance_seconds" in result.stderr
    served.stop()
    with pytest.raises(RuntimeError, match=r"sources\.stripe\.tolerance_seconds"):
        served.start()


def test_connectors_command_lists_builtins(served: Served) -> None:
    out = served.cli("connectors").stdout
    for name in ("stripe", "github", "freshdesk", "standard-webhooks", "generic-hmac"):
        assert f"{name}: " in out
    assert "tolerance_seconds" in out
