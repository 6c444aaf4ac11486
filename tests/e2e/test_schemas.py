"""Schema discovery end to end: Stripe deliveries of two types into a real `hookgate
serve`, then one with a new field that breaks FULL compatibility: the drift event reaches
a jsonl target through a bus rule, the drift metric counts it, and `hookgate schemas`
lists, diffs and exports what was discovered."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the dev extras
import pytest
from openapi_spec_validator import validate as validate_openapi

from tests.helpers.served import Served, base_config, free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

NAME = "hookgate.stripe@InvoicePaid"
RULE = """
[sinks.bus]
type = "router"

[sinks.bus.rules.schema-drift]
event_pattern = '''
{"source": ["hookgate.schemas"], "detail-type": ["Schema Version Created"],
 "detail": {"Compatible": [false]}}
'''

[[sinks.bus.rules.schema-drift.targets]]
id = "alerts"
type = "jsonl"
path = "drift.jsonl"
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    config = tmp_path / "hookgate.toml"
    text = base_config(tmp_path, port, extra=RULE)
    text = text.replace(
        "tolerance_seconds = 300\n", 'tolerance_seconds = 300\nschema_compatibility = "FULL"\n'
    )
    config.write_text(text)
    gw = Served(tmp_path, config, port)
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


def send(served: Served, kind: str, **extra: Any) -> None:
    event = json.loads(stripe_event(kind=kind))
    event["data"]["object"].update(extra)
    body = json.dumps(event).encode()
    answer = httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert answer.status_code == 200, answer.text


def wait(condition: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def listed(served: Served) -> dict[str, dict[str, Any]]:
    document = json.loads(served.cli("schemas", "list", "--json").stdout)
    return {s["name"]: s for s in document["schemas"]}


def test_a_new_field_breaks_full_compatibility_and_is_reported(served: Served) -> None:
    for kind in ("invoice.paid", "invoice.paid", "customer.created"):
        send(served, kind)
    schemas = wait(lambda: len(listed(served)) == 2 and listed(served), "two schemas discovered")
    assert set(schemas) == {NAME, "hookgate.stripe@CustomerCreated"}
    assert schemas[NAME]["latest_version"] == "1"
    assert schemas[NAME]["compatibility"] == "FULL"
    assert not schemas[NAME]["drift"]
    first = json.loads(served.cli("schemas", "show", NAME).stdout)
    assert first["event_count"] == 2

    send(served, "invoice.paid", discount_code="SPRING")
    drift = served.tmp / "drift.jsonl"
    wait(lambda: drift.exists() and drift.read_text().strip(), "the drift event delivered")
    [line] = drift.read_text().splitlines()
    event = json.loads(line)
    assert (event["source"], event["detail-type"]) == ("hookgate.schemas", "Schema Version Created")
    assert event["detail"]["SchemaName"] == NAME
    assert event["detail"]["Version"] == "2"
    assert event["detail"]["Compatible"] is False

    scrape = httpx.get(f"{served.url}/metrics").text
    assert 'hookgate_schema_drift_total{detail_type="invoice.paid",source="stripe"} 1.0' in scrape

    assert listed(served)[NAME]["drifted_versions"] == ["2"]
    plain = served.cli("schemas", "list").stdout
    assert "DRIFT v2" in next(line for line in plain.splitlines() if line.startswith(NAME))
    diff = served.cli("schemas", "diff", NAME, "1", "2").stdout
    assert "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" in diff
    assert "/payload/data/object/discount_code" in diff
    assert "verdict: incompatible (FULL)" in diff
    # Stripe's own schema of an invoice has no `discount_code`: the curated comparison says so
    compared = served.cli("schemas", "compare", NAME).stdout
    line = next(x for x in compared.splitlines() if x.strip().endswith("not in the provider's schema"))
    assert line.split()[:2] == ["undocumented", "/payload/data/object/discount_code"]
    shown = json.loads(served.cli("schemas", "show", NAME).stdout)["curated"]
    assert shown["provider"] == "stripe"
    assert shown["counts"]["undocumented"] == 1
    assert shown["counts"]["type_mismatch"] == 0
    logged = wait(
        lambda: [r for r in served.log_records() if r.get("event") == "schema_drift"], "a drift line"
    )
    assert (logged[0]["schema"], logged[0]["version"], logged[0]["level"]) == (NAME, 2, "warning")

    # The exports pass their validators, and every stored event validates against the
    # version it was counted for (here, each is described by its schema's latest version).
    openapi = json.loads(served.cli("schemas", "export", NAME, "--format", "openapi3").stdout)
    validate_openapi(openapi)
    assert openapi["components"]["schemas"]["AWSEvent"]["x-amazon-events-source"] == "hookgate.stripe"
    with sqlite3.connect(served.db) as conn:
        rows = conn.execute("SELECT detail_type, entry FROM events WHERE source = 'stripe'").fetchall()
    exports = {
        name: json.loads(served.cli("schemas", "export", name, "--format", "jsonschema-draft4").stdout)
        for name in (NAME, "hookgate.stripe@CustomerCreated")
    }
    for detail_type, entry in rows:
        draft4 = exports[NAME if detail_type == "invoice.paid" else "hookgate.stripe@CustomerCreated"]
        jsonschema.Draft4Validator.check_schema(draft4)
        jsonschema.Draft4Validator(draft4).validate(json.loads(entry))
    counts = [
        json.loads(served.cli("schemas", "show", NAME, "--version", v).stdout)["event_count"] for v in "12"
    ]
    assert counts == [2, 1]
