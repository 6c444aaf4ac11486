"""The command line's safety: reading commands never create a store, and `check-config`
warns about what a valid configuration gets wrong (no source, no sink, unwritable files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.cli import main
from gateway.config import load_settings
from gateway.errors import ConfigError
from gateway.preflight import open_outputs, unwritable

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_ID = "0190b3a4-0000-7000-8000-000000000000"
SOURCE = '[sources.stripe]\nconnector = "stripe"\nsecrets = ["whsec_test"]\n'
ARCHIVE = '[sinks.archive]\ntype = "jsonl"\npath = "events.jsonl"\n'


def hookgate(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`project/hookgate.toml` with a relative store; the current directory is elsewhere."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "hookgate.toml").write_text(f'[store]\nurl = "sqlite:///./hookgate.db"\n\n{SOURCE}\n{ARCHIVE}')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return project


def config(project: Path) -> str:
    return str(project / "hookgate.toml")


# -- commands that only read never create a store -----------------------------------------


@pytest.mark.parametrize(
    "command",
    [["events", "list"], ["events", "list", "--json"], ["events", "show", UNKNOWN_ID], ["dlq", "list"]],
)
def test_a_missing_store_is_one_line_naming_it_and_stays_missing(project: Path, command: list[str]) -> None:
    result = hookgate(*command, "--config", config(project))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"hookgate: no store at {project / 'hookgate.db'}: "
        "the file does not exist (`hookgate serve` creates it)\n"
    )
    assert sorted(p.name for p in project.iterdir()) == ["hookgate.toml"]
    assert list(Path.cwd().iterdir()) == []


def test_rules_list_reads_no_store(project: Path) -> None:
    result = hookgate("rules", "list", "--config", config(project))
    assert result.exit_code == 0
    assert sorted(p.name for p in project.iterdir()) == ["hookgate.toml"]


def test_empty_lists_say_which_store_was_read(project: Path) -> None:
    created = hookgate("db", "upgrade", "--config", config(project))  # a command that writes creates it
    store = f"sqlite:///{project / 'hookgate.db'}"
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith(f"{store}: schema version")
    assert not (Path.cwd() / "hookgate.db").exists()  # next to the file, not here

    listed = hookgate("events", "list", "--config", config(project))
    assert (listed.exit_code, listed.stdout) == (0, f"no events in {store}\n")
    as_json = hookgate("events", "list", "--json", "--config", config(project))
    # a JSON document all the same (an empty list), and which store was read on stderr
    assert (as_json.exit_code, as_json.stderr) == (0, f"no events in {store}\n")
    assert json.loads(as_json.stdout) == {"events": []}
    dead = hookgate("dlq", "list", "--config", config(project))
    assert (dead.exit_code, dead.stdout) == (0, f"no dead letters in {store}\n")
    shown = hookgate("events", "show", UNKNOWN_ID, "--config", config(project))
    assert (shown.exit_code, shown.stderr) == (1, f"hookgate: no event matches {UNKNOWN_ID!r} in {store}\n")


# -- check-config warns -------------------------------------------------------------------


def check(tmp_path: Path, text: str) -> Result:
    path = tmp_path / "hookgate.toml"
    path.write_text(text)
    return hookgate("check-config", "--config", str(path))


def test_the_demo_draws_no_warning(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "demo.toml", tmp_path / "demo.toml")
    result = hookgate("check-config", "--config", str(tmp_path / "demo.toml"))
    assert (result.exit_code, result.stderr) == (0, "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.toml"]  # nothing created


def test_no_sources_is_a_warning(tmp_path: Path) -> None:
    result = check(tmp_path, ARCHIVE)
    assert result.exit_code == 0
    assert "configuration OK" in result.stdout
    assert result.stderr == (
        "hookgate: warning: sources: no [sources] configured: every webhook URL answers 404\n"
    )


def test_a_source_going_to_no_sink_is_a_warning(tmp_path: Path) -> None:
    result = check(tmp_path, SOURCE)
    assert result.exit_code == 0
    assert result.stderr == (
        "hookgate: warning: sources.stripe: its events are stored but go to no sink (no [sinks] configured)\n"
    )
    result = check(tmp_path, f"{SOURCE}sinks = []\n\n{ARCHIVE}")
    assert result.exit_code == 0
    assert result.stderr == (
        "hookgate: warning: sources.stripe: its events are stored but go to no sink (its sinks = [])\n"
    )


def test_a_file_that_cannot_be_written_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, where a directory is wanted")
    (tmp_path / "folder").mkdir()
    text = f"""{SOURCE}
[sinks.archive]
type = "jsonl"
path = "taken/events.jsonl"

[sinks.folder]
type = "jsonl"
path = "folder"

[sinks.bus]
type = "router"

[sinks.bus.rules.all]
event_pattern = '{{"source": [{{"prefix": ""}}]}}'

[[sinks.bus.rules.all.targets]]
id = "ledger"
type = "jsonl"
path = "taken/deeper/ledger.jsonl"
"""
    result = check(tmp_path, text)
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f"hookgate: warning: sinks.archive.path: cannot write {tmp_path}/taken/events.jsonl: "
        f"{tmp_path}/taken is not a directory",
        f"hookgate: warning: sinks.folder.path: cannot write {tmp_path}/folder: it is a directory",
        f"hookgate: warning: sinks.bus.rules.all.targets[0].path: cannot write "
        f"{tmp_path}/taken/deeper/ledger.jsonl: {tmp_path}/taken is not a directory",
    ]


def test_a_missing_directory_hookgate_can_create_is_no_warning(tmp_path: Path) -> None:
    result = check(tmp_path, f'{SOURCE}\n[sinks.archive]\ntype = "jsonl"\npath = "out/day/events.jsonl"\n')
    assert (result.exit_code, result.stderr) == (0, "")
    assert not (tmp_path / "out").exists()  # looked at, not created


# -- serve opens its files first ----------------------------------------------------------


def test_open_outputs_creates_the_files_or_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "hookgate.toml"
    path.write_text(f'{SOURCE}\n[sinks.archive]\ntype = "jsonl"\npath = "out/events.jsonl"\n')
    open_outputs(load_settings(path, env={}))
    assert (tmp_path / "out" / "events.jsonl").read_text() == ""

    (tmp_path / "taken").write_text("")
    path.write_text(f'{SOURCE}\n[sinks.archive]\ntype = "jsonl"\npath = "taken/events.jsonl"\n')
    with pytest.raises(ConfigError) as refused:
        open_outputs(load_settings(path, env={}))
    assert refused.value.key == "sinks.archive.path"
    assert str(refused.value) == (
        f"sinks.archive.path: cannot open {tmp_path}/taken/events.jsonl: {tmp_path}/taken is not a directory"
    )


def test_unwritable(tmp_path: Path) -> None:
    assert unwritable(str(tmp_path / "new.jsonl")) is None
    (tmp_path / "old.jsonl").write_text("")
    assert unwritable(str(tmp_path / "old.jsonl")) is None
    assert unwritable(str(tmp_path)) == "it is a directory"
