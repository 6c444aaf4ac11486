"""A third-party connector package, installed into the environment, serves real webhooks."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import connectors
from connectors.testing import signed_request
from tests.helpers.served import Served, base_config, free_port

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hookgate-connector-example"


@pytest.fixture(scope="module")
def acme_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("plugin") / EXAMPLE.name


@pytest.fixture(scope="module")
def acme_installed(acme_copy: Path) -> Iterator[None]:
    source = acme_copy
    shutil.copytree(EXAMPLE, source)  # a build leaves files behind: not in the checkout
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", str(source)], check=True, timeout=300)
    importlib.invalidate_caches()
    connectors.refresh()
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "hookgate-connector-example"], check=True, timeout=120)
        importlib.invalidate_caches()
        connectors.refresh()


def test_installed_plugin_verifies_deliveries_through_hookgate_serve(
    acme_installed: None, tmp_path: Path
) -> None:
    assert "acme" in connectors.available()
    acme = connectors.load("acme").from_config({"secrets": ["acme-secret"]})

    port = free_port()
    config = tmp_path / "hookgate.toml"
    extra = '\n[sources.acme]\nconnector = "acme"\nsecrets = ["acme-secret"]\n'
    config.write_text(base_config(tmp_path, port, extra=extra))
    served = Served(tmp_path, config, port)
    served.start()
    try:
        assert "acme: Acme webhooks" in served.cli("connectors").stdout
        body = b'{"event": "order.created", "order": {"id": 7}}'
        request = signed_request(acme, body, now=time.time())
        headers = dict(request.headers.raw())
        response = httpx.post(f"{served.url}/webhooks/acme", content=body, headers=headers)
        assert response.status_code == 200, response.text
        forged = {**headers, "x-acme-signature": "0" * 64}
        assert httpx.post(f"{served.url}/webhooks/acme", content=body, headers=forged).status_code == 401

        entries = served.wait_for_sink(lambda e: len(e) == 1)
        assert entries[0]["detail-type"] == "order.created"
        assert entries[0]["detail"]["metadata"]["connector"] == "acme"
        assert entries[0]["detail"]["payload"] == {"event": "order.created", "order": {"id": 7}}
    finally:
        served.stop()


def test_the_example_plugins_own_tests_and_type_check_pass(acme_installed: None, acme_copy: Path) -> None:
    """The example is a package of its own: its tests and its strict mypy run as its author's would."""
    # hookgate is installed in development mode here, which mypy cannot follow: point it at the source
    env = {**os.environ, "MYPYPATH": str(EXAMPLE.parents[1])}
    for command in (["pytest", "-q", "-p", "no:cacheprovider", "tests"], ["mypy"]):
        result = subprocess.run(
            [sys.executable, "-m", *command],
            check=False,
            cwd=acme_copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = f"{result.stdout}\n{result.stderr}"
        assert result.returncode == 0, f"{command[0]} in the example failed:\n{output}"
