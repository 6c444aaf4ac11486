"""A real `hookgate serve` forwarding to EventBridge on a local moto server (boto3 over HTTP):
webhooks reach an SQS queue through a bus rule; an event too large for the bus reaches S3
with a pointer event on the bus."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from tests.helpers.aws import REGION, LocalAws, moto_server, use_offline_env
from tests.helpers.served import GITHUB_SECRET, STRIPE_SECRET, Served, base_config, free_port

pytestmark = pytest.mark.e2e

BUS = "webhooks"
BUCKET = "hookgate-claims"


def queue_for(aws: LocalAws, rule: str, pattern: dict[str, Any]) -> str:
    """An SQS queue receiving what `pattern` matches on the bus; its URL."""
    sqs, events = aws.client("sqs"), aws.client("events")
    url: str = sqs.create_queue(QueueName=rule)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule, EventBusName=BUS, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule, EventBusName=BUS, Targets=[{"Id": rule, "Arn": arn}])
    return url


def receive(aws: LocalAws, url: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(found) >= count, f"{len(found)} of {count} events arrived"
    return found


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LocalAws]:
    """moto with the bus and the claim-check bucket; fake credentials in the environment
    `hookgate serve` inherits."""
    use_offline_env(monkeypatch, tmp_path / "aws")
    with moto_server() as endpoint:
        local = LocalAws(endpoint)
        local.client("events").create_event_bus(Name=BUS)
        local.client("s3").create_bucket(Bucket=BUCKET)
        yield local


@pytest.fixture
def gateway(aws: LocalAws, tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    config = tmp_path / "hookgate.toml"
    sink = f"""
[sinks.bus]
type = "eventbridge"
event_bus_name = "{BUS}"
region = "{REGION}"
endpoint_url = "{aws.endpoint}"
max_request_bytes = 4096
claim_check_bucket = "{BUCKET}"
"""
    config.write_text(base_config(tmp_path, port, extra=sink))
    served = Served(tmp_path, config, port)
    served.start()
    try:
        yield served
    finally:
        served.stop()


def post_stripe(served: Served, payload: dict[str, Any]) -> str:
    event = {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": "invoice.paid",
        "created": int(time.time()),
        "data": {"object": payload},
    }
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, STRIPE_SECRET)
    response = httpx.post(
        f"{served.url}/webhooks/stripe",
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    [event_id] = response.json()["event_ids"]
    return str(event_id)


def post_github(served: Served) -> tuple[str, str]:
    body = json.dumps({"action": "opened", "number": 7, "pull_request": {"id": 1, "title": "Fix"}}).encode()
    delivery = str(uuid.uuid4())
    response = httpx.post(
        f"{served.url}/webhooks/github",
        content=body,
        headers={
            "X-Hub-Signature-256": "sha256="
            + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest(),
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": delivery,
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 200, response.text
    [event_id] = response.json()["event_ids"]
    return str(event_id), delivery


def test_webhooks_reach_a_queue_through_a_bus_rule(aws: LocalAws, gateway: Served) -> None:
    stripe_queue = queue_for(
        aws,
        "stripe-invoices",
        {
            "source": ["hookgate.stripe"],
            "detail-type": ["invoice.paid"],
            "detail": {"payload": {"data": {"object": {"object": ["invoice"]}}}},
        },
    )
    github_queue = queue_for(
        aws, "github-prs", {"source": ["hookgate.github"], "detail-type": [{"prefix": "pull_request."}]}
    )
    stripe_id = post_stripe(gateway, {"id": "in_1", "object": "invoice", "amount_paid": 4200})
    github_id, delivery = post_github(gateway)

    [invoice] = receive(aws, stripe_queue, 1)
    assert invoice["source"] == "hookgate.stripe"
    assert invoice["detail-type"] == "invoice.paid"
    assert invoice["detail"]["metadata"]["event_id"] == stripe_id  # the idempotency key
    assert invoice["detail"]["metadata"]["connector"] == "stripe"
    assert invoice["detail"]["payload"]["data"]["object"] == {
        "id": "in_1",
        "object": "invoice",
        "amount_paid": 4200,
    }

    [pull] = receive(aws, github_queue, 1)
    assert pull["source"] == "hookgate.github"
    assert pull["detail-type"] == "pull_request.opened"
    assert pull["detail"]["metadata"]["event_id"] == github_id
    assert pull["detail"]["metadata"]["dedup_key"] == delivery
    assert pull["detail"]["payload"]["pull_request"]["title"] == "Fix"

    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert 'hookgate_eventbridge_entries_sent_total{sink="bus"} 2.0' in metrics
    assert 'hookgate_deliveries_delivered_total{sink="bus"} 2.0' in metrics


def test_an_event_too_large_for_the_bus_goes_to_s3_with_a_pointer(aws: LocalAws, gateway: Served) -> None:
    pointers = queue_for(
        aws, "claims", {"source": ["hookgate.stripe"], "detail": {"claim_check": {"bucket": [BUCKET]}}}
    )
    lines = [f"line {n}: " + "x" * 90 for n in range(100)]  # ~10 KB, over the 4 KB request limit
    event_id = post_stripe(gateway, {"id": "in_2", "object": "invoice", "lines": lines})

    [event] = receive(aws, pointers, 1)
    assert event["detail-type"] == "invoice.paid"
    claim = event["detail"]["claim_check"]
    assert claim["bucket"] == BUCKET
    assert event["detail"]["metadata"]["event_id"] == event_id
    stored = aws.client("s3").get_object(Bucket=BUCKET, Key=claim["key"])["Body"].read()
    assert len(stored) == claim["size"] > 4096
    assert hashlib.sha256(stored).hexdigest() == claim["sha256"]
    detail = json.loads(stored)
    assert detail["metadata"]["event_id"] == event_id
    assert detail["payload"]["data"]["object"]["lines"] == lines

    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert 'hookgate_eventbridge_entries_offloaded_total{sink="bus"} 1.0' in metrics
