"""What a user installs: the extras a configuration needs, and the built distributions.

- Without an extra (its modules made unimportable through a `sitecustomize` module), every
  command that would need it ends in one line naming the extra, exit status 2, no traceback.
- `python -m build` makes a wheel and an sdist with complete metadata, entry points and
  package data; the wheel installed into a fresh virtual environment runs `hookgate
  --version` and the Quickstart's configuration check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.e2e.conftest import HOOKGATE

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
