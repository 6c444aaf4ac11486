"""The `bus` target (another local bus, with loop protection) and the settings of the buses'
EventBridge API: what one bus cannot check alone, and secret references in credentials."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.config import parse_settings
from gateway.errors import ConfigError, StoreError
from gateway.events import Event
from gateway.router.targets import Delivery, target_types
from gateway.router.targets._bus import BusTarget, buses_before
from gateway.sinks import Delivered, Permanent, Retry
from gateway.store import PersistResult

from .._fakes import make_event

pytestmark = pytest.mark.anyio

NOW = 1_795_000_000.0


class Published:
    """A stand-in for the gateway's inbox: what was put on which bus."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, list[Event]]] = []
        self.fail = fail

    async def __call__(self, bus: str, events: Sequence[Event]) -> list[PersistResult]:
        if self.fail:
            raise StoreError("disk full")
        self.calls.append((bus, list(events)))
        return [PersistResult(e.id, False) for e in events]


def target(name: str = "shop/orders/audit", **options: Any) -> tuple[BusTarget, Published]:
    built = target_types()["bus"].from_config(name, {"event_bus": "audit", **options})
    assert isinstance(built, BusTarget)
    published = Published()
    built.publish = published
    return built, published


def delivery(event: Event, body: Any = None) -> Delivery:
    return Delivery(event, (event.entry if body is None else json.dumps(body)).encode())


async def test_the_event_arrives_on_the_other_bus_as_a_new_event() -> None:
    sent, published = target()
    event = make_event(at=NOW)
    assert await sent.send([delivery(event)]) == [Delivered()]
    [(bus, [arrived])] = published.calls
    assert bus == "audit"
    entry, original = json.loads(arrived.entry), json.loads(event.entry)
    assert arrived.id != event.id
    assert entry["id"] == arrived.id
    assert {k: v for k, v in entry.items() if k != "id"} == {k: v for k, v in original.items() if k != "id"}
    assert (arrived.source, arrived.dedup_key, arrived.detail_type) == (
        "bus:shop",
        f"{event.id}/shop/orders/audit",
        "invoice.paid",
    )
    assert buses_before(arrived) == ["shop"]
    # a replay's delivery is a new event, not a duplicate of the first one
    await sent.send([delivery(replace(event, replay_name="fix-1"))])
    assert published.calls[1][1][0].dedup_key == f"{event.id}/shop/orders/audit/fix-1"


async def test_a_transformed_input_must_be_an_event() -> None:
    sent, published = target()
    event = make_event(at=NOW)
    made = {"source": "com.example.audit", "detail-type": "Audited", "detail": {"of": event.id}}
    refused = [{"detail": {}}, {"source": "s", "detail-type": "t", "detail": [1]}, "text", {"source": 1}]
    outcomes = await sent.send([delivery(event, made), *(delivery(event, body) for body in refused)])
    assert outcomes[0] == Delivered()
    assert all(isinstance(o, Permanent) and o.cause.startswith("input_error: ") for o in outcomes[1:])
    [(_, [arrived])] = published.calls
    assert json.loads(arrived.entry) == {**made, "version": "0", "id": arrived.id, "resources": []}


async def test_loops_and_hops_beyond_the_limit_are_dead_lettered() -> None:
    event = make_event(at=NOW)
    on_audit = replace(event, source="bus:shop")
    back, published = target("audit/everything/back", event_bus="shop", max_hops=5)
    [looped] = await back.send([delivery(on_audit)])
    assert isinstance(looped, Permanent)
    assert looped.cause == "loop: the event was already on bus shop (shop -> audit)"
    onward, _ = target("audit/everything/onward", event_bus="archive")
    [too_far] = await onward.send([delivery(on_audit)])
    assert isinstance(too_far, Permanent)
    assert too_far.cause.startswith("too_many_hops: shop -> audit -> archive is more than 1 hop")
    allowed, published = target("audit/everything/onward", event_bus="archive", max_hops=2)
    assert await allowed.send([delivery(on_audit)]) == [Delivered()]
    assert published.calls[0][1][0].source == "bus:shop,audit"


async def test_a_store_that_fails_is_retried() -> None:
    sent, _ = target()
    sent.publish = Published(fail=True)
    [outcome] = await sent.send([delivery(make_event(at=NOW))])
    assert isinstance(outcome, Retry)
    assert outcome.cause.startswith("store_unavailable")
    sent.publish = None
    [outcome] = await sent.send([delivery(make_event(at=NOW))])
    assert isinstance(outcome, Retry)
    assert not outcome.charge


def buses(shop: dict[str, Any] | None = None, audit: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "sinks": {
            "shop": {"type": "router", **(shop or {})},
            "audit": {"type": "router", **(audit or {})},
        }
    }


def rule_to(bus: str) -> dict[str, Any]:
    return {
        "rules": {
            "all": {
                "event_pattern": {"source": ["s"]},
                "targets": [{"id": "t", "type": "bus", "event_bus": bus}],
            }
        }
    }


BUS_SECRET = "bus-secret"


def api(key: str = "AKIAHOOKGATETEST01", secret: str = BUS_SECRET, **more: Any) -> dict[str, Any]:
    return {"api": {"credentials": [{"access_key_id": key, "secret_access_key": secret}], **more}}


@pytest.mark.parametrize(
    ("raw", "key", "message"),
    [
        (buses(rule_to("missing")), "sinks.shop.rules.all.targets[0].event_bus", "no bus named 'missing'"),
        (buses(rule_to("shop")), "sinks.shop.rules.all.targets[0].event_bus", "its own target"),
        (buses(api(default=True), api(default=True)), "sinks.audit.api.default", "already the default bus"),
        (buses(api(), api(secret="other")), "sinks.audit.api.credentials", "another secret"),
        (buses({"api": {"credentials": []}}), "sinks.shop.api.credentials", "at least 1"),
        (buses(api(key="short")), "sinks.shop.api.credentials.0.access_key_id", "pattern"),
    ],
)
def test_what_the_buses_must_agree_on(raw: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(raw, env={})
    assert raised.value.key == key
    assert message in raised.value.message


def test_two_defaults_at_different_paths_and_secret_references(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("from-a-file\n")
    raw = buses(
        api(secret="env:SHOP_SECRET", default=True), api(secret="file:secret", default=True, path="/audit")
    )
    settings = parse_settings(raw, env={"SHOP_SECRET": "from-the-env"}, base_dir=tmp_path)
    secrets = {
        name: bus.api.credentials[0].secret_access_key.get_secret_value()
        for name, bus in settings.buses.items()
        if bus.api is not None
    }
    assert secrets == {"shop": "from-the-env", "audit": "from-a-file"}
    with pytest.raises(ConfigError) as raised:
        parse_settings(buses(api(secret="env:UNSET")), env={})
    assert raised.value.key == "sinks.shop.api.credentials[0].secret_access_key"


def test_the_gateway_connects_its_bus_targets_and_serves_the_api_at_its_paths(tmp_path: Path) -> None:
    raw = buses({**rule_to("audit"), **api(default=True)}, api(path="/audit", key="AKIAHOOKGATETEST02"))
    raw["store"] = {"url": f"sqlite:///{tmp_path / 'hookgate.db'}"}
    app = create_app(parse_settings(raw, env={}))
    [sent] = [s for name, s in app.gateway.sinks.items() if name == "shop/all/t"]
    assert getattr(sent, "target").publish is not None  # noqa: B009 - a RuleTarget's target
    assert sorted(app._apis) == ["/", "/audit"]
