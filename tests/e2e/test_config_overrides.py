"""`hookgate check-config` names the environment variable behind an invalid value."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers.served import HOOKGATE

pytestmark = pytest.mark.e2e

CONFIG = """
[sources.stripe]
connector = "stripe"
secrets = ["env:STRIPE_WEBHOOK_SECRET"]

[sinks.archive]
type = "jsonl"
path = "./events.jsonl"
"""


def check_config(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "hookgate.toml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKGATE_")}
    env.update(STRIPE_WEBHOOK_SECRET="whsec_cli_0123", **overrides)
    return subprocess.run(
        [HOOKGATE, "check-config", "--config", "hookgate.toml"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_names_the_variable_of_an_invalid_override(tmp_path: Path) -> None:
    assert check_config(tmp_path).returncode == 0

    result = check_config(tmp_path, HOOKGATE_SERVER__PORT="abc")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "hookgate: invalid configuration: HOOKGATE_SERVER__PORT=abc: server.port: "
        "Input should be a valid integer"
    )

    result = check_config(tmp_path, HOOKGATE_SOURCES__STRIPE__SECRET="whsec_misspelt_77")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "hookgate: invalid configuration: "
        "HOOKGATE_SOURCES__STRIPE__SECRET: sources.stripe.secret: unknown key"
    )
    assert "whsec_misspelt_77" not in result.stdout + result.stderr
