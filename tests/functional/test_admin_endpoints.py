"""The admin API's endpoints in-process, over the real app and a real SQLite store: dead
letters (filters, pages, redrive by ids, filter and all, dry runs), replays, sources and
their test webhook, the rules tester, and the live stream's feed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from gateway import views
from gateway.app import GatewayApp, create_app
from gateway.config import Settings, parse_settings
from gateway.events import Event
from gateway.sinks import MemorySink
from gateway.store import DeadLetter, Settlement, Store
from tests.helpers.edge import STRIPE_SECRET
from tests.unit._fakes import make_event

pytestmark = pytest.mark.anyio

ADMIN = "admin-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
RULE_PATTERN = {"detail-type": ["invoice.paid"]}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return parse_settings(
        {
            "server": {"public_url": "https://hooks.example.com"},
            "store": {"url": f"sqlite:///{tmp_path / 'hookgate.db'}"},
            "sources": {
                "stripe": {"connector": "stripe", "secrets": [STRIPE_SECRET], "sinks": ["mem", "bus"]},
                "github": {"connector": "github", "secrets": ["github-secret"], "sinks": ["mem"]},
            },
            "sinks": {
                "mem": {"type": "memory"},
                "bus": {
                    "type": "router",
                    "rules": {
                        "paid": {
                            "event_pattern": json.dumps(RULE_PATTERN),
                            "targets": [
                                {"id": "ledger", "type": "jsonl", "path": str(tmp_path / "ledger.jsonl")}
                            ],
                        }
                    },
                },
            },
            "admin": {
                "tokens": [
                    {"name": "ops", "token": ADMIN, "role": "admin"},
                    {"name": "support", "token": VIEWER, "role": "viewer"},
                ]
            },
        },
        env={},
    )


@dataclass
class Admin:
    app: GatewayApp
    client: httpx.AsyncClient
    sink: MemorySink

    @property
    def store(self) -> Store:
        assert self.app.gateway.store is not None
        return self.app.gateway.store

    async def get(self, path: str, token: str = VIEWER, **params: Any) -> httpx.Response:
        return await self.client.get(
            f"/api/v1{path}", params=params, headers={"Authorization": f"Bearer {token}"}
        )

    async def post(self, path: str, body: Any = None, token: str = ADMIN) -> httpx.Response:
        return await self.client.post(
            f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture
async def admin(settings: Settings) -> AsyncIterator[Admin]:
    sink = MemorySink("mem")
    app = create_app(settings, sinks={"mem": sink})
    await app.gateway.start(dispatch=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://hooks.example.com") as client:
            yield Admin(app, client, sink)
    finally:
        await app.gateway.stop()


async def dead_letters(store: Store, events: list[Event], sink: str, cause: str) -> None:
    """`events` stored for `sink`, then failed for good there."""
    await store.persist(events, [sink])
    claimed = await store.claim(sink, 100)
    await store.settle(sink, claimed, [Settlement(c.event.id, "permanent", cause) for c in claimed])


async def test_dead_letters_are_listed_with_filters_and_pages(admin: Admin) -> None:
    now = admin.app.gateway.clock()
    stripe = [make_event(at=now) for _ in range(5)]
    github = [make_event(at=now, source="github") for _ in range(2)]
    await dead_letters(admin.store, stripe, "mem", "http_500: upstream")
    await dead_letters(admin.store, github, "mem", "rejected: 400")
    answer = await admin.get("/dead-letters")
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert len(items) == 7
    assert answer.json()["next_cursor"] is None
    assert set(items[0]) == set(views.dead_letter_view(DeadLetter("e", "s", "t", "k", 1, None, 0.0, 0.0)))
    assert items[0]["id"] == f"{items[0]['event_id']}/mem"
    assert {i["event_id"] for i in (await admin.get("/dead-letters", source="github")).json()["items"]} == {
        e.id for e in github
    }
    assert len((await admin.get("/dead-letters", cause="http_5")).json()["items"]) == 5
    assert (await admin.get("/dead-letters", since="1h")).json()["items"] != []
    assert (await admin.get("/dead-letters", until="1h")).json()["items"] == []
    seen: list[str] = []
    cursor = None
    while True:
        page = (await admin.get("/dead-letters", limit=3, **({"cursor": cursor} if cursor else {}))).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in items]
    bad = await admin.get("/dead-letters", cursor="not-a-cursor")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_query")
    bad = await admin.get("/dead-letters", since="yesterday-ish")
    assert bad.status_code == 400
    assert "since" in bad.json()["error"]["message"]


async def test_redrive_by_ids_by_filter_and_all_with_dry_runs(admin: Admin) -> None:
    now = admin.app.gateway.clock()
    stripe = [make_event(at=now) for _ in range(4)]
    github = [make_event(at=now, source="github") for _ in range(3)]
    await dead_letters(admin.store, stripe, "mem", "http_500: upstream")
    await dead_letters(admin.store, github, "mem", "rejected: 400")

    refused = await admin.post("/dead-letters/redrive", {"all": True}, token=VIEWER)
    assert refused.status_code == 403
    bad = await admin.post("/dead-letters/redrive", {"all": True, "ids": ["x"]})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_body")

    dry = await admin.post("/dead-letters/redrive", {"filter": {"source": "github"}, "dry_run": True})
    assert dry.json() == {"matched": 3, "redriven": 0, "dry_run": True}
    assert len(await admin.store.list_dead()) == 7  # a dry run changes nothing

    with capture_logs() as logs:
        done = await admin.post("/dead-letters/redrive", {"filter": {"source": "github"}})
    assert done.json() == {"matched": 3, "redriven": 3, "dry_run": False}
    [audit] = [entry for entry in logs if entry["event"] == "audit"]
    assert audit == {
        "event": "audit",
        "log_level": "info",
        "who": "ops",
        "action": "dead_letters.redrive",
        "count": 3,
        "filter": {"source": "github"},
    }
    assert {d.source for d in await admin.store.list_dead()} == {"stripe"}

    ids = [f"{stripe[0].id}/mem", stripe[1].id, "no-such-event", f"{stripe[2].id}/other"]
    dry = await admin.post("/dead-letters/redrive", {"ids": ids, "dry_run": True})
    assert dry.json()["matched"] == 2
    assert (await admin.post("/dead-letters/redrive", {"ids": ids})).json()["redriven"] == 2
    assert (await admin.post("/dead-letters/redrive", {"all": True, "dry_run": True})).json()["matched"] == 2
    assert (await admin.post("/dead-letters/redrive", {"all": True})).json()["redriven"] == 2
    assert await admin.store.list_dead() == []


async def test_a_replay_is_started_and_followed(admin: Admin) -> None:
    now = admin.app.gateway.clock()
    events = [make_event(at=now - 60) for _ in range(3)]
    await admin.store.persist(events, ["mem"])
    refused = await admin.post("/replays", {"from": "1h"}, token=VIEWER)
    assert refused.status_code == 403
    unknown = await admin.post("/replays", {"from": "1h", "source": "nope"})
    assert unknown.status_code == 400
    assert "no source 'nope'" in unknown.json()["error"]["message"]
    with capture_logs() as logs:
        started = await admin.post(
            "/replays", {"from": "1h", "source": "stripe", "rule": "paid", "name": "fix-1"}
        )
        assert started.status_code == 202, started.text
        replay = started.json()
        assert replay["name"] == "fix-1"
        assert replay["rules"] == ["bus/paid"]
        assert replay["sinks"] == []
        assert replay["started_by"] == "ops"
        for _ in range(100):
            listed = (await admin.get("/replays")).json()["replays"]
            if listed[0]["state"] != "running":
                break
            await asyncio.sleep(0.01)
    assert listed[0]["id"] == replay["id"]
    assert (listed[0]["state"], listed[0]["done"], listed[0]["total"]) == ("done", 3, 3)
    assert (await admin.get(f"/replays/{replay['id']}")).json()["state"] == "done"
    assert (await admin.get("/replays/nope")).status_code == 404
    [audit] = [entry for entry in logs if entry["event"] == "audit"]
    assert (audit["who"], audit["action"], audit["count"], audit["rules"]) == (
        "ops",
        "replays.start",
        3,
        ["bus/paid"],
    )
    for event in events:  # queued again for the rule's target, not for `mem`
        stored = await admin.store.get_event(event.id)
        assert stored is not None
        assert {d.sink for d in stored[1]} == {"mem", "bus/paid/ledger"}


async def test_sources_and_a_test_webhook_through_the_edge(admin: Admin) -> None:
    answer = await admin.get("/sources")
    assert answer.status_code == 200
    by_name = {s["name"]: s for s in answer.json()["sources"]}
    assert by_name["stripe"]["webhook_url"] == "https://hooks.example.com/webhooks/stripe"
    assert by_name["stripe"]["connector"] == "stripe"
    assert by_name["stripe"]["sinks"] == ["mem", "bus"]
    assert by_name["stripe"]["last_hour"] == {"events": 0}

    assert (await admin.post("/sources/stripe/test", token=VIEWER)).status_code == 403
    assert (await admin.post("/sources/nope/test")).status_code == 404
    with capture_logs() as logs:
        sent = await admin.post("/sources/stripe/test")
    assert sent.status_code == 200, sent.text
    result = sent.json()
    assert (result["status"], result["accepted"]) == (200, True)
    [event_id] = result["event_ids"]
    assert result["answer"] == {"status": "accepted", "event_ids": [event_id]}
    stored = await admin.store.get_event(event_id)
    assert stored is not None
    assert stored[0].source == "stripe"
    requests = [e for e in logs if e["event"] == "request"]
    assert requests[0]["path"] == "/webhooks/stripe"  # through the edge, logged like any delivery
    assert [e["count"] for e in logs if e["event"] == "audit"] == [1]
    assert STRIPE_SECRET not in repr(logs)
    answer = await admin.get("/sources")
    assert {s["name"]: s["last_hour"]["events"] for s in answer.json()["sources"]} == {
        "stripe": 1,
        "github": 0,
    }


async def test_rules_are_listed_and_tested(admin: Admin) -> None:
    [rule] = (await admin.get("/rules")).json()["rules"]
    assert (rule["bus"], rule["name"], rule["event_pattern"]) == ("bus", "paid", RULE_PATTERN)
    event = {"source": "hookgate.stripe", "detail-type": "invoice.paid", "detail": {"a": 1}}
    answer = await admin.post(
        "/rules/test", {"event": event}, token=VIEWER
    )  # a viewer may: it changes nothing
    assert answer.status_code == 200
    [result] = answer.json()["results"]
    assert (result["rule"], result["matched"]) == ("paid", True)
    assert result["targets"]["ledger"]["detail"] == {"a": 1}
    other = await admin.post("/rules/test", {"event": {**event, "detail-type": "charge.failed"}})
    assert other.json()["results"][0] == {
        "bus": "bus",
        "rule": "paid",
        "enabled": True,
        "matched": False,
        "targets": {},
    }
    assert (await admin.post("/rules/test", {"event": event, "rule": "bus/nope"})).status_code == 404
    assert (await admin.post("/rules/test", {"event": "not an object"})).status_code == 400


async def test_the_feed_carries_each_new_event_and_request_while_someone_listens(admin: Admin) -> None:
    feed = admin.app.gateway.feed
    assert not feed.active
    with feed.subscribe() as subscriber:
        sent = await admin.post("/sources/stripe/test")
        [event_id] = sent.json()["event_ids"]
        kind, item = subscriber.queue.get_nowait()
        assert kind == "event"
        assert item["id"] == event_id
        assert item["source"] == "stripe"
        assert item["destinations"] == ["mem"]  # a payment_intent.succeeded sample: no rule matches
        kind, accepted = subscriber.queue.get_nowait()
        assert kind == "request"
        assert (accepted["outcome"], accepted["status"], accepted["event_ids"]) == (
            "accepted",
            200,
            [event_id],
        )
        assert accepted["headers"]["stripe-signature"] == "[redacted]"
        forged = await admin.client.post(
            "/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"}
        )
        assert forged.status_code == 401
        kind, rejected = subscriber.queue.get_nowait()
        assert kind == "request"
        assert (rejected["outcome"], rejected["status"], rejected["source"]) == ("rejected", 401, "stripe")
        assert rejected["event_ids"] == []
        assert rejected["headers"]["stripe-signature"] == "[redacted]"
        assert admin.app.gateway.requests is not None
        await admin.app.gateway.requests.flush()  # a rejected one is written in the next batch
        listed = (await admin.get("/requests")).json()["items"]
        assert listed == [rejected, accepted]  # what the requests log lists, field for field
        assert subscriber.queue.empty()
    assert not feed.active


async def test_the_queue_counts_each_destinations_deliveries_and_the_oldest_ones_age(admin: Admin) -> None:
    now = admin.app.gateway.clock()
    await dead_letters(admin.store, [make_event(at=now - 30)], "mem", "http_500: upstream")
    await admin.store.persist([make_event(at=now - 120), make_event(at=now - 5)], ["mem"])
    answer = await admin.get("/queue")
    assert answer.status_code == 200
    rows = {row["sink"]: row for row in answer.json()["items"]}
    assert set(rows) >= {"mem", "bus/paid/ledger"}  # every destination, an idle one too
    mem = rows["mem"]
    assert (mem["pending"], mem["forwarding"], mem["retrying"], mem["dead"]) == (2, 0, 0, 1)
    assert 119 <= mem["oldest_pending_seconds"] <= 180
    idle = rows["bus/paid/ledger"]
    assert (idle["pending"], idle["dead"], idle["oldest_pending_seconds"]) == (0, 0, 0.0)
    assert (await admin.get("/queue", token="wrong-token-0123456789")).status_code == 401


async def test_schema_names_with_at_signs_dots_and_slashes_route_whole(admin: Admin) -> None:
    from gateway.schemas import Limits, Observation, infer, open_registry  # noqa: PLC0415

    registry = open_registry(admin.store)
    source, detail_type = "partner.example.com/1234-tickets", "Ticket Created.v1"
    for n, sample in enumerate(({"id": "t1"}, {"id": "t2", "priority": 3})):
        observed = Observation("partner", source, detail_type, infer({"payload": sample}), 1, f"evt-{n}")
        await registry.record(observed, 1_700_000_000.0 + n, max_versions=10, max_schemas=10, limits=Limits())
    name = f"{source}@TicketCreatedV1"
    encoded = name.replace("/", "%2F").replace("@", "%40")
    for written in (name, encoded):
        detail = await admin.get(f"/schemas/{written}")
        assert detail.status_code == 200, detail.text
        assert detail.json()["name"] == name
        assert [v["version"] for v in detail.json()["versions"]] == ["1", "2"]
        query = {"from": "1", "to": "2"}
        diff = (await admin.get(f"/schemas/{written}/diff", **query)).json()
        assert [c["path"] for c in diff["changes"]] == ["/payload/priority"]
        exported = (await admin.get(f"/schemas/{written}/versions/2")).json()
        assert exported["components"]["schemas"]["AWSEvent"]["x-amazon-events-source"] == source
    assert (await admin.get(f"/schemas/{encoded}/versions/3")).status_code == 404
    assert (await admin.get("/schemas/partner.example.com%2F1234-tickets")).status_code == 404
    listed = (await admin.get("/schemas", source="partner")).json()["schemas"]
    assert [s["name"] for s in listed] == [name]


async def test_an_event_is_redelivered_whatever_its_deliveries_states(admin: Admin) -> None:
    now = admin.app.gateway.clock()
    event = make_event(at=now - 60)
    await admin.store.persist([event], ["mem", "spare"])
    await admin.store.settle("mem", await admin.store.claim("mem", 10), [Settlement(event.id, "delivered")])
    claimed = await admin.store.claim("spare", 10)
    await admin.store.settle("spare", claimed, [Settlement(event.id, "permanent", "http_410: gone")])
    shown = (await admin.get(f"/events/{event.id}")).json()
    assert {d["sink"]: d["status"] for d in shown["deliveries"]} == {"mem": "delivered", "spare": "dead"}

    assert (await admin.post(f"/events/{event.id}/redeliver", {}, token=VIEWER)).status_code == 403
    assert (await admin.post(f"/events/{event.id}/redeliver", {"destination": ""})).status_code == 400
    with capture_logs() as logs:
        every = await admin.post(f"/events/{event.id}/redeliver")
    assert every.json() == {"event_id": event.id, "redelivered": ["mem", "spare"]}
    [audit] = [entry for entry in logs if entry["event"] == "audit"]
    assert (audit["who"], audit["action"], audit["count"], audit["event_id"]) == (
        "ops",
        "events.redeliver",
        2,
        event.id,
    )
    shown = (await admin.get(f"/events/{event.id}")).json()
    assert {d["sink"]: (d["state"], d["attempts"]) for d in shown["deliveries"]} == {
        "mem": ("pending", 0),
        "spare": ("pending", 0),
    }
    [mem] = [d for d in shown["deliveries"] if d["sink"] == "mem"]
    assert [a["outcome"] for a in mem["attempt_log"]] == ["delivered"]  # the earlier attempt stays
