"""The admin API's events and requests on a real `hookgate serve`, over a real SQLite file
and a real PostgreSQL schema: every filter, pages under concurrent inserts, an event's
attempts through retries to its dead letter, redaction, and the requests log's bound
under a flood of forged requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.helpers.served import (
    GITHUB_SECRET,
    STRIPE_SECRET,
    Served,
    free_port,
    stripe_event,
    stripe_headers,
)
from tests.unit._postgres import postgres_schema

pytestmark = pytest.mark.e2e

ADMIN = "e2e-admin-token-0123456789abcdef"
ROWS = 100  # `requests_max_rows` (its smallest allowed value)


def store_table(tmp: Path, backend: str) -> AbstractContextManager[dict[str, Any]]:
    if backend == "sqlite":
        return nullcontext({"url": f"sqlite:///{tmp / 'hookgate.db'}"})
    return postgres_schema()


def config(tmp: Path, port: int, store: dict[str, Any], dead_port: int) -> str:
    store_lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in store.items())
    return f"""
[server]
host = "127.0.0.1"
port = {port}

[store]
{store_lines}

[dispatcher]
poll_interval_seconds = 0.1
base_delay_seconds = 0.05
max_delay_seconds = 0.1

[admin]
tokens = [{{ name = "ops", token = "{ADMIN}", role = "admin" }}]
requests_max_rows = {ROWS}
redact_headers = ["x-custom-*"]

[sources.stripe]
connector = "stripe"
secrets = ["env:E2E_STRIPE_SECRET"]
sinks = ["archive", "hook"]

[sources.github]
connector = "github"
secrets = ["{GITHUB_SECRET}"]
sinks = ["archive"]

[sinks.archive]
type = "jsonl"
path = "{tmp / "events.jsonl"}"

