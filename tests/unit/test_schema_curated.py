"""Curated schemas: every one shipped is a valid JSON Schema with its licence named, and
the schemas discovered from the recorded Stripe and GitHub fixtures compare with them as
an independent validator (jsonschema) says they should."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the dev extras
import orjson
import pytest

from connectors import Connector
from gateway.events import build_event
from gateway.schemas import Limits, Observation, infer, infer_many, open_registry
from gateway.schemas._curated import (
    NOT_EXTRACTED,
    PROVIDERS,
    Difference,
    compare,
    curated_event_types,
    curated_schema,
)
from tests.catalogue import CATALOGUE

from ._fakes import NOW, FakeClock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CASES = [
    ("stripe", "invoice.paid.json", "invoice.paid"),
    ("stripe", "checkout.session.completed.json", "checkout.session.completed"),
    ("github", "push.json", "push"),
    ("github", "ping.json", "ping"),
    ("github", "pull_request.opened.json", "pull_request.opened"),
]


def fixture(provider: str, name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((FIXTURES / provider / name).read_text(encoding="utf-8"))
    return value


def test_every_curated_schema_is_a_valid_draft4_schema_with_its_licence() -> None:
    counted = 0
    for provider in PROVIDERS:
        types = curated_event_types(provider)
        assert len(types) >= 10
        for detail_type in types:
            curated = curated_schema(provider, detail_type)
            assert curated is not None
            jsonschema.Draft4Validator.check_schema(curated.schema)
            assert curated.schema["$schema"] == "http://json-schema.org/draft-04/schema#"
            assert curated.origin["license"] == "MIT"
            assert curated.origin["copyright"]
            counted += 1
    assert curated_schema("stripe", "no.such.event") is None
    assert curated_schema("acme", "invoice.paid") is None
    notice = (Path(__file__).resolve().parents[2] / "gateway/schemas/curated/NOTICE.md").read_text()
    assert "Copyright (c) 2011- Stripe, Inc." in notice
    assert "@octokit/webhooks-schemas" in notice
    assert counted >= 30


def _discovered(provider: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fixture, and the schema discovered from it as the edge stores it: signed,
    verified, normalized and wrapped in the envelope by the connector."""
    [case] = [c for c in CATALOGUE.values() if c.key == provider]
    payload = fixture(provider, name)
    body = json.dumps(payload).encode()
    url = f"https://hooks.example.com/webhooks/{provider}"
    connector: Connector = case.server()
    request = case.sign(body, NOW, url).request(url)
    connector.verify(request, NOW)
    [provider_event] = connector.normalize(request)
    event = build_event(provider_event, NOW, source=provider, connector=provider, event_source="h")
    return payload, infer(orjson.loads(event.entry)["detail"])


def _pointer(path: Any) -> str:
    return "".join("/items" if isinstance(part, int) else f"/{part}" for part in path)


@pytest.mark.parametrize(("provider", "name", "detail_type"), CASES)
def test_fixtures_compare_with_the_curated_schemas_as_a_validator_says(
    provider: str, name: str, detail_type: str
) -> None:
    payload, discovered = _discovered(provider, name)
    curated = curated_schema(provider, detail_type)
    assert curated is not None
    differences = compare(discovered, curated)
    by_kind: dict[str, set[str]] = {"undocumented": set(), "never_seen": set(), "type_mismatch": set()}
    for difference in differences:
        by_kind[difference.kind].add(difference.path)
    # The oracle: jsonschema finds only missing required properties in these fixtures, so
    # nothing seen is of a type the provider does not document, and each missing required
    # property is reported as never seen.
    errors = list(jsonschema.Draft4Validator(curated.schema).iter_errors(payload))
    assert {e.validator for e in errors} <= {"required"}
    assert by_kind["type_mismatch"] == set()
    missing = {
        f"/payload{_pointer(e.absolute_path)}/{key}"
        for e in errors
        for key in e.validator_value
        if key not in e.instance
    }
    assert missing
    assert missing <= by_kind["never_seen"]
    # Every property reported never seen is one the payload does not have.
    for path in by_kind["never_seen"]:
        node: Any = payload
        *parents, last = path.removeprefix("/payload/").split("/")
        for part in parents:
            node = node[0] if part == "items" else node[part]
        assert last not in node
    if (provider, detail_type) == ("stripe", "invoice.paid"):
        # Stripe documents a list object as data, has_more, object and url; the recorded
        # delivery carries `total_count` too.
        assert by_kind["undocumented"] == {"/payload/data/object/lines/total_count"}
        assert "/payload/account" in by_kind["never_seen"]  # only Connect events have it
    else:
        assert by_kind["undocumented"] == set()


def test_a_drifted_payload_is_reported_property_by_property() -> None:
    invoice = fixture("stripe", "invoice.paid.json")
    drifted = json.loads(json.dumps(invoice))
    drifted["data"]["object"]["amount_paid"] = "4200"
    drifted["data"]["object"]["surprise"] = {"a": 1}
    drifted["livemode"] = None
    discovered = infer_many([invoice, drifted])  # the payload format: the detail is the payload
    assert discovered is not None
    curated = curated_schema("stripe", "invoice.paid")
    assert curated is not None
    found = {(d.kind, d.path): d.detail for d in compare(discovered, curated)}
    assert found[("type_mismatch", "/data/object/amount_paid")] == "seen string; documented integer"
    assert found[("type_mismatch", "/livemode")] == "seen null; documented boolean"
    assert ("undocumented", "/data/object/surprise") in found
    assert not any(path.startswith("/data/object/surprise/") for _, path in found)


