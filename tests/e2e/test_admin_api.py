"""The admin API on a real `hookgate serve`, over HTTP, on SQLite and on PostgreSQL.

One gateway per backend goes through what an operator does: tokens and roles, the
OpenAPI document, a delivery that fails for good and is redriven (a dry run first) once
its endpoint is back, a replay to a router rule, the sources and their test webhook, the
rules tester, and a new event seen on the live stream. Then its log: one audit line per
change, and no token anywhere. Apart: the failed-login limit, the admin API's own
listener, and a gateway without tokens, where `/api/` is not there at all.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.helpers.admin import (
    ADMIN_TOKEN,
    VIEWER_TOKEN,
    WRONG_TOKEN,
    Admin,
    admin_config,
    admin_gateway,
    bearer,
    eventually,
    started,
)
from tests.helpers.http_server import serve_http
from tests.helpers.served import STRIPE_SECRET, Served, free_port, stripe_event

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "postgres"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Admin, int]]:
    """The gateway on each backend, and the port its `app` sink's endpoint will listen on."""
    port, app_port = free_port(), free_port()
    with admin_gateway(tmp_path, admin_config(tmp_path, port, app_port), port, request.param) as served:
        yield served, app_port


def test_an_operator_session_on_each_backend(gateway: tuple[Admin, int]) -> None:
    gw, app_port = gateway

    # -- who may do what
    assert httpx.get(f"{gw.api}/sources").status_code == 401
    wrong = gw.get("/sources", token=WRONG_TOKEN)
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "unauthorized"
    assert gw.get("/whoami").json() == {"name": "support", "role": "viewer"}
    refused = gw.post("/dead-letters/redrive", {"all": True}, token=VIEWER_TOKEN)
    assert refused.status_code == 403
    assert refused.json()["error"] == {"code": "forbidden", "message": "this needs the admin role"}
    document = gw.get("/openapi.json").json()
    validate(document)
    paths = set(document["paths"])
    assert {
        "/dead-letters",
        "/dead-letters/redrive",
        "/replays",
        "/sources",
        "/rules/test",
        "/stream",
    } <= paths

    # -- a delivery fails for good while its endpoint is down, and is redriven once it is back
    first = gw.send_stripe()
    second = gw.send_stripe(kind="charge.failed")
    dead = eventually(
        lambda: len(items := gw.get("/dead-letters", sink="app").json()["items"]) == 2 and items
    )
    assert {d["event_id"] for d in dead} == {first, second}
    assert {d["sink"] for d in dead} == {"app"}
    assert all(d["last_cause"].startswith("max_attempts") for d in dead)
    by_cause = gw.get("/dead-letters", cause="max_attempts").json()["items"]
    assert len(by_cause) == 2
    page = gw.get("/dead-letters", limit=1).json()
    assert len(page["items"]) == 1
    rest = gw.get("/dead-letters", limit=1, cursor=page["next_cursor"]).json()
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == {f"{first}/app", f"{second}/app"}
    dry = gw.post("/dead-letters/redrive", {"filter": {"sink": "app"}, "dry_run": True})
    assert dry.json() == {"matched": 2, "redriven": 0, "dry_run": True}
    assert len(gw.get("/dead-letters").json()["items"]) == 2
    with serve_http(app_port) as app:
        one = gw.post("/dead-letters/redrive", {"ids": [f"{first}/app"]})
        assert one.json() == {"matched": 1, "redriven": 1, "dry_run": False}
        eventually(lambda: len(app.received) == 1)
        assert json.loads(app.received[0].body)["id"] == first
        rest_of_them = gw.post("/dead-letters/redrive", {"filter": {"source": "stripe"}})
        assert rest_of_them.json()["redriven"] == 1
        eventually(lambda: len(app.received) == 2)
    assert gw.get("/dead-letters").json() == {"items": [], "next_cursor": None}

    # -- a replay to the router rule's target
    ledger = gw.tmp / "ledger.jsonl"
    eventually(lambda: ledger.exists() and len(ledger.read_text().splitlines()) == 1)
    replay = gw.post("/replays", {"from": "1h", "rule": "paid", "name": "e2e-replay"})
    assert replay.status_code == 202, replay.text
    assert replay.json()["rules"] == ["bus/paid"]
    listed = eventually(
        lambda: (r := gw.get("/replays").json()["replays"]) and r[0]["state"] == "done" and r[0]
    )
    assert (listed["id"], listed["name"], listed["started_by"]) == (replay.json()["id"], "e2e-replay", "ops")
    assert listed["done"] == listed["total"] >= 2
    lines = eventually(lambda: len(found := ledger.read_text().splitlines()) == 2 and found)
    replayed = json.loads(lines[1])
    assert (replayed["id"], replayed["replay-name"]) == (first, "e2e-replay")  # only invoice.paid matches

    # -- the sources, and a test webhook through the edge
    sources = {s["name"]: s for s in gw.get("/sources").json()["sources"]}
    assert sources["stripe"]["webhook_url"] == f"{gw.url}/webhooks/stripe"
    assert sources["stripe"]["last_hour"]["events"] == 2
    assert sources["github"]["last_hour"]["events"] == 0
    assert gw.post("/sources/stripe/test", token=VIEWER_TOKEN).status_code == 403
    tested = gw.post("/sources/stripe/test").json()
    assert (tested["status"], tested["accepted"]) == (200, True)
    [sample] = tested["event_ids"]
    gw.wait_for_sink(lambda entries: any(e["id"] == sample for e in entries))
    assert gw.get("/sources").json()["sources"][0]["last_hour"]["events"] == 3

    # -- the rules tester
    event = {"source": "hookgate.stripe", "detail-type": "invoice.paid", "detail": {"n": 1}}
    [result] = gw.post("/rules/test", {"event": event}, token=VIEWER_TOKEN).json()["results"]
    assert (result["rule"], result["matched"]) == ("paid", True)
    assert result["targets"]["ledger"]["detail"] == {"n": 1}

    # -- a new event and the requests on the live stream
    everything = _Listener(gw, {"source": "stripe"}, count=2)
    rejected_only = _Listener(gw, {"types": "request", "outcome": "rejected"}, count=1)
    events_only = _Listener(gw, {"types": "event"}, count=1)
    live = gw.send_stripe()
    forged = httpx.post(
        f"{gw.url}/webhooks/stripe",
        content=stripe_event(),
        headers={
            "Stripe-Signature": f"t={int(time.time())},v1={'0' * 64}",
            "Content-Type": "application/json",
        },
    )
    assert forged.status_code == 401
    (event_kind, event), (request_kind, accepted) = everything.received()
    assert (event_kind, event["id"]) == ("event", live)
    assert event["detail_type"] == "invoice.paid"
    assert event["destinations"] == ["archive", "app", "bus/paid/ledger"]
    assert request_kind == "request"
    assert (accepted["outcome"], accepted["status"], accepted["event_ids"]) == ("accepted", 200, [live])
    [(kind, rejected)] = rejected_only.received()  # the accepted request was left out
    assert kind == "request"
    assert (rejected["outcome"], rejected["status"], rejected["cause"]) == ("rejected", 401, "bad_signature")
    assert rejected["headers"]["stripe-signature"] == "[redacted]"
    assert [(k, i["id"]) for k, i in events_only.received()] == [("event", live)]
    logged = eventually(
        lambda: (
            (found := gw.get("/requests", limit=2).json()["items"])
            and found[0]["id"] == rejected["id"]
            and found
        )
    )
    assert logged == [rejected, accepted]  # the stream's items are the requests log's

    # -- a delivered event sent again to one destination: it arrives twice
    gw.wait_for_sink(lambda entries: any(e["id"] == live for e in entries))
    assert (
        gw.post(f"/events/{live}/redeliver", {"destination": "archive"}, token=VIEWER_TOKEN).status_code
        == 403
    )
    assert gw.post("/events/0190f1e2-0000-7000-8000-000000000000/redeliver").status_code == 404
    unknown = gw.post(f"/events/{live}/redeliver", {"destination": "nowhere"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    again = gw.post(f"/events/{live}/redeliver", {"destination": "archive"})
    assert again.json() == {"event_id": live, "redelivered": ["archive"]}
    gw.wait_for_sink(lambda entries: [e["id"] for e in entries].count(live) == 2)

    def archive_attempts() -> list[dict[str, Any]]:
        shown = gw.get(f"/events/{live}").json()
        archive = next(d for d in shown["deliveries"] if d["sink"] == "archive")
        return archive["attempt_log"] if archive["status"] == "delivered" else []

    twice = eventually(lambda: len(found := archive_attempts()) == 2 and found)
    assert [(a["attempt"], a["outcome"]) for a in twice] == [(1, "delivered"), (1, "delivered")]
    assert twice[0]["at"] <= twice[1]["at"]

    # -- the log: one audit line per change, no token anywhere
    audits = eventually(
        lambda: len(found := [r for r in gw.log_records() if r["event"] == "audit"]) == 5 and found
    )
    assert [(a["who"], a["action"], a["count"]) for a in audits] == [
        ("ops", "dead_letters.redrive", 1),
        ("ops", "dead_letters.redrive", 1),
        ("ops", "replays.start", listed["done"]),
        ("ops", "sources.test", 1),
        ("ops", "events.redeliver", 1),
    ]
    assert (audits[-1]["event_id"], audits[-1]["destination"]) == (live, "archive")
    failures = [r for r in gw.log_records() if r["event"] == "admin_login_failed"]
    assert [f["reason"] for f in failures] == ["missing", "invalid"]
    text = gw.log_text()
    for secret in (ADMIN_TOKEN, VIEWER_TOKEN, WRONG_TOKEN, STRIPE_SECRET):
        assert secret not in text


class _Listener:
    """A live stream read in a thread from the moment it is connected, until it has
    `count` items (kind, data)."""

    def __init__(self, gw: Admin, params: dict[str, str], count: int) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._listen, args=(gw, params, count), daemon=True)
        self._thread.start()
        assert self._connected.wait(10)

    def _listen(self, gw: Admin, params: dict[str, str], count: int) -> None:
        with httpx.stream(
            "GET", f"{gw.api}/stream", params=params, headers=bearer(VIEWER_TOKEN), timeout=20
        ) as s:
            assert s.headers["content-type"].startswith("text/event-stream")
            kind = ""
            for line in s.iter_lines():
                if line == ": connected":
                    self._connected.set()
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self.items.append((kind, json.loads(line[6:])))
                    if len(self.items) == count:
                        return

    def received(self) -> list[tuple[str, dict[str, Any]]]:
        self._thread.join(15)
        return self.items


def test_failed_logins_are_limited_and_the_api_can_have_its_own_port(tmp_path: Path) -> None:
    port, admin_port = free_port(), free_port()
    config = admin_config(tmp_path, port, free_port(), extra=f"port = {admin_port}")
    gw = started(tmp_path, config, port, admin_port=admin_port)
    try:
        assert httpx.get(f"{gw.url}/api/v1/whoami", headers=bearer(ADMIN_TOKEN)).status_code == 404
        assert gw.get("/whoami", token=ADMIN_TOKEN).json()["name"] == "ops"
        statuses = [gw.get("/whoami", token=WRONG_TOKEN).status_code for _ in range(11)]
        assert statuses == [401] * 10 + [429]
        limited = gw.get("/whoami", token=ADMIN_TOKEN)  # the right token too, until it refills
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 6
        assert limited.json()["error"]["code"] == "rate_limited"
        started_line = next(r for r in gw.log_records() if r["event"] == "started")
        assert started_line["admin_url"] == f"http://127.0.0.1:{admin_port}/api/v1/"
        limits = eventually(
            lambda: (
                len(found := [r for r in gw.log_records() if r["event"] == "admin_login_limited"]) == 2
                and found
            )
        )
        assert [r["client"] for r in limits] == ["127.0.0.1"] * 2
        assert WRONG_TOKEN not in gw.log_text()
    finally:
        gw.stop()


def test_without_tokens_there_is_no_admin_api(served: Served) -> None:
    for path in ("/api/v1/openapi.json", "/api/v1/sources", "/api/", "/console/"):
        answer = httpx.get(f"{served.url}{path}", headers=bearer(ADMIN_TOKEN))
        assert answer.status_code == 404, path
