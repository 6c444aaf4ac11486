"""Relative paths in a configuration: relative to the file's directory, wherever hookgate runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.stripe import StripeConnector
from gateway.app import build_source
from gateway.config import StoreSettings, load_settings
from gateway.paths import is_output_path, path_context, resolve_path, resolve_store_url
from gateway.router.targets._local import JsonlTargetOptions
from gateway.sinks.files import JsonlOptions

CONFIG = """
[store]
url = "sqlite:///./data/hookgate.db"

[sources.stripe]
connector = "stripe"
secrets = ["file:secrets/stripe.txt"]

[sinks.archive]
type = "jsonl"
path = "./events.jsonl"

[sinks.bus]
type = "router"

[sinks.bus.rules.all]
event_pattern = '{"source": [{"prefix": ""}]}'

[[sinks.bus.rules.all.targets]]
id = "ledger"
type = "jsonl"
path = "out/ledger.jsonl"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration in `project/`, with a secret file beside it; the current directory
    is somewhere else."""
    project = tmp_path / "project"
    (project / "secrets").mkdir(parents=True)
    (project / "secrets" / "stripe.txt").write_text("whsec_from_file\n")
    (project / "hookgate.toml").write_text(CONFIG)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return project


def jsonl_path(options: object) -> str:
    assert isinstance(options, JsonlOptions)
    return options.path


def test_relative_paths_are_relative_to_the_configuration_file(project: Path) -> None:
    settings = load_settings(project / "hookgate.toml", env={})

    assert settings.store.url == f"sqlite:///{project / 'data' / 'hookgate.db'}"
    assert jsonl_path(settings.sinks["archive"].options) == str(project / "events.jsonl")
    [target] = settings.buses["bus"].rules["all"].targets
    assert jsonl_path(target.options) == str(project / "out" / "ledger.jsonl")
    connector = build_source(settings.sources["stripe"]).connector
    assert isinstance(connector, StripeConnector)
    assert [s.get_secret_value() for s in connector.options.secrets] == ["whsec_from_file"]


def test_a_relative_configuration_path_resolves_from_the_current_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.parent)
    settings = load_settings("project/hookgate.toml", env={})
    assert settings.store.url == f"sqlite:///{project / 'data' / 'hookgate.db'}"  # absolute
    assert jsonl_path(settings.sinks["archive"].options) == str(project / "events.jsonl")


def test_an_environment_override_is_part_of_the_files_configuration(project: Path) -> None:
    settings = load_settings(
        project / "hookgate.toml", env={"HOOKGATE_SINKS__ARCHIVE__PATH": "archive/events.jsonl"}
    )
    assert jsonl_path(settings.sinks["archive"].options) == str(project / "archive" / "events.jsonl")


def test_absolute_paths_and_memory_stay_as_written(tmp_path: Path) -> None:
    absolute = tmp_path / "abs" / "hookgate.db"
    config = tmp_path / "hookgate.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{absolute}"\n\n[sinks.archive]\ntype = "jsonl"\npath = "/var/x.jsonl"\n'
    )
    settings = load_settings(config, env={})
    assert settings.store.url == f"sqlite:///{absolute}"
    assert jsonl_path(settings.sinks["archive"].options) == "/var/x.jsonl"
    config.write_text('[store]\nurl = "sqlite:///:memory:"\n')
    assert load_settings(config, env={}).store.url == "sqlite:///:memory:"


def test_the_default_store_stays_in_the_current_directory(project: Path) -> None:
    (project / "hookgate.toml").write_text(CONFIG.replace('url = "sqlite:///./data/hookgate.db"', ""))
    assert load_settings(project / "hookgate.toml", env={}).store.url == "sqlite:///./hookgate.db"


def test_without_a_file_paths_stay_relative_to_the_current_directory() -> None:
    env = {
        "HOOKGATE_STORE__URL": "sqlite:///./state/hookgate.db",
        "HOOKGATE_SINKS__ARCHIVE__TYPE": "jsonl",
        "HOOKGATE_SINKS__ARCHIVE__PATH": "./events.jsonl",
    }
    settings = load_settings(env=env)
    assert settings.path is None
    assert settings.store.url == "sqlite:///./state/hookgate.db"
    assert jsonl_path(settings.sinks["archive"].options) == "./events.jsonl"


def test_a_postgresql_url_is_not_a_path(tmp_path: Path) -> None:
    url = "postgresql://hookgate@db.internal:5432/hookgate"
    assert resolve_store_url(url, tmp_path) == url
    assert StoreSettings.model_validate({"url": url}, context=path_context(tmp_path)).url == url


def test_resolve_path() -> None:
    base = Path("/etc/hookgate")
    assert resolve_path("./events.jsonl", base) == "/etc/hookgate/events.jsonl"
    assert resolve_path("../var/events.jsonl", base) == "/etc/hookgate/../var/events.jsonl"
    assert resolve_path("/var/events.jsonl", base) == "/var/events.jsonl"
    assert resolve_path("events.jsonl", None) == "events.jsonl"
    assert resolve_path("", base) == ""


def test_the_files_hookgate_writes_are_output_paths() -> None:
    for model in (JsonlOptions, JsonlTargetOptions):
        assert is_output_path(model.model_fields["path"].metadata)
    assert not is_output_path(StoreSettings.model_fields["url"].metadata)
