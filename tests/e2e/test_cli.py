"""The inspection commands against what a real `hookgate serve` stored: an event found by
the provider's id, its id prefix or a delivery id, as the JSON documents of the admin API;
the requests log listed and shown, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.served import STRIPE_SECRET, Served, base_config, free_port, stripe_event, stripe_headers
from tests.unit._postgres import postgres_schema

pytestmark = pytest.mark.e2e

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
#: The requests log is kept while the admin API is on.
ADMIN = """
[admin]
tokens = [{ name = "ops", token = "cli-admin-token-0123456789", role = "admin" }]
"""


def test_events_show_finds_a_served_event_by_its_provider_id(served: Served) -> None:
    body = stripe_event("evt_cli_e2e_0001", kind="invoice.paid")
    response = httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.is_success, response.text
    [event_id] = response.json()["event_ids"]
    served.wait_for_sink(lambda entries: len(entries) == 1)

    shown = json.loads(served.cli("events", "show", "evt_cli_e2e_0001", "--json").stdout)
    assert (shown["id"], shown["source"], shown["detail_type"], shown["dedup_key"]) == (
        event_id,
        "stripe",
        "invoice.paid",
        "evt_cli_e2e_0001",
    )
    assert RFC3339.fullmatch(shown["received_at"])
    assert shown["event"]["detail"]["payload"]["id"] == "evt_cli_e2e_0001"
    [delivery] = shown["deliveries"]
    assert (delivery["id"], delivery["sink"], delivery["state"]) == (
        f"{event_id}/archive",
        "archive",
        "delivered",
    )

    # The same event by an id prefix and by its delivery's id; listed by its provider id.
    assert json.loads(served.cli("events", "show", event_id[:13], "--json").stdout) == shown
    assert json.loads(served.cli("events", "show", delivery["id"], "--json").stdout) == shown
    listed = json.loads(served.cli("events", "list", "--provider-id", "evt_cli_e2e_0001", "--json").stdout)
    assert [row["id"] for row in listed["events"]] == [event_id]
    assert json.loads(served.cli("events", "list", "--state", "dead", "--json").stdout) == {"events": []}

    unknown = served.cli("events", "show", "evt_never_sent", check=False)
    assert unknown.returncode == 1
    assert unknown.stderr == f"hookgate: no event matches 'evt_never_sent' in sqlite:///{served.db}\n"


@pytest.fixture(params=["sqlite", "postgres"])
def logging_requests(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """A served gateway keeping the requests log (its admin API is on), on each backend."""
    port = free_port()
    config = base_config(tmp_path, port, extra=ADMIN)
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            store = stack.enter_context(postgres_schema())
            config = config.replace(
                f'url = "sqlite:///{tmp_path / "hookgate.db"}"',
                f'url = "{store["url"]}"\nschema_name = "{store["schema_name"]}"',
            )
        path = tmp_path / "hookgate.toml"
        path.write_text(config)
        gw = Served(tmp_path, path, port)
        gw.start()
        stack.callback(gw.stop)
        yield gw


def test_requests_list_and_show_read_the_requests_log(logging_requests: Served) -> None:
    served = logging_requests
    body = stripe_event("evt_cli_requests_0001")
    accepted = httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert accepted.is_success, accepted.text
    [event_id] = accepted.json()["event_ids"]
    forged_headers = stripe_headers(body, secret="whsec_not_the_configured_secret")
    forged = httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=forged_headers)
    assert forged.status_code == 401
    signature = forged_headers["Stripe-Signature"].split(",v1=")[1]

    def listed(*options: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = json.loads(served.cli("requests", "list", *options, "--json").stdout)[
            "requests"
        ]
        return found

    deadline = time.monotonic() + 20  # a rejected request is written in the next batch
    while len(everything := listed()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    rejected, stored = everything  # newest first
    assert (rejected["status"], rejected["outcome"], rejected["cause"]) == (401, "rejected", "bad_signature")
    assert (stored["status"], stored["outcome"], stored["event_ids"]) == (200, "accepted", [event_id])
    assert rejected["source"] == stored["source"] == "stripe"
    assert rejected["headers"]["stripe-signature"] == "[redacted]"
    assert RFC3339.fullmatch(rejected["received_at"])

    assert listed("--outcome", "rejected") == [rejected]
    assert listed("--outcome", "accepted", "--source", "stripe") == [stored]
    assert listed("--limit", "1") == [rejected]
    assert listed("--since", "1h") == [rejected, stored]
    assert listed("--until", "1h") == []
    assert listed("--since", "1h", "--until", rejected["received_at"]) == [stored]
    assert served.cli("requests", "list", "--source", "github").stdout.startswith("no requests in ")
    quiet = served.cli("requests", "list", "--source", "github", "--json")
    assert json.loads(quiet.stdout) == {"requests": []}
    assert quiet.stderr.startswith("no requests in ")  # stdout stays a JSON document

    lines = served.cli("requests", "list").stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(rejected["id"])
    assert lines[0].split()[3:6] == ["401", "rejected", "127.0.0.1"]
    assert lines[0].endswith("bad_signature")
    assert lines[1].startswith(stored["id"])
    assert event_id in lines[1]

    shown = served.cli("requests", "show", rejected["id"])
    assert json.loads(shown.stdout) == rejected
    assert json.loads(served.cli("requests", "show", stored["id"], "--json").stdout) == stored
    for output in (shown.stdout, served.cli("requests", "list").stdout):
        assert signature not in output
        assert STRIPE_SECRET not in output
    unknown = served.cli("requests", "show", "01890000-0000-7000-8000-000000000000", check=False)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("hookgate: no request '01890000-0000-7000-8000-000000000000' in ")
    bad = served.cli("requests", "list", "--outcome", "maybe", check=False)
    assert bad.returncode == 2
