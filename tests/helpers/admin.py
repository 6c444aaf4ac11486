"""The admin API's end-to-end helpers: a real `hookgate serve` with admin and viewer tokens,
on SQLite or PostgreSQL, and the calls a test makes to `/api/v1`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.served import Served, base_config, stripe_event, stripe_headers
from tests.unit._postgres import postgres_schema

ADMIN_TOKEN = "e2e-admin-token-7f3a9c2d5b8e1f4a"
VIEWER_TOKEN = "e2e-viewer-token-2b6d8f0a4c7e9d1b"
WRONG_TOKEN = "e2e-wrong-token-000000000000000"


def admin_config(tmp: Path, port: int, app_port: int, *, extra: str = "") -> str:
    """The end-to-end gateway with a sink whose endpoint is down (`app_port`: nothing
    listens yet; one attempt, then dead), a router rule for paid invoices, and tokens."""
    return base_config(
        tmp,
        port,
        extra=f"""
[sinks.app]
type = "http"
url = "http://127.0.0.1:{app_port}/hooks"
timeout_seconds = 2
retry_policy = {{ max_attempts = 1 }}

[sinks.bus]
type = "router"

[sinks.bus.rules.paid]
event_pattern = '{{"detail-type": ["invoice.paid"]}}'

[[sinks.bus.rules.paid.targets]]
id = "ledger"
type = "jsonl"
path = "{tmp / "ledger.jsonl"}"

[admin]
tokens = [
  {{ name = "ops", token = "env:E2E_ADMIN_TOKEN", role = "admin" }},
  {{ name = "support", token = "env:E2E_VIEWER_TOKEN", role = "viewer" }},
]
{extra}
""",
    )


@dataclass
class Admin(Served):
    """`hookgate serve` with the admin tokens in its environment."""

    admin_port: int | None = None

    def env(self) -> dict[str, str]:
        return super().env() | {"E2E_ADMIN_TOKEN": ADMIN_TOKEN, "E2E_VIEWER_TOKEN": VIEWER_TOKEN}

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.admin_port or self.port}/api/v1"

    def get(self, path: str, token: str = VIEWER_TOKEN, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.api}{path}", params=params, headers=bearer(token), timeout=10)

    def post(self, path: str, body: Any = None, token: str = ADMIN_TOKEN) -> httpx.Response:
        return httpx.post(f"{self.api}{path}", json=body, headers=bearer(token), timeout=10)

    def send_stripe(self, kind: str = "invoice.paid") -> str:
        body = stripe_event(kind=kind)
        answer = httpx.post(f"{self.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
        assert answer.status_code == 200, answer.text
        [event_id] = answer.json()["event_ids"]
        return str(event_id)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def eventually(probe: Callable[[], Any], timeout: float = 20.0) -> Any:
    """What `probe` gives once it gives something true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("the condition was never met")


def started(tmp: Path, config: str, port: int, admin_port: int | None = None) -> Admin:
    path = tmp / "hookgate.toml"
    path.write_text(config)
    gateway = Admin(tmp, path, port, admin_port=admin_port)
    gateway.start()
    return gateway


@contextmanager
def admin_gateway(tmp: Path, config: str, port: int, backend: str) -> Iterator[Admin]:
    """`config` served on `backend` ("sqlite" as written, or "postgres": a fresh schema)."""
    if backend == "sqlite":
        served = started(tmp, config, port)
        try:
            yield served
        finally:
            served.stop()
        return
    with postgres_schema() as store:
        config = config.replace(
            f'url = "sqlite:///{tmp / "hookgate.db"}"',
            f'url = "{store["url"]}"\nschema_name = "{store["schema_name"]}"',
        )
        served = started(tmp, config, port)
        try:
            yield served
        finally:
            served.stop()
