"""Router rules in configuration: validation with the offending key, routing at ingest,
archive retention, replay routes, and the `hookgate rules` commands."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.app import create_app
from gateway.aws_lambda import create_handler
from gateway.cli import main
from gateway.config import Settings, parse_settings
from gateway.errors import ConfigError
from gateway.events import Event
from gateway.router.bus import Bus, replay_route, route_events
from gateway.router.cli import match_event_pattern, rules
from gateway.router.rules import BusSettings
from gateway.sinks import SINKS, Sink
from gateway.store import RetryPolicy

from .._fakes import make_event

pytestmark = pytest.mark.anyio

BUS: dict[str, Any] = {
    "type": "router",
    "archive": {"retention_days": 2, "event_pattern": '{"source": ["hookgate.stripe"]}'},
    "rules": {
        "paid": {
            "event_pattern": {"detail-type": ["invoice.paid"]},
            "targets": [
                {"id": "a", "type": "jsonl", "path": "a.jsonl"},
                {
                    "id": "b",
                    "type": "jsonl",
                    "path": "b.jsonl",
                    "input_path": "$.detail.metadata",
                    "retry_policy": {"maximum_retry_attempts": 3, "maximum_event_age_seconds": 600},
                },
            ],
        },
        "everything": {
            "event_pattern": '{"source": [{"prefix": "hookgate."}]}',
            "targets": [
                {
                    "id": "c",
                    "type": "jsonl",
                    "path": "c.jsonl",
                    "input_transformer": {
                        "input_paths_map": {"type": "$.detail-type"},
                        "input_template": '"<aws.events.rule-name>: <type>"',
                    },
                }
            ],
        },
        "off": {"event_pattern": {"source": ["hookgate.stripe"]}, "enabled": False, "targets": []},
    },
}


def settings(bus: dict[str, Any] | None = None, **sinks: Any) -> Settings:
    return parse_settings({"sinks": {"bus": bus or BUS, **sinks}}, env={})


def error(bus: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        settings(bus)
    return info.value


def with_rule(rule: dict[str, Any]) -> dict[str, Any]:
    return {"type": "router", "rules": {"r": rule}}


def test_a_bus_is_configured_beside_the_sinks_not_as_one() -> None:
    loaded = parse_settings(
        {
            "sources": {"stripe": {"connector": "stripe", "secrets": ["whsec_x"]}},
            "sinks": {"archive": {"type": "stdout"}, "bus": BUS, "copy": {"type": "stdout"}},
        },
        env={},
    )
    assert list(loaded.sinks) == ["archive", "copy"]
    assert list(loaded.buses) == ["bus"]
    assert loaded.buses["bus"].archive is not None
    assert loaded.sources["stripe"].sinks == ("archive", "bus", "copy")  # every one, in the file's order
    assert "router" not in SINKS.available()
    with pytest.raises(ConfigError, match=r"known: eventbridge, .*router") as info:
        settings({"type": "fax"})
    assert info.value.key == "sinks.bus.type"


def test_lambda_mode_refuses_a_bus() -> None:
    with pytest.raises(ConfigError, match="a router needs a hookgate store") as info:
        create_handler(settings(archive={"type": "stdout"}), env={})
    assert info.value.key == "sinks.bus.type"


def test_the_router_commands_are_registered_on_the_main_group() -> None:
    assert main.commands["rules"] is rules
    assert main.commands["test-event-pattern"] is match_event_pattern


def test_every_bus_key_is_documented() -> None:
    configuration = (Path(__file__).resolve().parents[3] / "docs" / "configuration.md").read_text()
    part = configuration.split('### `type = "router"`', 1)[1].split("\n### ", 1)[0]
    for key in BusSettings.model_fields:
        assert f"| `{key}` |" in part, f"router key {key} is not documented"


def test_a_bus_is_built_from_configuration() -> None:
    bus = Bus("bus", settings().buses["bus"])
    assert sorted(bus.targets()) == ["bus/everything/c", "bus/paid/a", "bus/paid/b"]
    assert bus.policies()["bus/paid/b"] == RetryPolicy(4, 600.0)
    assert bus.policies()["bus/paid/a"] == RetryPolicy(186, 86_400.0)  # EventBridge's defaults


@pytest.mark.parametrize(
    ("bus", "key", "message"),
    [
        (with_rule({"targets": []}), "sinks.bus.rules.r.event_pattern", "needs an event pattern"),
        (
            with_rule({"event_pattern": {"source": "x"}}),
            "sinks.bus.rules.r.event_pattern",
            "",
        ),
        (
            with_rule({"event_pattern": {"source": ["x"]}, "targets": [{"id": "t", "type": "fax"}]}),
            "sinks.bus.rules.r.targets[0].type",
            "unknown target type 'fax'",
        ),
        (
            with_rule(
                {
                    "event_pattern": {"source": ["x"]},
                    "targets": [{"id": "t", "type": "jsonl", "path": "p", "colour": "red"}],
                }
            ),
            "sinks.bus.rules.r.targets[0].colour",
            "unknown key",
        ),
        (
            with_rule(
                {
                    "event_pattern": {"source": ["x"]},
                    "targets": [{"id": f"t{i}", "type": "jsonl", "path": "p"} for i in range(6)],
                }
            ),
            "sinks.bus.rules.r.targets",
            "at most 5 targets",
        ),
        (
            with_rule(
                {
                    "event_pattern": {"source": ["x"]},
                    "targets": [{"id": "t", "type": "jsonl", "path": "p"}] * 2,
                }
            ),
            "sinks.bus.rules.r.targets[1].id",
            "both named 't'",
        ),
        (
            with_rule(
                {
                    "event_pattern": {"source": ["x"]},
                    "targets": [{"id": "t", "type": "jsonl", "path": "p", "input": "{", "input_path": "$.a"}],
                }
            ),
            "sinks.bus.rules.r.targets[0].input/input_path",
            "only one of input, input_path or input_transformer",
        ),
        (
            with_rule(
                {
                    "event_pattern": {"source": ["x"]},
                    "targets": [
                        {
                            "id": "t",
                            "type": "jsonl",
                            "path": "p",
                            "retry_policy": {"maximum_retry_attempts": 186},
                        }
                    ],
                }
            ),
            "sinks.bus.rules.r.targets.0.retry_policy.maximum_retry_attempts",
            "less than or equal to 185",
        ),
        (
            {"type": "router", "rules": {"bad name!": {"event_pattern": {"source": ["x"]}}}},
            "sinks.bus.rules.bad name!",
            "rule names use",
        ),
        (
            {"type": "router", "archive": {"event_pattern": {"source": [{"nope": 1}]}}},
            "sinks.bus.archive.event_pattern",
            "",
        ),
    ],
)
def test_invalid_rules_are_refused_with_the_key(bus: dict[str, Any], key: str, message: str) -> None:
    found = error(bus)
    assert found.key == key, str(found)
    assert message in found.message


def test_target_secrets_may_be_references() -> None:
    bus = with_rule(
        {
            "event_pattern": {"source": ["x"]},
            "targets": [
                {
                    "id": "t",
                    "type": "http",
                    "url": "http://127.0.0.1:1/",
                    "signing_secret": "env:HOOK_SIGNING",
                }
            ],
        }
    )
    with pytest.raises(ConfigError, match="HOOK_SIGNING is not set") as info:
        settings(bus)
    assert info.value.key == "sinks.bus.rules.r.targets[0].signing_secret"
    spec = parse_settings({"sinks": {"bus": bus}}, env={"HOOK_SIGNING": "whsec_c2VjcmV0"}).buses["bus"]
    target = spec.rules["r"].targets[0].options
    assert target.signing_secret.get_secret_value() == "whsec_c2VjcmV0"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        ({"type": "basic", "username": "u", "password": "env:HOOK_AUTH"}, "password"),
        ({"type": "api_key", "header": "X-Api-Key", "value": "env:HOOK_AUTH"}, "value"),
    ],
)
def test_nested_target_secrets_may_be_references(auth: dict[str, str], field: str) -> None:
    bus = with_rule(
        {
            "event_pattern": {"source": ["x"]},
            "targets": [{"id": "t", "type": "http", "url": "http://127.0.0.1:1/", "auth": auth}],
        }
    )
    with pytest.raises(ConfigError, match="HOOK_AUTH is not set") as info:
        settings(bus)
    assert info.value.key == f"sinks.bus.rules.r.targets[0].auth.{field}"
    spec = parse_settings({"sinks": {"bus": bus}}, env={"HOOK_AUTH": "s3cret"}).buses["bus"]
    resolved = spec.rules["r"].targets[0].options.auth  # type: ignore[attr-defined]
    assert getattr(resolved, field).get_secret_value() == "s3cret"


def entry(event: Event) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(event.entry)
    return value


def test_route_events_sends_each_event_to_its_rules_targets_and_archives() -> None:
    bus = Bus("bus", settings().buses["bus"])
    paid = make_event(at=1000.0, detail_type="invoice.paid")
    other = make_event(at=1000.0, source="github", detail_type="push")
    routed = route_events([paid, other], ["bus", "archive"], {"bus": bus})
    assert routed is not None
    events, routes = routed
    assert routes == [
        ("archive", "bus/paid/a", "bus/paid/b", "bus/everything/c"),
        ("archive", "bus/everything/c"),
    ]
    assert events[0].keep_until == 1000.0 + 2 * 86_400  # the archive's pattern matches stripe only
    assert events[1].keep_until is None
    assert route_events([paid], ["archive"], {"bus": bus}) is None  # no router involved


def test_an_archive_without_retention_keeps_forever() -> None:
    bus = Bus("bus", settings({"type": "router", "archive": {}}).buses["bus"])
    assert bus.keep_until({"source": "x"}, 5.0) == math.inf


def test_replay_route_follows_one_rule_or_all() -> None:
    bus = Bus("bus", settings().buses["bus"])
    paid = make_event(at=1.0, detail_type="invoice.paid")
    assert replay_route([bus])(paid) == ["bus/paid/a", "bus/paid/b", "bus/everything/c"]
    assert replay_route([bus], rule="paid")(paid) == ["bus/paid/a", "bus/paid/b"]


async def test_rule_targets_render_their_input_and_replays_carry_their_name(tmp_path: Path) -> None:
    bus = Bus("bus", settings().buses["bus"])
    targets = bus.targets()
    event = make_event(at=1.0, detail_type="invoice.paid")
    c = targets["bus/everything/c"]
    assert (
        c.input.render(event.entry, entry(event), c.context, ingestion_time="t")
        == b'"everything: invoice.paid"'
    )
    a = targets["bus/paid/a"]
    assert json.loads(a.render(event).body) == entry(event)  # the whole event, as stored
    delivery = a.render(dataclasses.replace(event, replay_name="r1"))
    assert json.loads(delivery.body) == {**entry(event), "replay-name": "r1"}


async def test_the_app_dispatches_to_targets_not_to_the_bus(tmp_path: Path) -> None:
    app = create_app(settings(archive={"type": "jsonl", "path": str(tmp_path / "x.jsonl")}))
    gateway = app.gateway
    assert "bus" not in gateway.sinks
    assert {"bus/paid/a", "bus/paid/b", "bus/everything/c", "archive"} <= set(gateway.sinks)
    assert gateway.store is not None
    assert gateway.store.policy("bus/paid/b") == RetryPolicy(4, 600.0)
    assert gateway.buses["bus"].name == "bus"
    assert not isinstance(gateway.buses["bus"], Sink)  # nothing is delivered to the bus itself


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "hookgate.toml"
    config.write_text(
        f"""
