"""pyproject.toml's extras agree with the code that names them."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from gateway._extras import EXTRAS, require
from gateway.errors import HookgateError, MissingExtraError

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def distribution(requirement: str) -> str:
    """The distribution a requirement names, normalized (`psycopg[binary]>=3.2` → `psycopg`)."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match[0]).lower()


def test_every_extra_the_code_names_is_declared() -> None:
    extras = PROJECT["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        declared = {distribution(r) for r in extras[extra]}
        assert {m.replace("_", "-") for m in modules} <= declared, extra


def test_the_core_needs_no_extra() -> None:
    core = {distribution(r) for r in PROJECT["dependencies"]}
    for extra in EXTRAS:
        assert not core & {distribution(r) for r in PROJECT["optional-dependencies"][extra]}, extra
    assert "boto3" in core  # EventBridge is the main destination


def test_dev_installs_every_extra_and_the_build_frontend() -> None:
    dev = PROJECT["optional-dependencies"]["dev"]
    [self_reference] = [r for r in dev if distribution(r) == "hookgate"]
    assert set(re.findall(r"\w+", self_reference.split("[", 1)[1])) == set(EXTRAS)
    assert "build" in {distribution(r) for r in dev}


def test_a_missing_extra_is_one_import_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    require("postgres", "a postgresql:// store")  # installed here: nothing raised
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)
    with pytest.raises(MissingExtraError) as caught:
        require("postgres", "a postgresql:// store")
    assert str(caught.value) == (
        "a postgresql:// store needs the postgres extra: pip install 'hookgate[postgres]'"
    )
    assert isinstance(caught.value, HookgateError)
    assert isinstance(caught.value, ImportError)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