def test_an_object_not_extracted_is_not_compared_inside() -> None:
    curated = curated_schema("stripe", "payment_intent.succeeded")
    assert curated is not None
    application = curated.schema["definitions"]["payment_intent"]["properties"]["application"]
    assert {"type": "object", NOT_EXTRACTED: True} in application["anyOf"]  # an expandable resource
    inside: dict[str, Any] = {"type": "object", "properties": {"anything": {"type": "string"}}}
    seen: dict[str, Any] = {
        "type": "object",
        "properties": {"data": {"type": "object", "properties": {"object": {"type": "object", "properties": {
            "id": {"type": "string"},
            "application": inside,
            "customer": inside,
        }}}}},
    }  # fmt: skip
    differences = compare(seen, curated)
    assert Difference("never_seen", "/id", "documented, never seen") in differences
    assert not any(d.path.startswith("/data/object/application/") for d in differences)
    # one of a customer's alternatives (a deleted customer) is not extracted: not compared
    assert not any(d.path.startswith("/data/object/customer/") for d in differences)
    # an embedded object that is extracted is compared inside, and may be null
    methods = {
        "type": ["null", "object"],
        "properties": {"enabled": {"type": "boolean"}, "x": {"type": "string"}},
    }
    seen["properties"]["data"]["properties"]["object"]["properties"]["automatic_payment_methods"] = methods
    differences = compare(seen, curated)
    compared = [d for d in differences if d.path.startswith("/data/object/automatic_payment_methods")]
    assert compared == [
        Difference(
            "undocumented", "/data/object/automatic_payment_methods/x", "seen, not in the provider's schema"
        ),
        Difference(
            "never_seen", "/data/object/automatic_payment_methods/allow_redirects", "documented, never seen"
        ),
    ]


def test_the_compare_command_and_show(tmp_path: Path) -> None:
    from click.testing import CliRunner  # noqa: PLC0415 - only the commands' test needs it

    from gateway.cli import main  # noqa: PLC0415
    from gateway.config import DispatcherSettings, StoreSettings  # noqa: PLC0415
    from gateway.store import open_store  # noqa: PLC0415

    db = tmp_path / "hookgate.db"
    config = tmp_path / "hookgate.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{db}"\n\n[sources.billing]\nconnector = "stripe"\nsecrets = ["whsec_x"]\n'
    )
    _, discovered = _discovered("stripe", "invoice.paid.json")

    async def seed() -> None:
        clock = FakeClock()
        store = open_store(StoreSettings(url=f"sqlite:///{db}"), DispatcherSettings(), clock)
        await store.open()
        try:
            registry = open_registry(store)
            for source in ("billing", "stripe", "acme"):
                observed = Observation(source, f"hookgate.{source}", "invoice.paid", discovered, 1, "e1")
                await registry.record(observed, clock.now, max_versions=10, max_schemas=10, limits=Limits())
        finally:
            await store.close()

    asyncio.run(seed())
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, ["schemas", *args, "--config", str(config)])

    # `billing` is a configured source of the stripe connector
    plain = run("compare", "hookgate.billing@InvoicePaid")
    assert plain.exit_code == 0, plain.output
    assert "against stripe's curated schema" in plain.output
    line = next(x for x in plain.output.splitlines() if "/payload/data/object/lines/total_count" in x)
    assert line.split()[0] == "undocumented"
    document = orjson.loads(run("compare", "hookgate.billing@InvoicePaid", "--json").output)
    assert document["provider"] == "stripe"
    counts = document["counts"]
    assert counts == {
        kind: sum(1 for d in document["differences"] if d["kind"] == kind)
        for kind in ("undocumented", "never_seen", "type_mismatch")
    }
    assert (counts["undocumented"], counts["type_mismatch"]) == (1, 0)
    assert plain.output.splitlines()[-1] == (
        f"{len(document['differences'])} differences: 1 undocumented, "
        f"{counts['never_seen']} never seen, 0 type mismatch"
    )
    assert len(plain.output.splitlines()) == len(document["differences"]) + 3
    shown = orjson.loads(run("show", "hookgate.billing@InvoicePaid").output)
    assert shown["curated"]["counts"] == document["counts"]
    # `stripe` is no configured source: its name is taken as the connector's
    assert (
        orjson.loads(run("compare", "hookgate.stripe@InvoicePaid", "--json").output)["counts"]
        == (document["counts"])
    )
    # no curated schema: none shown, and `compare` says so unless a provider is named
    assert orjson.loads(run("show", "hookgate.acme@InvoicePaid").output)["curated"] is None
    refused = run("compare", "hookgate.acme@InvoicePaid")
    assert refused.exit_code == 1
    assert "no curated schema" in refused.output
    named = run("compare", "hookgate.acme@InvoicePaid", "--provider", "stripe", "--json")
    assert orjson.loads(named.output)["counts"] == document["counts"]
    assert run("compare", "nope@Nope").exit_code == 1
