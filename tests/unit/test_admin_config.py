"""`[admin]`: tokens as secret references, the short form, roles, the own listener, and
errors that name the key but never a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_settings, parse_settings
from gateway.errors import ConfigError

TOKEN = "a-token-of-twenty-chars"


def test_off_without_tokens() -> None:
    admin = parse_settings({}, env={}).admin
    assert not admin.enabled
    assert (admin.keep_rejected_bodies, admin.requests_retention_hours, admin.requests_max_rows) == (
        False,
        72,
        100_000,
    )


def test_tokens_are_secret_references_and_plain_strings_are_admins(tmp_path: Path) -> None:
    (tmp_path / "viewer.txt").write_text("viewer-token-from-a-file\n")
    admin = parse_settings(
        {
            "admin": {
                "tokens": [
                    "env:ADMIN_TOKEN",
                    {"name": "support", "token": "file:viewer.txt"},
                    TOKEN,
                ]
            }
        },
        env={"ADMIN_TOKEN": "admin-token-from-the-env"},
        base_dir=tmp_path,
    ).admin
    assert [(t.name, t.role, t.token.get_secret_value()) for t in admin.tokens] == [
        ("token-1", "admin", "admin-token-from-the-env"),
        ("support", "viewer", "viewer-token-from-a-file"),
        ("token-3", "admin", TOKEN),
    ]
    assert admin.enabled
    assert TOKEN not in repr(admin)


def test_an_override_sets_the_tokens(tmp_path: Path) -> None:
    config = tmp_path / "hookgate.toml"
    config.write_text("[admin]\nport = 9090\n")
    env = {"HOOKGATE_ADMIN__TOKENS": '["env:T"]', "T": TOKEN}
    admin = load_settings(config, env=env).admin
    assert (admin.port, admin.tokens[0].token.get_secret_value()) == (9090, TOKEN)


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ({"tokens": ["short-one"]}, "admin.tokens.0", "at least 16 characters"),
        (
            {"tokens": [{"name": "a", "token": TOKEN, "role": "root"}]},
            "admin.tokens.0.role",
            "'viewer' or 'admin'",
        ),
        ({"tokens": [TOKEN, TOKEN]}, "admin", "each token must be different"),
        ({"tokens": [{"name": "a b", "token": TOKEN}]}, "admin.tokens.0.name", "pattern"),
        ({"tokens": ["env:UNSET"]}, "admin.tokens[0].token", "UNSET is not set"),
        ({"host": "0.0.0.0"}, "admin", "host needs port"),  # noqa: S104 - a configuration value
        ({"port": 8080}, "admin.port", "must differ"),
        ({"tokens": [TOKEN], "colour": "red"}, "admin.colour", "unknown key"),
    ],
)
def test_mistakes_name_the_key_and_never_the_token(table: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"admin": table}, env={})
    assert caught.value.key == key
    assert message in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert "short-one" not in str(caught.value)
