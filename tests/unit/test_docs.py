"""Docs are tested: an undocumented setting, command or connector fails here."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import tomllib
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

import connectors
from gateway.admin.config import AdminSettings
from gateway.cli import main
from gateway.config import DispatcherSettings, ServerSettings, SourceSettings, StoreSettings
from gateway.observability import Metrics
from gateway.router.rules import TargetSettings
from gateway.router.targets import target_types
from gateway.schemas import SchemaSettings
from gateway.secrets import REFERENCE_FORMS
from gateway.sinks import sink_types

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()
DEMO_TEXT = (ROOT / "examples" / "demo.toml").read_text()


def quickstart_blocks() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def test_quickstart_has_run_and_test_commands() -> None:
    run, test = quickstart_blocks()[:2]
    assert "hookgate serve" in run
    assert run.count("\n") == 1, "the run command is one line"
    assert test.count("\n") == 1, "the test command is one line"
    assert "pytest" in test
    assert "mypy" in test
    assert "ruff check" in test


def test_ci_runs_the_readme_test_command() -> None:
    script = ROOT / ".ci" / "run"
    extracted = subprocess.run(
        ["bash", "-c", re.search(r"^cmd=\$\((.*)\)$", script.read_text(), re.MULTILINE)[1]],  # type: ignore[index]
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    assert extracted == quickstart_blocks()[1]


@pytest.mark.parametrize(
    ("section", "model"),
    [
        ("[server]", ServerSettings),
        ("[store]", StoreSettings),
        ("[dispatcher]", DispatcherSettings),
        ("[sources.NAME]", SourceSettings),
        ("[admin]", AdminSettings),
        ("[schemas]", SchemaSettings),
    ],
)
def test_every_setting_is_documented(section: str, model: type[BaseModel]) -> None:
    part = CONFIGURATION.split(f"## `{section}`", 1)[1].split("\n## ", 1)[0]
    for key in model.model_fields:
        assert f"| `{key}` |" in part, f"{section} {key} is not in docs/configuration.md"


def test_every_sink_type_and_key_is_documented() -> None:
    for kind, cls in sink_types().items():
        if kind == "memory":
            continue  # a test seam, not configurable from a file
        part = CONFIGURATION.split(f'### `type = "{kind}"`', 1)[1].split("\n### ", 1)[0]
        for key in cls.Options.model_fields:
            assert f"| `{key}` |" in part, f"sink {kind} key {key} is not documented"


def test_every_router_target_type_and_key_is_documented() -> None:
    router = (ROOT / "docs" / "router.md").read_text()
    for key in TargetSettings.model_fields:
        if key != "options":
            assert f"| `{key}` |" in router, f"target key {key} is not in docs/router.md"
    for kind, cls in target_types().items():
        part = router.split(f'### `type = "{kind}"`', 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
        for key in cls.Options.model_fields:
            assert f"`{key}`" in part, f"target {kind} key {key} is not in docs/router.md"


def _commands(group: click.Group, prefix: str = "hookgate") -> list[str]:
    names = []
    for name, command in group.commands.items():
        full = f"{prefix} {name}"
        if isinstance(command, click.Group):
            names.extend(_commands(command, full))
        else:
            names.append(full)
    return names


def test_every_secret_reference_form_is_listed_in_one_place() -> None:
    section = CONFIGURATION.split("## Secret references\n", 1)[1].split("\n## ", 1)[0]
    for form in REFERENCE_FORMS:
        assert f"`{form}`" in section, f"secret reference {form} is not in docs/configuration.md"
    # Every other page links to that section instead of listing (some of) the forms again.
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        if page.name == "configuration.md":
            continue
        text = page.read_text()
        listed = [form for form in REFERENCE_FORMS if f"`{form}`" in text]
        where = page.relative_to(ROOT)
        assert not listed, f"{where} lists {listed}: link to configuration.md#secret-references"


def test_every_cli_command_is_in_the_readme() -> None:
    for command in _commands(main):
        assert f"`{command}" in README, f"{command} is not documented in README.md"


def test_every_connector_and_key_is_documented() -> None:
    index = (ROOT / "docs" / "connectors.md").read_text()
    for name in connectors.available():
        cls = connectors.load(name)
        if not cls.__module__.startswith("connectors."):
            continue  # a third-party plugin installed in this environment
        assert f"`{name}`" in index, f"connector {name} is not in docs/connectors.md"
        page = ROOT / "docs" / "connectors" / f"{name}.md"
        doc = page.read_text() if page.exists() else index.split(f"## `{name}`", 1)[-1].split("\n## ", 1)[0]
        for key in cls.Options.model_fields:
            assert f"`{key}`" in doc, f"connector {name} key {key} is not documented"


OBSERVABILITY = (ROOT / "docs" / "observability.md").read_text()


def test_every_gateway_metric_is_documented() -> None:
    for family in Metrics().registry.collect():
        if family.name.startswith("hookgate_"):
            assert f"| `{family.name}" in OBSERVABILITY, f"{family.name} is not in docs/observability.md"
    for prefix in ("process_", "python_"):
        assert f"| `{prefix}*` |" in OBSERVABILITY


@pytest.mark.parametrize("module", ["app", "dispatcher", "http", "server"])
def test_every_log_line_of_the_pipeline_is_documented(module: str) -> None:
    source = (ROOT / "gateway" / f"{module}.py").read_text()
    events = re.findall(r'log\.(?:debug|info|warning|error|exception)\(\s*"(\w+)"', source)
    assert events
    for event in events:
        assert f"| `{event}` |" in OBSERVABILITY, f"log event {event} is not in docs/observability.md"


def test_every_serve_option_is_in_the_readme() -> None:
    serve = main.commands["serve"]
    for param in serve.params:
        for option in param.opts:
            if option.startswith("--") and option != "--help":
                assert f"[{option}" in README or f"{option} " in README, f"serve {option} is not in README.md"


@pytest.mark.parametrize("module", ["connectors", "connectors.toolkit", "gateway"])
def test_public_api_is_deliberate(module: str) -> None:
    mod = importlib.import_module(module)
    exported = mod.__all__
    # sorted isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in exported:
        assert hasattr(mod, name), f"{module}.{name} is in __all__ but missing"


def rejection_causes() -> set[str]:
    """Every cause code the edge and the connectors can produce, read from their source.

    The first argument of each `VerificationError(...)` and `MalformedPayloadError(...)`
    under connectors/ and gateway/; the edge's `_Rejected(status, cause, message, detail)`
    and the `cause` it logs itself. A cause that is not a literal fails: it could hide one.
    """
    causes: set[str] = set()
    for path in [*(ROOT / "connectors").rglob("*.py"), *(ROOT / "gateway").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name in ("VerificationError", "MalformedPayloadError"):
                    positions = [0]
                elif name in ("_Rejected", "BodyRefusedError"):
                    positions = [1, 3]
                else:
                    continue
                for position in positions:
                    if position >= len(node.args):
                        continue
                    arg = node.args[position]
                    if position == 3 and not isinstance(arg, ast.Constant):
                        continue  # the detail passed on from a connector's error
                    assert isinstance(arg, ast.Constant), f"{path}:{node.lineno}: cause is not a literal"
                    causes.add(str(arg.value))
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                slices = [t.slice for t in node.targets if isinstance(t, ast.Subscript)]
                if any(isinstance(k, ast.Constant) and k.value == "cause" for k in slices):
                    causes.add(str(node.value.value))
    return causes


def test_every_rejection_cause_is_in_troubleshooting() -> None:
    page = (ROOT / "docs" / "troubleshooting.md").read_text()
    causes = rejection_causes()
    assert {"verification_failed", "bad_signature", "stale_timestamp", "unknown_source"} <= causes
    missing = sorted(cause for cause in causes if f"`{cause}`" not in page)
    assert not missing, f"docs/troubleshooting.md does not explain: {', '.join(missing)}"


def test_the_files_the_demo_writes_are_git_ignored() -> None:
    demo = tomllib.loads((ROOT / "examples" / "demo.toml").read_text())
    store = Path(demo["store"]["url"].removeprefix("sqlite:///"))
    written = [store, *(store.with_name(store.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]
    written += [Path(path) for path in re.findall(r'^path = "([^"]+)"', DEMO_TEXT, re.MULTILINE)]
    assert {p.name for p in written} >= {"hookgate.db", "events.jsonl", "payments.jsonl"}
    # where they land: the directory the demo is run from (the Quickstart's: the root), or
    # the configuration file's
    candidates = [str(base / p) for base in (ROOT, ROOT / "examples") for p in written]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *candidates],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    assert sorted(ignored) == sorted(candidates)
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    for name in ("hookgate.db", "events.jsonl", "payments.jsonl"):
        assert f"`{name}`" in section
    assert "git-ignored" in section
    assert "second terminal" in section


def test_the_architecture_names_only_what_exists_and_every_package_and_module() -> None:
    """docs/architecture.md names each package's one job: every path it names exists, and
    every package of the code is named (a new subsystem gets its line)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:gateway|connectors)(?:/\w+)*(?:\.py|/))", text))
    named |= set(
        re.findall(r"^\s*(?:─▶ )?((?:gateway|connectors)(?:/[\w<>]+)*(?:\.py|/))", text, re.MULTILINE)
    )
    assert named, "docs/architecture.md names no module"
    for path in sorted(named):
        if "<provider>" in path:
            continue
        assert (ROOT / path).exists(), f"docs/architecture.md names {path}, which does not exist"
    packages = {
        f"{init.parent.relative_to(ROOT).as_posix()}/"
        for top in ("gateway", "connectors")
        for init in (ROOT / top).rglob("__init__.py")
    }
    packages |= {  # and the pipeline's own modules
        module.relative_to(ROOT).as_posix()
        for module in (ROOT / "gateway").glob("*.py")
        if not module.name.startswith("_")
    }
    missing = sorted(
        p for p in packages if p not in named and not any(part.startswith("_") for part in p.split("/"))
    )
    assert not missing, f"packages without a line in docs/architecture.md: {missing}"