# Nothing listens there: every delivery fails, and is dead after two attempts.
[sinks.hook]
type = "http"
url = "http://127.0.0.1:{dead_port}/"
timeout_seconds = 1.0
retry_policy = {{ max_attempts = 2 }}
"""


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    with store_table(tmp_path, request.param) as store:
        port = free_port()
        path = tmp_path / "hookgate.toml"
        path.write_text(config(tmp_path, port, store, free_port()))
        gw = Served(tmp_path, path, port)
        gw.start()
        try:
            yield gw
        finally:
            gw.stop()


def api(served: Served, path: str, **params: Any) -> Any:
    answer = httpx.get(
        f"{served.url}/api/v1{path}", params=params, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def ids(served: Served, **params: Any) -> list[str]:
    page = api(served, "/events", limit=500, **params)
    assert page["next_cursor"] is None
    return [item["id"] for item in page["items"]]


def post_stripe(served: Served, event_id: str, kind: str = "invoice.paid", text: str = "") -> str:
    body = json.loads(stripe_event(event_id, kind))
    body["data"]["object"]["description"] = text
    raw = json.dumps(body).encode()
    answer = httpx.post(f"{served.url}/webhooks/stripe", content=raw, headers=stripe_headers(raw), timeout=10)
    assert answer.status_code == 200, answer.text
    [stored] = answer.json()["event_ids"]
    return str(stored)


def post_github(served: Served, delivery: str) -> str:
    raw = json.dumps({"ref": "refs/heads/main", "repository": {"full_name": "o/r"}}).encode()
    signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    headers = {
        "X-Hub-Signature-256": signature,
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "Content-Type": "application/json",
    }
    answer = httpx.post(f"{served.url}/webhooks/github", content=raw, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    [stored] = answer.json()["event_ids"]
    return str(stored)


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_events_every_filter_and_the_attempts_of_a_dead_letter(served: Served) -> None:
    paid = post_stripe(served, "evt_e2e_paid_0001", text="Alpha Order 42")
    since = time.time()
    time.sleep(0.01)
    failed = post_stripe(served, "evt_e2e_fail_0001", "invoice.payment_failed", text="beta")
    push = post_github(served, "dlv-e2e-0001")

    assert ids(served) == [push, failed, paid]
    assert ids(served, source="github") == [push]
    assert ids(served, detail_type="invoice.paid") == [paid]
    assert ids(served, detail_type_prefix="invoice.") == [failed, paid]
    assert ids(served, provider_event_id="evt_e2e_fail_0001") == [failed]
    assert ids(served, dedup_key="dlv-e2e-0001") == [push]
    assert ids(served, delivery_id="dlv-e2e-0001") == [push]
    assert ids(served, delivery_id=f"{failed}/hook") == [failed]
    assert ids(served, q="alpha order") == [paid]
    assert ids(served, since=_rfc3339(since)) == [push, failed]
    assert ids(served, until=_rfc3339(since)) == [paid]
    # The http sink never answers: both stripe events end dead, the github one delivered.
    assert wait_for(lambda: ids(served, state="dead") == [failed, paid]), ids(served, state="dead")
    assert wait_for(lambda: set(ids(served, state="delivered")) == {push, failed, paid})
    assert ids(served, state="pending") == []

    [item] = api(served, "/events", provider_event_id="evt_e2e_paid_0001")["items"]
    assert (item["id"], item["source"], item["detail_type"]) == (paid, "stripe", "invoice.paid")
    assert item["provider_event_id"] == "evt_e2e_paid_0001"
    assert {d["sink"]: d["status"] for d in item["deliveries"]} == {"archive": "delivered", "hook": "dead"}

    shown = api(served, f"/events/{paid}")
    assert shown["event"]["detail"]["metadata"]["provider_event_id"] == "evt_e2e_paid_0001"
    hook = next(d for d in shown["deliveries"] if d["sink"] == "hook")
    assert [(a["attempt"], a["outcome"]) for a in hook["attempt_log"]] == [(1, "retry"), (2, "dead")]
    assert all(a["cause"] and a["duration_ms"] >= 0 for a in hook["attempt_log"])
    assert hook["attempt_log"][1]["cause"].startswith("max_attempts: ")
    archive = next(d for d in shown["deliveries"] if d["sink"] == "archive")
    assert [a["outcome"] for a in archive["attempt_log"]] == ["delivered"]
    # The CLI prints the same document.
    if "sqlite" in served.config.read_text():
        assert json.loads(served.cli("events", "show", paid).stdout) == shown

    missing = httpx.get(
        f"{served.url}/api/v1/events/0190c8c6-0000-7000-8000-000000000000",
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert missing.status_code == 404
    bad = httpx.get(
        f"{served.url}/api/v1/events",
        params={"cursor": "bm90LWEtY3Vyc29y"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_query")


def _rfc3339(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment * 1000) % 1000:03d}Z"


def test_pages_under_concurrent_inserts_list_each_event_once(served: Served) -> None:
    before = [post_github(served, f"dlv-page-{i:03d}") for i in range(30)]
    stop = threading.Event()
    during: list[str] = []

    def keep_sending() -> None:
        n = 0
        while not stop.is_set() and n < 60:
            during.append(post_github(served, f"dlv-more-{n:03d}"))
            n += 1

    sender = threading.Thread(target=keep_sending)
    sender.start()
    seen: list[str] = []
    cursor = None
    try:
        while True:
            params: dict[str, Any] = {"limit": 4, "source": "github"}
            if cursor:
                params["cursor"] = cursor
            page = api(served, "/events", **params)
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            time.sleep(0.02)
    finally:
        stop.set()
        sender.join()
    assert len(seen) == len(set(seen)), "an event was listed twice"
    assert set(before) <= set(seen)
    assert seen == sorted(seen, reverse=True)
    assert during, "no event was stored while paging"


def test_requests_log_records_and_redacts_and_stays_bounded_under_a_flood(served: Served) -> None:
    raw = stripe_event("evt_e2e_req_0001")
    signed = stripe_headers(raw)
    accepted = httpx.post(
        f"{served.url}/webhooks/stripe",
        content=raw,
        headers={**signed, "Authorization": "Bearer upstream-secret-value", "X-Custom-Key": "custom-secret"},
    )
    assert accepted.status_code == 200
    forged_signature = f"t={int(time.time())},v1={'0' * 64}"
    with httpx.Client(base_url=served.url, timeout=10) as client:
        for i in range(3 * ROWS):
            answer = client.post(
                "/webhooks/stripe",
                content=stripe_event(f"evt_forged_{i:04d}"),
                headers={"Stripe-Signature": forged_signature, "Cookie": "session=cookie-secret"},
            )
            assert answer.status_code == 401
        assert client.post("/webhooks/nowhere", content=b"{}").status_code == 404

    def rejected() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"outcome": "rejected", "limit": 500}
            if cursor:
                params["cursor"] = cursor
            page = api(served, "/requests", **params)
            items.extend(page["items"])
            if (cursor := page["next_cursor"]) is None:
                return items

    # Rejected requests are written in batches, about every second; the log keeps ROWS.
    # Ids are ordered by the millisecond: the last forged one may share the 404's.
    found = wait_for(lambda: (r := rejected()) and any(x["source"] == "nowhere" for x in r[:2]) and r)
    assert found, "the rejected requests were never written"
    everything = api(served, "/requests", limit=500)["items"]
    assert len(everything) <= ROWS
    nowhere = [r for r in found if r["source"] == "nowhere"]
    assert [(r["status"], r["cause"]) for r in nowhere] == [(404, "unknown_source")]
    forged = [r for r in found if r["source"] == "stripe"]
    assert len(forged) >= ROWS - 10
    assert {(r["status"], r["cause"]) for r in forged} == {(401, "bad_signature")}
    assert {r["headers"]["stripe-signature"] for r in forged} == {"[redacted]"}
    assert {r["headers"]["cookie"] for r in forged} == {"[redacted]"}
    assert {(r["body"], r["client"]) for r in forged} == {(None, "127.0.0.1")}
    assert all(r["size"] > 0 for r in forged)

    # The accepted one was dropped first (the oldest); a fresh one shows its events.
    fresh = stripe_event("evt_e2e_req_0002")
    answer = httpx.post(f"{served.url}/webhooks/stripe", content=fresh, headers=stripe_headers(fresh))
    [latest] = api(served, "/requests", outcome="accepted", limit=1)["items"]
    assert latest["event_ids"] == answer.json()["event_ids"]
    assert (latest["status"], latest["cause"]) == (200, None)

    # No secret value is ever returned, nor stored.
    secrets = [
        signed["Stripe-Signature"],
        forged_signature,
        "upstream-secret-value",
        "custom-secret",
        "cookie-secret",
    ]
    text = json.dumps(api(served, "/requests", limit=500))
    assert not [s for s in secrets if s in text]
    assert not [s for s in secrets if s in _stored_text(served)]
    assert STRIPE_SECRET not in text


def _stored_text(served: Served) -> str:
    """Everything the store holds about requests, as text."""
    store = served.config.read_text()
    if "postgresql://" not in store:
        return served.db.read_bytes().decode("latin-1") + "".join(
            p.read_bytes().decode("latin-1") for p in served.tmp.glob("hookgate.db-wal")
        )
    url = next(line for line in store.splitlines() if line.startswith("url = ")).split('"')[1]
    schema = next(line for line in store.splitlines() if line.startswith("schema_name")).split('"')[1]
    query = sql.SQL("SELECT headers, coalesce(encode(body, 'escape'), '') FROM {}.requests").format(
        sql.Identifier(schema)
    )
    with psycopg.connect(url) as conn:
        rows = conn.execute(query).fetchall()
    return json.dumps(rows)
