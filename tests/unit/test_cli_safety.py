"""The command line's safety: reading commands never create a store."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.cli import main

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
    assert (as_json.exit_code, as_json.stdout, as_json.stderr) == (0, "", f"no events in {store}\n")
    dead = hookgate("dlq", "list", "--config", config(project))
    assert (dead.exit_code, dead.stdout) == (0, f"no dead letters in {store}\n")
    shown = hookgate("events", "show", UNKNOWN_ID, "--config", config(project))
    assert (shown.exit_code, shown.stderr) == (1, f"no event {UNKNOWN_ID} in {store}\n")
