"""The command line through click's `CliRunner`, over real SQLite stores: `--json` documents,
`events show` references, `events list` filters, JSON input as `@FILE` or stdin, help text."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from gateway.cli import main
from gateway.cli_reference import render
from gateway.config import DispatcherSettings, StoreSettings
from gateway.events import Event
from gateway.store import Settlement, open_store

from ._fakes import make_event

ROOT = Path(__file__).resolve().parents[2]

#: RFC 3339, UTC, milliseconds: what every time in a JSON document looks like.
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
EVENT = {"source": "hookgate.stripe", "detail-type": "invoice.paid", "detail": {}}
PATTERN = {"detail-type": ["invoice.paid"]}


@dataclass
class Stored:
    """A configuration over a SQLite store holding three events, one of them dead-lettered."""

    config: Path
    paid: Event
    push: Event
    failed: Event

    def run(self, *args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(main, [*args, "--config", str(self.config)], input=stdin)

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "hookgate.toml"
    config.write_text(
        f"""
[store]
url = "sqlite:///{tmp_path / "hookgate.db"}"

[sources.stripe]
connector = "stripe"
secrets = ["whsec_test"]
sinks = ["archive", "bus"]

[sinks.archive]
type = "jsonl"
path = "{tmp_path / "events.jsonl"}"

[sinks.bus]
type = "router"

[sinks.bus.rules.paid]
description = "Paid invoices"
event_pattern = '{json.dumps(PATTERN)}'

