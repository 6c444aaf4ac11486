"""Code bindings over what a real `hookgate serve` stored and delivered: recorded Stripe and
GitHub deliveries go in over HTTP, their events come out of the jsonl sink, a schema is
inferred per (source, detail-type), and each Python style's binding, imported by a fresh
interpreter, parses every delivered event of its type."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.schemas.bindings import STYLES, Style, generate_bindings, package_path, write_bindings
from tests.catalogue import fixture
from tests.helpers.schema_samples import infer
from tests.helpers.served import GITHUB_SECRET, Served, stripe_headers

pytestmark = pytest.mark.e2e

#: Reads events (JSON lines) on stdin and parses each with the binding of its type.
PARSE_ALL = """
import importlib, json, sys
packages = json.loads(sys.argv[1])
counts = {}
for line in sys.stdin:
    event = json.loads(line)
    module = importlib.import_module(packages[event["source"] + " " + event["detail-type"]])
    parsed = module.parse(line)
    assert module.from_event(event) == parsed
    counts[module.__name__] = counts.get(module.__name__, 0) + 1
print(json.dumps(counts, sort_keys=True))
"""


def deliver(served: Served) -> int:
    """Post the recorded Stripe and GitHub deliveries; how many events they make."""
    sent = 0
    with httpx.Client(base_url=served.url) as client:
        for name in ("invoice.paid.json", "checkout.session.completed.json"):
            for n in range(2):  # a second event of each type, another id
                event = json.loads(fixture("stripe", name))
                event["id"] = f"{event['id']}_{n}"
                body = json.dumps(event).encode()
                response = client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
                assert response.status_code == 200, response.text
                sent += 1
        for kind, name in (("push", "push.json"), ("pull_request", "pull_request.opened.json")):
            body = fixture("github", name)
            signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
            headers = {
                "X-Hub-Signature-256": signature,
                "X-GitHub-Event": kind,
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "Content-Type": "application/json",
            }
            response = client.post("/webhooks/github", content=body, headers=headers)
            assert response.status_code == 200, response.text
            sent += 1
    return sent


@pytest.mark.parametrize("style", STYLES)
def test_bindings_parse_every_event_a_served_gateway_delivered(
    served: Served, tmp_path: Path, style: Style
) -> None:
    sent = deliver(served)
    entries = served.wait_for_sink(lambda e: len(e) >= sent)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        groups.setdefault((entry["source"], entry["detail-type"]), []).append(entry)
    assert set(groups) == {
        ("hookgate.stripe", "invoice.paid"),
        ("hookgate.stripe", "checkout.session.completed"),
        ("hookgate.github", "push"),
        ("hookgate.github", "pull_request.opened"),
    }
    out = tmp_path / "bindings"
    packages: dict[str, str] = {}
    for (source, detail_type), events in groups.items():
        schema = infer([e["detail"] for e in events])
        files = generate_bindings(
            schema, source=source, detail_type=detail_type, language="python", style=style
        )
        write_bindings(files, out)
        packages[f"{source} {detail_type}"] = ".".join(package_path(source, detail_type).parts)
    result = subprocess.run(
        [sys.executable, "-c", PARSE_ALL, json.dumps(packages)],
        input=served.sink.read_text(),
        capture_output=True,
        text=True,
        cwd=out,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts == {packages[f"{s} {t}"]: len(events) for (s, t), events in groups.items()}
    assert sum(counts.values()) == sent
