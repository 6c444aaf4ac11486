"""Third-party plugin packages (a connector, a sink, a router target), each installed into
the environment from its own pyproject.toml, serve real webhooks through `hookgate serve`;
each package's own tests and strict type check pass."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import redis
from click.testing import CliRunner

import connectors
from connectors.testing import signed_request
from gateway.cli import main
from gateway.router.targets import TARGETS
from gateway.sinks import SINKS
from tests.helpers.served import Served, base_config, free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = EXAMPLES / "hookgate-connector-example"
PACKAGES = ["hookgate-connector-example", "hookgate-sink-redis", "hookgate-target-nats"]


def _refresh() -> None:
    importlib.invalidate_caches()
    connectors.refresh()
    SINKS.refresh()
    TARGETS.refresh()


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("plugins")
    return {name: root / name for name in PACKAGES}


@pytest.fixture(scope="module")
def plugins_installed(copies: dict[str, Path]) -> Iterator[None]:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    for name, copy in copies.items():
        shutil.copytree(EXAMPLES / name, copy)  # a build leaves files behind: not in the checkout
        subprocess.run([*pip, "install", "--no-deps", str(copy)], check=True, timeout=300)
    _refresh()
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", *PACKAGES], check=True, timeout=120)
        _refresh()


def test_installed_plugin_verifies_deliveries_through_hookgate_serve(
    plugins_installed: None, tmp_path: Path
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


def test_sink_and_target_plugins_deliver_through_hookgate_serve(
    plugins_installed: None, tmp_path: Path
) -> None:
    stream, subject = f"hookgate-e2e-{uuid.uuid4().hex}", f"hookgate.e2e.{uuid.uuid4().hex}"
    jetstream_name = f"E2E{uuid.uuid4().hex}"
    asyncio.run(_jetstream(lambda js: js.add_stream(name=jetstream_name, subjects=[subject])))
    port = free_port()
    config = tmp_path / "hookgate.toml"
    extra = f"""
[sinks.stream]
type = "redis-stream"
url = "redis://127.0.0.1:6379/0"
stream = "{stream}"

[sinks.bus]
type = "router"

[sinks.bus.rules.paid]
event_pattern = {{ "detail-type" = ["invoice.paid"] }}

[[sinks.bus.rules.paid.targets]]
id = "nats"
type = "nats"
subject = "{subject}"
input_path = "$.detail.payload.id"
"""
    text = base_config(tmp_path, port, extra=extra).replace(
        'secrets = ["env:E2E_STRIPE_SECRET"]',
        'secrets = ["env:E2E_STRIPE_SECRET"]\nsinks = ["stream", "bus"]',
        1,
    )
    config.write_text(text)
    served = Served(tmp_path, config, port)
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    served.start()
    try:
        listed = CliRunner().invoke(main, ["sinks"]).output + CliRunner().invoke(main, ["targets"]).output
        assert "redis-stream: appends each event to a Redis stream" in listed
        assert "nats: publishes the rule's input to NATS JetStream" in listed
        for event_id, kind in [("evt_plugin_1", "invoice.paid"), ("evt_plugin_2", "customer.created")]:
            body = stripe_event(event_id, kind)
            response = httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
            assert response.status_code == 200, response.text

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and client.xlen(stream) < 2:
            time.sleep(0.2)
        entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(stream)  # type: ignore[assignment]
        types = sorted(json.loads(fields[b"event"])["detail-type"] for _, fields in entries)
        assert types == ["customer.created", "invoice.paid"]

        async def received(js: Any) -> list[Any]:
            sub = await js.pull_subscribe(subject, durable=None)
            return [json.loads(m.data) for m in await sub.fetch(1, timeout=30)]

        assert asyncio.run(_jetstream(received)) == ["evt_plugin_1"]  # only the paid invoice, as its id
    finally:
        served.stop()
        client.delete(stream)
        client.close()
        asyncio.run(_jetstream(lambda js: js.delete_stream(jetstream_name)))


async def _jetstream(action: Callable[[Any], Awaitable[Any]]) -> Any:
    client = await nats.connect("nats://127.0.0.1:4222")
    try:
        return await action(client.jetstream())
    finally:
        await client.close()


@pytest.mark.parametrize("package", PACKAGES)
def test_the_example_plugins_own_tests_and_type_check_pass(
    plugins_installed: None, copies: dict[str, Path], package: str
) -> None:
    """Each example is a package of its own: its tests and its strict mypy run as its author's would."""
    # hookgate is installed in development mode here, which mypy cannot follow: point it at the source
    env = {**os.environ, "MYPYPATH": str(EXAMPLES.parent)}
    for command in (["pytest", "-q", "-p", "no:cacheprovider", "tests"], ["mypy"]):
        result = subprocess.run(
            [sys.executable, "-m", *command],
            check=False,
            cwd=copies[package],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = f"{result.stdout}\n{result.stderr}"
        assert result.returncode == 0, f"{command[0]} in {package} failed:\n{output}"