[[sinks.bus.rules.paid.targets]]
id = "hook"
type = "http"
url = "http://127.0.0.1:9/"
"""
    )
    return config


async def seed(settings: StoreSettings, events: list[Event], dead: Event) -> None:
    store = open_store(settings, DispatcherSettings(), time.time)
    await store.open()
    try:
        await store.persist(events, ["archive"])
        claimed = [c for c in await store.claim("archive", 10) if c.event.id == dead.id]
        await store.settle("archive", claimed, [Settlement(dead.id, "permanent", "http_410")])
    finally:
        await store.close()


@pytest.fixture
def stored(tmp_path: Path) -> Stored:
    now = time.time()
    paid = make_event(at=now - 3, key="evt_paid_1")
    push = make_event(at=now - 2, source="github", detail_type="push")
    failed = make_event(at=now - 1, detail_type="invoice.payment_failed", key="evt_failed_1")
    config = write_config(tmp_path)
    asyncio.run(
        seed(StoreSettings(url=f"sqlite:///{tmp_path / 'hookgate.db'}"), [paid, push, failed], failed)
    )
    return Stored(config, paid, push, failed)


# -- events list ---------------------------------------------------------------------------


def test_events_list_json_is_one_document_with_deliveries_nested(stored: Stored) -> None:
    document = stored.json("events", "list")
    assert list(document) == ["events"]
    rows = document["events"]
    assert [row["id"] for row in rows] == [stored.failed.id, stored.push.id, stored.paid.id]
    failed = rows[0]
    assert set(failed) == {
        "id",
        "source",
        "detail_type",
        "dedup_key",
        "provider_event_id",
        "received_at",
        "deliveries",
    }
    assert (failed["source"], failed["detail_type"], failed["dedup_key"]) == (
        "stripe",
        "invoice.payment_failed",
        "evt_failed_1",
    )
    assert RFC3339.fullmatch(failed["received_at"])
    [delivery] = failed["deliveries"]
    assert delivery["id"] == f"{stored.failed.id}/archive"
    assert (delivery["event_id"], delivery["sink"], delivery["state"]) == (
        stored.failed.id,
        "archive",
        "dead",
    )
    assert delivery["status"] == "dead"
    assert (delivery["attempts"], delivery["last_cause"]) == (1, "http_410")
    assert RFC3339.fullmatch(delivery["due_at"])
    assert RFC3339.fullmatch(delivery["updated_at"])


def test_events_list_filters(stored: Stored) -> None:
    def ids(*args: str) -> list[str]:
        return [row["id"] for row in stored.json("events", "list", *args)["events"]]

    assert ids("--detail-type", "push") == [stored.push.id]
    assert ids("--provider-id", "evt_paid_1") == [stored.paid.id]
    assert ids("--dedup-key", "evt_paid_1") == [stored.paid.id]
    assert ids("--state", "dead", "--sink", "archive") == [stored.failed.id]
    assert ids("--state", "dead", "--sink", "bus") == []
    assert ids("--state", "forwarding") == [stored.push.id, stored.paid.id]
    assert ids("--sink", "archive", "--source", "stripe", "--limit", "1") == [stored.failed.id]
    assert ids("--since", "1h", "--detail-type", "invoice.paid") == [stored.paid.id]
    refused = stored.run("events", "list", "--state", "lost")
    assert refused.exit_code == 2
    assert "'lost' is not one of" in refused.output


def test_events_list_as_text_is_a_line_per_event(stored: Stored) -> None:
    result = stored.run("events", "list", "--state", "dead")
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert line.startswith(f"{stored.failed.id}  ")
    assert line.endswith("archive=dead")


# -- events show ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference",
    [
        "id",
        "prefix",
        "provider id",
        "delivery id",
    ],
)
def test_events_show_accepts_an_id_a_prefix_a_provider_id_or_a_delivery_id(
    stored: Stored, reference: str
) -> None:
    event = stored.failed
    given = {
        "id": event.id,
        "prefix": event.id[:-6],
        "provider id": "evt_failed_1",
        "delivery id": f"{event.id}/archive",
    }[reference]
    shown = stored.json("events", "show", given)
    assert shown["id"] == event.id
    assert shown["event"] == json.loads(event.entry)
    assert shown["archived_until"] is None
    assert [d["id"] for d in shown["deliveries"]] == [f"{event.id}/archive"]
    # Every attempt, as the admin API shows it: the one that was refused for good.
    [attempt] = shown["deliveries"][0].pop("attempt_log")
    assert (attempt["attempt"], attempt["outcome"], attempt["cause"]) == (1, "permanent", "http_410")
    assert RFC3339.fullmatch(attempt["at"])
    # The summary's fields, under the same names as in a list.
    [listed] = stored.json("events", "list", "--state", "dead")["events"]
    assert {key: shown[key] for key in listed} == listed
    # Without --json: the same document.
    again = json.loads(stored.run("events", "show", given).stdout)
    assert again["deliveries"][0].pop("attempt_log") == [attempt]
    assert again == shown


def test_events_show_of_an_ambiguous_prefix_lists_the_candidates(stored: Stored) -> None:
    prefix = stored.paid.id[:4]  # the same few seconds: every event shares it
    result = stored.run("events", "show", prefix)
    assert result.exit_code == 2
    assert f"'{prefix}' names 3 events; give one id:" in result.stderr
    for event in (stored.paid, stored.push, stored.failed):
        assert event.id in result.stderr
    assert "evt_paid_1" in result.stderr
    assert result.stdout == ""


def test_events_show_of_nothing_known_exits_1(stored: Stored) -> None:
    for reference in ("evt_unknown", "ffff", f"{stored.paid.id}/nowhere"):
        result = stored.run("events", "show", reference)
        assert result.exit_code == 1
        store = f"sqlite:///{stored.config.parent / 'hookgate.db'}"
        assert result.stderr == f"hookgate: no event matches {reference!r} in {store}\n"


# -- the dead-letter store, replay -----------------------------------------------------------


def test_dlq_list_redrive_and_replay_as_json(stored: Stored) -> None:
    [dead] = stored.json("dlq", "list")["dead_letters"]
    assert dead == {
        "id": f"{stored.failed.id}/archive",
        "event_id": stored.failed.id,
        "sink": "archive",
        "source": "stripe",
        "detail_type": "invoice.payment_failed",
        "attempts": 1,
        "last_cause": "http_410",
        "received_at": dead["received_at"],
        "updated_at": dead["updated_at"],
    }
    assert RFC3339.fullmatch(dead["received_at"])
    assert stored.json("dlq", "list", "--sink", "bus") == {"dead_letters": []}
    assert stored.json("dlq", "redrive", "--all") == {"redriven": 1}
    assert stored.json("dlq", "list") == {"dead_letters": []}

    replayed = stored.json("replay", "--from", "1h", "--sink", "archive")
    assert replayed == {"replayed": 3, "name": None, "sinks": ["archive"], "rules": []}
    routed = stored.json("replay", "--from", "1h", "--rule", "paid", "--name", "fix-1")
    assert routed == {"replayed": 3, "name": "fix-1", "sinks": [], "rules": ["bus/paid"]}


# -- configuration: rules, connectors --------------------------------------------------------


def test_rules_list_and_connectors_as_json(stored: Stored) -> None:
    assert stored.json("rules", "list") == {
        "rules": [
            {
                "bus": "bus",
                "name": "paid",
                "enabled": True,
                "description": "Paid invoices",
                "event_pattern": PATTERN,
                "targets": [{"id": "hook", "type": "http", "maximum_retry_attempts": 185}],
            }
        ]
    }
    result = CliRunner().invoke(main, ["connectors", "--json"])
    assert result.exit_code == 0, result.output
    found = {c["name"]: c for c in json.loads(result.stdout)["connectors"]}
    stripe = found["stripe"]
    assert set(stripe) == {"name", "summary", "options"}
    options = {o["key"]: o for o in stripe["options"]}
    assert set(options["secrets"]) == {"key", "type", "required", "default", "description"}


def test_rules_test_as_one_document(stored: Stored) -> None:
    document = stored.json("rules", "test", "--event", json.dumps(EVENT))
    assert document == {
        "results": [
            {"bus": "bus", "rule": "paid", "enabled": True, "matched": True, "targets": {"hook": EVENT}}
        ]
    }


# -- JSON input: inline, @FILE, stdin --------------------------------------------------------


@pytest.mark.parametrize("form", ["inline", "@FILE", "-", "@-"])
def test_an_event_is_taken_inline_from_a_file_or_from_stdin(
    stored: Stored, tmp_path: Path, form: str
) -> None:
    text = json.dumps(EVENT)
    (tmp_path / "event.json").write_text(text)
    given = {"inline": text, "@FILE": f"@{tmp_path / 'event.json'}", "-": "-", "@-": "@-"}[form]
    stdin = text if form in {"-", "@-"} else None
    tested = stored.run("rules", "test", "--event", given, "--json", stdin=stdin)
    assert tested.exit_code == 0, tested.output
    assert json.loads(tested.stdout)["results"][0]["matched"] is True


@pytest.mark.parametrize("which", ["--event-pattern", "--event"])
def test_test_event_pattern_takes_the_pattern_and_the_event_from_files(tmp_path: Path, which: str) -> None:
    (tmp_path / "pattern.json").write_text(json.dumps(PATTERN))
    (tmp_path / "event.json").write_text(json.dumps(EVENT))
    inline = {"--event-pattern": json.dumps(PATTERN), "--event": json.dumps(EVENT)}
    path = tmp_path / ("pattern.json" if which == "--event-pattern" else "event.json")
    from_file = {**inline, which: f"@{path}"}
    result = CliRunner().invoke(main, ["test-event-pattern", *(x for kv in from_file.items() for x in kv)])
    assert (result.exit_code, result.output) == (0, '{"Result": true}\n')
    from_stdin = {**inline, which: "-"}
    piped = CliRunner().invoke(
        main, ["test-event-pattern", *(x for kv in from_stdin.items() for x in kv)], input=inline[which]
    )
    assert (piped.exit_code, piped.output) == (0, '{"Result": true}\n')


def test_an_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = CliRunner().invoke(
        main, ["test-event-pattern", "--event-pattern", f"@{missing}", "--event", "{}"]
    )
    assert result.exit_code == 2
    assert f"cannot read {str(missing)!r}" in result.stderr


# -- help ------------------------------------------------------------------------------------


def _walk(command: click.Command, path: str = "hookgate") -> list[tuple[str, click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            found.extend(_walk(sub, f"{path} {name}"))
    return found


def test_every_command_and_option_has_help_text() -> None:
    missing = []
    for path, command in _walk(main):
        if not (command.help or command.short_help):
            missing.append(path)
        missing.extend(
            f"{path} {param.opts[0]}"
            for param in command.params
            if isinstance(param, click.Option) and not param.hidden and not param.help
        )
    assert not missing, f"no help text: {', '.join(missing)}"


def test_every_list_and_show_command_takes_json() -> None:
    commands = dict(_walk(main))
    for path in (
        "hookgate events list",
        "hookgate events show",
        "hookgate dlq list",
        "hookgate dlq redrive",
        "hookgate replay",
        "hookgate rules list",
        "hookgate rules test",
        "hookgate connectors",
    ):
        assert "--json" in {opt for p in commands[path].params for opt in p.opts}, path


# -- the reference, completion ---------------------------------------------------------------


def test_the_cli_reference_is_current() -> None:
    page = ROOT / "docs" / "cli.md"
    assert page.read_text(encoding="utf-8") == render(), (
        "docs/cli.md is out of date with the commands: regenerate it with "
        "`python -m gateway.cli_reference docs/cli.md`"
    )
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/cli.md)" in readme, "README.md does not link docs/cli.md"


@pytest.mark.parametrize(
    ("shell", "marker"), [("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete")]
)
def test_shell_completion_scripts_come_from_the_documented_variable(shell: str, marker: str) -> None:
    assert f"_HOOKGATE_COMPLETE={shell}_source hookgate" in render()
    result = CliRunner().invoke(main, [], prog_name="hookgate", env={"_HOOKGATE_COMPLETE": f"{shell}_source"})
    assert result.exit_code == 0, result.output
    assert marker in result.output
    assert "_HOOKGATE_COMPLETE" in result.output


def test_completion_offers_the_commands_and_the_states() -> None:
    def complete(*words: str) -> list[str]:
        env = {
            "_HOOKGATE_COMPLETE": "bash_complete",
            "COMP_WORDS": " ".join(["hookgate", *words]),
            "COMP_CWORD": str(len(words)),
        }
        result = CliRunner().invoke(main, [], prog_name="hookgate", env=env)
        assert result.exit_code == 0, result.output
        return [line.split(",", 1)[1] for line in result.output.splitlines()]

    assert {"list", "show"} <= set(complete("events", ""))
    assert "dead" in complete("events", "list", "--state", "")
