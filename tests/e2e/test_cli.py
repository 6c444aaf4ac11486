"""The inspection commands against what a real `hookgate serve` stored: an event found by
the provider's id, its id prefix or a delivery id, as the JSON documents of the admin API."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.helpers.served import Served, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


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
