"""What a user installs: the extras a configuration needs, and the built distributions.

- Without an extra (its modules made unimportable through a `sitecustomize` module), every
  command that would need it ends in one line naming the extra, exit status 2, no traceback.
- `python -m build` makes a wheel and an sdist with complete metadata, entry points and
  package data; the wheel installed into a fresh virtual environment runs `hookgate
  --version` and the Quickstart's configuration check.
"""

from __future__ import annotations

import email
import email.message
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.helpers.served import HOOKGATE

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
POSTGRES_LINE = "hookgate: a postgresql:// store needs the postgres extra: pip install 'hookgate[postgres]'\n"


def without(tmp: Path, *modules: str) -> dict[str, str]:
    """An environment whose Python processes cannot import `modules`."""
    site = tmp / "site"
    site.mkdir(exist_ok=True)
    lines = ["import sys", *(f"sys.modules[{m!r}] = None  # import {m} raises ImportError" for m in modules)]
    (site / "sitecustomize.py").write_text("\n".join(lines) + "\n")
    unset = {k for k in os.environ if k.startswith("HOOKGATE_")}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["PYTHONPATH"] = str(site)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def postgres_config(tmp_path: Path) -> Path:
    config = tmp_path / "hookgate.toml"
    config.write_text(
        '[store]\nurl = "postgresql://hookgate@127.0.0.1:5432/hookgate"\n\n'
        '[sources.stripe]\nconnector = "stripe"\nsecrets = ["whsec_test"]\n\n'
        '[sinks.archive]\ntype = "jsonl"\npath = "events.jsonl"\n'
    )
    return config


@pytest.mark.parametrize(
    "command",
    [
        ["serve"],
        ["check-config"],
        ["events", "list"],
        ["events", "show", "0190b3a4-0000-7000-8000-000000000000"],
        ["dlq", "list"],
        ["dlq", "redrive", "--all"],
        ["replay", "--from", "1h"],
        ["db", "upgrade"],
    ],
    ids=" ".join,
)
@pytest.mark.parametrize("missing", ["psycopg", "psycopg_pool"])
def test_a_postgresql_store_without_the_postgres_extra_is_one_line(
    command: list[str], missing: str, postgres_config: Path, tmp_path: Path
) -> None:
    result = run([HOOKGATE, *command, "--config", str(postgres_config)], without(tmp_path, missing), tmp_path)
    assert result.returncode == 2, result
    assert result.stderr == POSTGRES_LINE
    assert "Traceback" not in result.stdout
    assert "listening" not in result.stdout


