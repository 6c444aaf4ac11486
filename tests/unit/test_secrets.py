"""Secret references: resolved in secret fields only, nested tables and lists included."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from gateway.errors import ConfigError
from gateway.secrets import resolve_secret, resolve_secrets


class Auth(BaseModel):
    username: str
    password: SecretStr


class Options(BaseModel):
    secrets: list[SecretStr]
    token: SecretStr | None = None
    label: str = ""
    auth: Auth | None = None


def test_secret_fields_lists_and_nested_tables_are_resolved(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n", encoding="utf-8")
    options = {
        "secrets": ["literal", "env:A"],
        "token": "file:token",
        "label": "env:A",
        "auth": {"username": "env:A", "password": "env:B"},
    }
    resolved = resolve_secrets(Options, options, "sinks.x", {"A": "a", "B": "b"}, tmp_path)
    assert resolved == {
        "secrets": ["literal", "a"],
        "token": "from-file",
        "label": "env:A",  # not a secret field: left as written
        "auth": {"username": "env:A", "password": "b"},
    }
    assert options["secrets"] == ["literal", "env:A"]  # the input is not changed


def test_a_failure_names_the_nested_key_and_not_the_value() -> None:
    options = {"secrets": ["x"], "auth": {"username": "u", "password": "env:UNSET"}}
    with pytest.raises(ConfigError) as caught:
        resolve_secrets(Options, options, "sinks.x", {}, None)
    assert caught.value.key == "sinks.x.auth.password"
    assert caught.value.message == "environment variable UNSET is not set"


@pytest.mark.parametrize("value", [42, None, "plain", "envy:A"])
def test_anything_that_is_no_reference_is_kept_as_is(value: object) -> None:
    assert resolve_secret(value, "k", {"A": "a"}, None) == value