[store]
url = "sqlite:///{tmp_path / "h.db"}"

[sinks.bus]
type = "router"

[sinks.bus.rules.paid]
event_pattern = '{{"detail-type": ["invoice.paid"]}}'

[[sinks.bus.rules.paid.targets]]
id = "hook"
type = "http"
url = "http://127.0.0.1:9/"
input_transformer = {{ input_paths_map = {{ t = "$.detail-type" }}, input_template = '{{"type": <t>}}' }}

[sinks.bus.rules.quiet]
event_pattern = '{{"source": ["nothing"]}}'
enabled = false
"""
    )
    return config


def test_rules_list_and_test_commands(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    checked = CliRunner().invoke(main, ["check-config", "--config", config])
    assert "sink bus: router (2 rule(s), 1 target(s))" in checked.output
    listed = CliRunner().invoke(main, ["rules", "list", "--config", config])
    assert listed.exit_code == 0, listed.output
    assert "bus/paid  enabled" in listed.output
    assert "bus/quiet  disabled" in listed.output
    assert "hook  (http)" in listed.output

    event = json.dumps({"source": "hookgate.stripe", "detail-type": "invoice.paid", "detail": {}})
    tested = CliRunner().invoke(main, ["rules", "test", "--config", config, "--event", event])
    assert tested.exit_code == 0, tested.output
    results = [json.loads(line) for line in tested.output.splitlines()]
    assert results[0] == {
        "bus": "bus",
        "rule": "paid",
        "enabled": True,
        "matched": True,
        "targets": {"hook": {"type": "invoice.paid"}},
    }
    assert results[1]["matched"] is False
    only = CliRunner().invoke(
        main, ["rules", "test", "--config", config, "--event", event, "--rule", "bus/quiet"]
    )
    assert [json.loads(line)["rule"] for line in only.output.splitlines()] == ["quiet"]
    bad = CliRunner().invoke(main, ["rules", "test", "--config", config, "--event", "[1]"])
    assert bad.exit_code == 2
    assert "invalid event" in bad.output


def test_the_serving_gateway_counts_each_rules_matches(tmp_path: Path) -> None:
    gateway = create_app(settings(archive={"type": "jsonl", "path": str(tmp_path / "x.jsonl")})).gateway
    paid = make_event(at=1.0, detail_type="invoice.paid")
    other = make_event(at=1.0, source="github", detail_type="push")
    nothing = dataclasses.replace(other, entry=json.dumps({**entry(other), "source": "elsewhere"}))
    gateway.route([paid, other, nothing], ["bus"])

    def matched(rule: str) -> float | None:
        return gateway.metrics.registry.get_sample_value(
            "hookgate_router_matched_events_total", {"bus": "bus", "rule": rule}
        )

    assert (matched("paid"), matched("everything"), matched("")) == (1.0, 2.0, 1.0)
    assert matched("off") is None  # a disabled rule matches nothing
