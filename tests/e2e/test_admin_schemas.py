"""The admin API's schema registry on a real `hookgate serve`, on SQLite and on PostgreSQL.

Stripe deliveries of two types are discovered, then one with a new field makes version 2
(drift under FULL). Through `/api/v1/schemas` a viewer lists them, reads the versions,
exports a version (checked by the OpenAPI and JSON Schema validators, and equal to what
`hookgate schemas export` prints), diffs two versions (the CLI's verdict), downloads
bindings (a Python zip a fresh interpreter imports to parse the stored events, a
TypeScript file equal to the CLI's), and an admin sets the compatibility mode. Names hold
`@` and dots, sent both as they are and percent-encoded.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the dev extras
import pytest
from openapi_spec_validator import validate as validate_openapi

from tests.helpers.admin import ADMIN_TOKEN, VIEWER_TOKEN, Admin, admin_config, admin_gateway, eventually
from tests.helpers.served import free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

NAME = "hookgate.stripe@InvoicePaid"
OTHER = "hookgate.stripe@CustomerCreated"


@pytest.fixture(params=["sqlite", "postgres"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Admin]:
    port = free_port()
    config = admin_config(tmp_path, port, free_port()).replace(
        "tolerance_seconds = 300\n", 'tolerance_seconds = 300\nschema_compatibility = "FULL"\n'
    )
    with admin_gateway(tmp_path, config, port, request.param) as served:
        yield served


def send(gw: Admin, kind: str, **extra: Any) -> str:
    event = json.loads(stripe_event(kind=kind))
    event["data"]["object"].update(extra)
    body = json.dumps(event).encode()
    answer = httpx.post(f"{gw.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert answer.status_code == 200, answer.text
    [event_id] = answer.json()["event_ids"]
    return str(event_id)


def put(gw: Admin, path: str, body: Any, token: str = ADMIN_TOKEN) -> httpx.Response:
    return httpx.put(f"{gw.api}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def raw_get(gw: Admin, raw_path: str, token: str = VIEWER_TOKEN) -> httpx.Response:
    """GET a path exactly as written (httpx would otherwise leave `@` as it is)."""
    return httpx.get(f"{gw.api}{raw_path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_schemas_through_the_admin_api(gateway: Admin) -> None:
    gw = gateway
    first = [send(gw, "invoice.paid"), send(gw, "invoice.paid")]
    send(gw, "customer.created")
    eventually(lambda: len(gw.get("/schemas").json()["schemas"]) == 2)
    eventually(lambda: gw.get(f"/schemas/{NAME}").json()["versions"][0]["event_count"] == 2)
    changed = send(gw, "invoice.paid", discount_code="SPRING")
    eventually(lambda: gw.get(f"/schemas/{NAME}").json()["latest_version"] == "2")

    # -- who may read and change
    assert httpx.get(f"{gw.api}/schemas").status_code == 401
    refused = put(gw, f"/schemas/{NAME}/compatibility", {"mode": "BACKWARD"}, token=VIEWER_TOKEN)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"

    # -- the list, with its drift mark, and filtered by source
    listed = {s["name"]: s for s in gw.get("/schemas").json()["schemas"]}
    assert set(listed) == {NAME, OTHER}
    paid = listed[NAME]
    assert (paid["source"], paid["detail_type"], paid["latest_version"]) == ("stripe", "invoice.paid", "2")
    assert (paid["compatibility"], paid["drift"], paid["drifted_versions"]) == ("FULL", True, ["2"])
    assert listed[OTHER]["drift"] is False
    cli = {s["name"]: s for s in json.loads(gw.cli("schemas", "list", "--json").stdout)["schemas"]}
    assert listed == cli  # one view for the CLI and the API
    assert len(gw.get("/schemas", source="stripe").json()["schemas"]) == 2
    assert gw.get("/schemas", source="github").json() == {"schemas": []}
    assert gw.get("/schemas", sauce="x").status_code == 400

    # -- one schema's versions; the name as it is and percent-encoded
    detail = raw_get(gw, f"/schemas/{quote(NAME, safe='')}").json()
    assert raw_get(gw, f"/schemas/{NAME}").json() == detail
    versions = detail["versions"]
    assert [v["version"] for v in versions] == ["1", "2"]
    assert [v["event_count"] for v in versions] == [2, 1]
    assert versions[0]["sample_event_id"] in first
    assert versions[1]["sample_event_id"] == changed
    assert versions[0]["created_at"] <= versions[1]["created_at"]
    assert (versions[0]["compatible"], versions[1]["compatible"]) == (True, False)
    assert versions[1]["verdict"].startswith("incompatible (FULL)")
    missing = raw_get(gw, "/schemas/hookgate.stripe%40NoSuchThing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"

    # -- a version as a document, equal to the CLI's export
    for fmt in ("openapi3", "jsonschema-draft4"):
        exported = raw_get(gw, f"/schemas/{quote(NAME, safe='')}/versions/2?format={fmt}")
        assert exported.status_code == 200, exported.text
        cli_export = json.loads(gw.cli("schemas", "export", NAME, "--version", "2", "--format", fmt).stdout)
        assert exported.json() == cli_export
    openapi = gw.get(f"/schemas/{NAME}/versions/1").json()  # OpenAPI 3 unless asked
    validate_openapi(openapi)
    assert openapi["components"]["schemas"]["AWSEvent"]["x-amazon-events-detail-type"] == "invoice.paid"
    draft4 = gw.get(f"/schemas/{NAME}/versions/2", format="jsonschema-draft4").json()
    jsonschema.Draft4Validator.check_schema(draft4)
    stored = [e for e in gw.sink_entries() if e["detail-type"] == "invoice.paid"]
    assert len(stored) == 3
    for entry in stored:
        jsonschema.Draft4Validator(draft4).validate(entry)
    assert gw.get(f"/schemas/{NAME}/versions/3").status_code == 404
    assert gw.get(f"/schemas/{NAME}/versions/x").status_code == 404
    assert gw.get(f"/schemas/{NAME}/versions/1", format="avro").status_code == 400

    # -- the diff: the CLI's changes and verdict
    diff = raw_get(gw, f"/schemas/{quote(NAME, safe='')}/diff?from=1&to=2").json()
    assert (diff["from"], diff["to"], diff["compatibility"], diff["checked_as"]) == ("1", "2", "FULL", "FULL")
    [change] = diff["changes"]
    assert change["kind"] == "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
    assert change["path"] == "/payload/data/object/discount_code"
    assert change["compatible"] is False
    assert diff["compatible"] is False
    cli_diff = gw.cli("schemas", "diff", NAME, "1", "2").stdout
    assert f"verdict: {diff['verdict']}" in cli_diff
    assert change["path"] in cli_diff
    back = raw_get(gw, f"/schemas/{NAME}/diff?from=2&to=1").json()
    assert back["changes"][0]["kind"] == "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL"
    assert raw_get(gw, f"/schemas/{NAME}/diff?from=1").status_code == 400
    assert raw_get(gw, f"/schemas/{NAME}/diff?from=1&to=9").status_code == 404
    assert raw_get(gw, f"/schemas/{NAME}/diff?from=0&to=1").status_code == 400

    # -- bindings: a Python zip that parses every stored event; a TypeScript file as the CLI's
    python = gw.get(f"/schemas/{NAME}/bindings", language="python", style="dataclasses")
    assert python.status_code == 200, python.text
    assert python.headers["content-type"] == "application/zip"
    assert python.headers["content-disposition"] == (
        f'attachment; filename="{NAME}-v2-python-dataclasses.zip"'
    )
    unpacked = gw.tmp / "bindings-python"
    with zipfile.ZipFile(io.BytesIO(python.content)) as archive:
        names = archive.namelist()
        archive.extractall(unpacked)
    package = "schema/hookgate/stripe/invoicepaid"
    assert sorted(names) == [f"{package}/__init__.py", f"{package}/_marshal.py", f"{package}/models.py"]
    events = gw.tmp / "invoice-paid.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in stored))
    parsed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom schema.hookgate.stripe.invoicepaid import parse\n"
            "print(sum(1 for line in open(sys.argv[1]) if parse(line).detail_type == 'invoice.paid'))",
            str(events),
        ],
        cwd=unpacked,
        capture_output=True,
        text=True,
        check=True,
    )
    assert parsed.stdout.strip() == "3"
    typescript = gw.get(f"/schemas/{NAME}/bindings", language="typescript", version=1)
    assert typescript.headers["content-disposition"] == f'attachment; filename="{NAME}-v1.ts"'
    out = gw.tmp / "bindings-cli"
    gw.cli("schemas", "bindings", NAME, "--version", "1", "--language", "typescript", "-o", str(out))
    assert typescript.text == (out / package / "index.ts").read_text()
    assert gw.get(f"/schemas/{NAME}/bindings", language="java").status_code == 400
    assert gw.get(f"/schemas/{NAME}/bindings").status_code == 400
    assert gw.get(f"/schemas/{NAME}/bindings", language="python", version=7).status_code == 404

    # -- the compatibility mode, set by an admin
    changed_mode = put(gw, f"/schemas/{quote(NAME, safe='')}/compatibility", {"mode": "backward_transitive"})
    assert changed_mode.status_code == 200, changed_mode.text
    assert changed_mode.json()["compatibility"] == "BACKWARD_TRANSITIVE"
    assert gw.get(f"/schemas/{NAME}").json()["compatibility"] == "BACKWARD_TRANSITIVE"
    cli_list = json.loads(gw.cli("schemas", "list", "--json").stdout)["schemas"]
    assert next(s for s in cli_list if s["name"] == NAME)["compatibility"] == "BACKWARD_TRANSITIVE"
    assert put(gw, f"/schemas/{NAME}/compatibility", {"mode": "SOMETIMES"}).status_code == 400
    assert put(gw, f"/schemas/{NAME}/compatibility", {}).status_code == 400
    assert put(gw, "/schemas/nobody@Nothing/compatibility", {"mode": "NONE"}).status_code == 404
    assert gw.post(f"/schemas/{NAME}/compatibility", {"mode": "NONE"}).status_code == 405

    # -- the OpenAPI document has them; one audit line for the change
    document = gw.get("/openapi.json").json()
    validate_openapi(document)
    assert {
        "/schemas",
        "/schemas/{name}",
        "/schemas/{name}/versions/{version}",
        "/schemas/{name}/diff",
        "/schemas/{name}/bindings",
        "/schemas/{name}/compatibility",
    } <= set(document["paths"])
    assert document["paths"]["/schemas/{name}/compatibility"]["put"]["x-hookgate-role"] == "admin"
    audits = eventually(lambda: [r for r in gw.log_records() if r["event"] == "audit"])
    assert [(a["who"], a["action"], a["schema"], a["mode"]) for a in audits] == [
        ("ops", "schemas.set_compatibility", NAME, "BACKWARD_TRANSITIVE")
    ]
    assert not [r for r in gw.log_records() if r["event"] == "internal_error"]