def test_the_embedded_default_needs_no_extra(tmp_path: Path) -> None:
    env = without(tmp_path, "psycopg", "psycopg_pool", "mangum")
    shutil.copy(ROOT / "examples" / "demo.toml", tmp_path / "demo.toml")
    result = run([HOOKGATE, "check-config", "--config", "demo.toml"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    assert result.stderr == ""
    result = run([HOOKGATE, "db", "upgrade", "--config", "demo.toml"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "schema version" in result.stdout


def test_lambda_mode_without_the_lambda_extra_fails_its_import_with_one_line(tmp_path: Path) -> None:
    # What a Lambda runtime does with its handler: import the module, and report an
    # ImportError as "Unable to import module '<module>': <message>".
    script = (
        "import importlib, sys\n"
        "try:\n"
        "    importlib.import_module('gateway.aws_lambda')\n"
        "except ImportError as exc:\n"
        "    sys.exit(f'Unable to import module gateway.aws_lambda: {exc}')\n"
    )
    result = run([sys.executable, "-c", script], without(tmp_path, "mangum"), tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "Unable to import module gateway.aws_lambda: "
        "Lambda mode (gateway.aws_lambda) needs the lambda extra: pip install 'hookgate[lambda]'\n"
    )


# -- the distributions ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build` of a copy of the sources the sdist would take (no build residue here)."""
    out = tmp_path_factory.mktemp("dist")
    source = tmp_path_factory.mktemp("src") / "hookgate"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def one(dist: Path, pattern: str) -> Path:
    [found] = dist.glob(pattern)
    return found


def wheel_metadata(wheel: Path) -> tuple[list[str], email.message.Message, str]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [meta] = [n for n in names if n.endswith(".dist-info/METADATA")]
        [points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        return (
            names,
            email.message_from_bytes(archive.read(meta)),
            archive.read(points).decode(),
        )


def test_the_wheel_has_complete_metadata_entry_points_and_package_data(dist: Path) -> None:
    project = PYPROJECT["project"]
    names, meta, entry_points = wheel_metadata(one(dist, "hookgate-*-py3-none-any.whl"))
    assert meta["Name"] == "hookgate"
    assert meta["Version"] == project["version"]
    assert meta["Summary"] == project["description"]
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Requires-Python"] == project["requires-python"]
    assert meta["Description-Content-Type"] == "text/markdown"
    assert str(meta.get_payload()).startswith("# hookgate")  # the README
    assert "Typing :: Typed" in meta.get_all("Classifier", [])
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL", []))
    assert set(urls) >= {"Homepage", "Source", "Issues", "Changelog", "Documentation"}
    assert set(meta.get_all("Provides-Extra", [])) >= {"postgres", "lambda", "dev"}
    requires = meta.get_all("Requires-Dist", [])
    core = [r for r in requires if "extra ==" not in r]
    assert not [r for r in core if r.startswith(("psycopg", "mangum"))], core
    assert any(r.startswith("psycopg-pool") and 'extra == "postgres"' in r for r in requires)
    assert any(r.startswith("mangum") and 'extra == "lambda"' in r for r in requires)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)

    assert "hookgate = gateway.cli:main" in entry_points
    section = entry_points.split("[hookgate.connectors]", 1)[1].split("\n[", 1)[0]
    registered = dict(line.split(" = ") for line in section.strip().splitlines())
    assert registered == project["entry-points"]["hookgate.connectors"]

    expected = {"gateway/py.typed", "connectors/py.typed"}
    expected |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "gateway" / "schema").glob("*.json")}
    expected |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "gateway").rglob("*.py")}
    console = ROOT / "gateway" / "console"  # the web console's templates, style sheet, script and hints
    expected |= {
        p.relative_to(ROOT).as_posix() for p in console.rglob("*") if p.suffix in (".html", ".css", ".js")
    }
    expected.add("gateway/console/hints.json")
    curated = ROOT / "gateway" / "schemas" / "curated"  # the providers' schemas and their licences
    expected |= {p.relative_to(ROOT).as_posix() for p in curated.glob("*.json")}
    expected.add("gateway/schemas/curated/NOTICE.md")
    expected |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "connectors").rglob("*.py")}
    assert expected <= set(names), sorted(expected - set(names))
    assert not [n for n in names if n.startswith(("tests/", "bench/", "examples/"))]


def test_the_sdist_has_the_sources_docs_and_tests(dist: Path) -> None:
    sdist = one(dist, "hookgate-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for name in (
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "SECURITY.md",
        "CONTRIBUTING.md",
        "PKG-INFO",
        "gateway/schema/event.schema.json",
        "gateway/py.typed",
        "connectors/py.typed",
        "docs/troubleshooting.md",
        "examples/demo.toml",
        "tests/e2e/test_packaging.py",
        "gateway/schemas/curate.py",
    ):
        assert name in names, name


def test_the_wheel_installed_in_a_fresh_venv_runs_the_quickstart_check(dist: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    wheel = one(dist, "hookgate-*-py3-none-any.whl")
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel],
        check=True,
        timeout=600,
    )
    hookgate = venv / "bin" / "hookgate"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOOKGATE_", "PYTHON"))}
    version = run([str(hookgate), "--version"], env, tmp_path)
    assert version.returncode == 0, version.stderr
    assert PYPROJECT["project"]["version"] in version.stdout

    # The Quickstart's demo, from the installed package, not from this checkout.
    shutil.copy(ROOT / "examples" / "demo.toml", tmp_path / "demo.toml")
    checked = run([str(hookgate), "check-config", "--config", "demo.toml"], env, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "configuration OK: " in checked.stdout
    assert "source stripe: connector stripe" in checked.stdout
    listed = run([str(hookgate), "connectors"], env, tmp_path)
    assert "stripe: " in listed.stdout
    assert "BROKEN" not in listed.stdout
    imported = run(
        [str(venv / "bin" / "python"), "-c", "import gateway, connectors; print(gateway.__file__)"],
        env,
        tmp_path,
    )
    assert str(venv) in imported.stdout, imported
