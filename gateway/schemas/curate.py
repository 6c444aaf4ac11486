"""Make the curated schemas hookgate ships (`gateway/schemas/curated/*.json`) from the
providers' own published schemas, keeping only the event types hookgate compares.

    python -m gateway.schemas.curate github SCHEMA_JSON
    python -m gateway.schemas.curate stripe SPEC3_YAML_OR_JSON

- GitHub: `schema.json` of the npm package `@octokit/webhooks-schemas` (MIT), e.g.
  `npm pack @octokit/webhooks-schemas@7.6.1` and its `package/schema.json`. The event
  definitions named in `GITHUB_EVENTS`, and every definition they refer to, are kept;
  `const` becomes a one-value `enum`, and the keywords Draft 4 does not have (`$comment`,
  `tsAdditionalProperties`, `examples`), each definition's own `$schema` and the
  descriptions are dropped.
- Stripe: `openapi/spec3.yaml` (or `.json`) of Stripe's published OpenAPI specification
  (the `stripe/openapi` repository, MIT). The `event` object is kept, its `data.object`
  typed per event type (`STRIPE_EVENTS`) by the API resources in `STRIPE_OBJECTS` and
  the components they embed, to `STRIPE_DEPTH` references deep; an expandable field's
  resource, and anything deeper, is kept as an object not described further
  (`"x-hookgate-not-extracted": true`). OpenAPI 3.0's `nullable` becomes a `null` type,
  `#/components/schemas/` references become `#/definitions/`, and OpenAPI's own
  keywords, the `x-` extensions and descriptions are dropped.

Each output is one JSON document: `x-hookgate-curated` (provider, where it came from, its
licence), `events` (detail-type → definition), and `definitions` in JSON Schema Draft 4.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

from gateway.schemas._documents import _nullable_to_type_list, walk

OUT = Path(__file__).resolve().parent / "curated"

GITHUB_EVENTS = {
    "ping": "ping$event",
    "push": "push$event",
    "create": "create$event",
    "delete": "delete$event",
    "pull_request.opened": "pull_request$opened",
    "pull_request.closed": "pull_request$closed",
    "pull_request.reopened": "pull_request$reopened",
    "pull_request.synchronize": "pull_request$synchronize",
    "issues.opened": "issues$opened",
    "issues.closed": "issues$closed",
    "issue_comment.created": "issue_comment$created",
    "release.published": "release$published",
    "star.created": "star$created",
    "workflow_run.completed": "workflow_run$completed",
}
GITHUB_SOURCE = {
    "provider": "github",
    "from": "npm package @octokit/webhooks-schemas 7.6.1 (schema.json)",
    "license": "MIT",
    "copyright": "the @octokit/webhooks-schemas authors (Gregor Martynus and the Octokit contributors)",
    "repository": "https://github.com/octokit/webhooks",
}

STRIPE_OBJECTS = (
    "charge",
    "checkout.session",
    "customer",
    "invoice",
    "payment_intent",
    "refund",
    "subscription",
)
STRIPE_EVENTS = {
    "charge.captured": "charge",
    "charge.failed": "charge",
    "charge.refunded": "charge",
    "charge.succeeded": "charge",
    "checkout.session.completed": "checkout.session",
    "checkout.session.expired": "checkout.session",
    "customer.created": "customer",
    "customer.deleted": "customer",
    "customer.updated": "customer",
    "customer.subscription.created": "subscription",
    "customer.subscription.deleted": "subscription",
    "customer.subscription.updated": "subscription",
    "invoice.created": "invoice",
    "invoice.finalized": "invoice",
    "invoice.paid": "invoice",
    "invoice.payment_failed": "invoice",
    "invoice.payment_succeeded": "invoice",
    "payment_intent.canceled": "payment_intent",
    "payment_intent.created": "payment_intent",
    "payment_intent.payment_failed": "payment_intent",
    "payment_intent.succeeded": "payment_intent",
    "refund.created": "refund",
    "refund.updated": "refund",
}
#: How many references deep from an event's object the components are kept.
STRIPE_DEPTH = 1
NOT_EXTRACTED = "x-hookgate-not-extracted"

_DROPPED = {
    "description",
    "$comment",
    "tsAdditionalProperties",
    "examples",
    "example",
    "readOnly",
    "writeOnly",
    "deprecated",
    "discriminator",
    "xml",
    "externalDocs",
    "nullable",
    "$schema",
    "$id",
}


def _clean(schema: dict[str, Any]) -> None:
    """Draft 4 keywords only, in place."""
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    for key in [k for k in schema if k in _DROPPED or k.startswith("x-")]:
        if key != NOT_EXTRACTED:
            del schema[key]


def _refs(schema: Any) -> set[str]:
    found: set[str] = set()

    def visit(node: dict[str, Any]) -> None:
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])

    walk(schema, visit)
    return found


def github(path: Path) -> dict[str, Any]:
    definitions: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["definitions"]
    kept: dict[str, Any] = {}
    todo = list(GITHUB_EVENTS.values())
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept[name] = copy.deepcopy(definitions[name])
        todo.extend(_refs(kept[name]))
    for schema in kept.values():
        walk(schema, _clean)
    return {
        "x-hookgate-curated": GITHUB_SOURCE,
        "events": GITHUB_EVENTS,
        "definitions": dict(sorted(kept.items())),
    }


def _stripe_component(components: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = copy.deepcopy(components[name])

    def expandable(node: dict[str, Any]) -> None:
        """`anyOf: [string, $ref resource]`: the resource, when not one of ours, unread."""
        for key in ("anyOf", "oneOf"):
            options = node.get(key)
            if not isinstance(options, list) or not any(o.get("type") == "string" for o in options):
                continue
            for i, option in enumerate(options):
                ref = option.get("$ref", "")
                if ref and ref.rsplit("/", 1)[-1] not in STRIPE_OBJECTS:
                    options[i] = {"type": "object", NOT_EXTRACTED: True}

    walk(schema, expandable)
    return schema


def stripe(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in {".yaml", ".yml"}:
        import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - only for a YAML specification

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        spec = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    else:
        spec = json.loads(text)
    components: dict[str, Any] = spec["components"]["schemas"]
    kept: dict[str, Any] = {}
    level = ["event", "notification_event_request", *STRIPE_OBJECTS]
    for _ in range(STRIPE_DEPTH + 1):
        deeper: list[str] = []
        for name in level:
            if name in kept:
                continue
            kept[name] = _stripe_component(components, name)
            deeper.extend(_refs(kept[name]) - set(kept))
        level = deeper

    def rewrite(node: dict[str, Any]) -> None:
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            node["$ref"] = f"#/definitions/{name}"
            if name not in kept:
                del node["$ref"]
                node.update({"type": "object", NOT_EXTRACTED: True})
        if node.get("nullable") is True and "type" not in node and isinstance(node.get("anyOf"), list):
            node["anyOf"].append({"type": "null"})  # a nullable `anyOf` of references
        _nullable_to_type_list(node)
        _clean(node)

    for schema in kept.values():
        walk(schema, rewrite)
    for event_type, name in STRIPE_EVENTS.items():
        event = copy.deepcopy(kept["event"])
        event["properties"]["type"] = {"type": "string", "enum": [event_type]}
        data = event["properties"]["data"] = copy.deepcopy(kept["notification_event_data"])
        data["properties"]["object"] = {"$ref": f"#/definitions/{name}"}
        kept[f"event:{event_type}"] = event
    return {
        "x-hookgate-curated": {
            "provider": "stripe",
            "from": f"Stripe's OpenAPI specification, API version {spec['info']['version']}",
            "license": "MIT",
            "copyright": "Copyright (c) 2011- Stripe, Inc.",
            "repository": "https://github.com/stripe/openapi",
        },
        "events": {event_type: f"event:{event_type}" for event_type in STRIPE_EVENTS},
        "definitions": dict(sorted(kept.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("provider", choices=("github", "stripe"))
    parser.add_argument("source", type=Path, help="the provider's published schema (see above)")
    args = parser.parse_args(argv)
    document = github(args.source) if args.provider == "github" else stripe(args.source)
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"{args.provider}.json"
    out.write_text(
        json.dumps(document, indent=1, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    counts = f"{len(document['events'])} event types, {len(document['definitions'])} definitions"
    print(f"{out}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
