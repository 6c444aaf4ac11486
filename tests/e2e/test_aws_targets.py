"""A real `hookgate serve` whose bus routes Stripe webhooks to AWS targets on a local moto
server: a Step Functions state machine (executions listed with the input they got), an SNS
topic (read back from an SQS subscription) and a Kinesis stream (records read back with
their partition keys); a target whose state machine does not exist is dead-lettered at
once, as EventBridge does, without spending its retries."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.aws import REGION, LocalAws, moto_server, use_offline_env
from tests.helpers.served import Served, base_config, free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

ROLE = "arn:aws:iam::123456789012:role/events"
PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})

ROUTER = """
[sinks.bus]
type = "router"

[sinks.bus.rules.paid]
event_pattern = {{ "source" = ["hookgate.stripe"], "detail-type" = ["invoice.paid"] }}

[[sinks.bus.rules.paid.targets]]
id = "flow"
type = "stepfunctions"
state_machine_arn = "{machine}"
endpoint_url = "{endpoint}"

[sinks.bus.rules.paid.targets.input_transformer]
input_paths_map = {{ event = "$.detail.payload.id", amount = "$.detail.payload.data.object.amount_paid" }}
input_template = '{{"event": <event>, "amount": <amount>, "rule": "<aws.events.rule-name>"}}'

[[sinks.bus.rules.paid.targets]]
id = "fanout"
type = "sns"
topic_arn = "{topic}"
endpoint_url = "{endpoint}"
input_path = "$.detail.payload"

[[sinks.bus.rules.paid.targets]]
id = "stream"
type = "kinesis"
stream_name = "payments"
region = "{region}"
endpoint_url = "{endpoint}"
partition_key_path = "$.detail.payload.data.object.customer"

[sinks.bus.rules.gone]
event_pattern = {{ "detail-type" = ["invoice.paid"] }}

[[sinks.bus.rules.gone.targets]]
id = "flow"
type = "stepfunctions"
state_machine_arn = "{machine}-deleted"
start = "async"
endpoint_url = "{endpoint}"
"""


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LocalAws]:
    """moto, with fake credentials in the environment `hookgate serve` inherits."""
    use_offline_env(monkeypatch, tmp_path / "aws")
    with moto_server() as endpoint:
        yield LocalAws(endpoint)


@pytest.fixture
def shop(aws: LocalAws, tmp_path: Path) -> Iterator[tuple[Served, dict[str, str]]]:
    sns, sqs = aws.client("sns"), aws.client("sqs")
    machine = aws.client("stepfunctions").create_state_machine(name="payments", definition=PASS, roleArn=ROLE)
    topic = sns.create_topic(Name="payments")["TopicArn"]
    queue = sqs.create_queue(QueueName="payments")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    aws.client("kinesis").create_stream(StreamName="payments", ShardCount=2)
    port = free_port()
    config = tmp_path / "hookgate.toml"
    extra = ROUTER.format(
        machine=machine["stateMachineArn"], topic=topic, endpoint=aws.endpoint, region=REGION
    )
    config.write_text(base_config(tmp_path, port, extra=extra))
    served = Served(tmp_path, config, port)
    served.start()
    try:
        yield served, {"machine": machine["stateMachineArn"], "queue": queue}
    finally:
        served.stop()


def post(served: Served, customer: str, amount: int) -> tuple[str, dict[str, Any]]:
    event = json.loads(stripe_event())
    event["data"]["object"].update(customer=customer, amount_paid=amount)
    body = json.dumps(event).encode()
    response = httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 200, response.text
    [event_id] = response.json()["event_ids"]
    return str(event_id), event


def eventually(look: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = look()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_stripe_webhooks_reach_step_functions_sns_and_kinesis(
    aws: LocalAws, shop: tuple[Served, dict[str, str]]
) -> None:
    served, made = shop
    posted = [post(served, customer, 1000 + i) for i, customer in enumerate(["cus_A", "cus_B", "cus_A"])]
    ids = [event_id for event_id, _ in posted]
    payloads = {event["id"]: event for _, event in posted}

    # Step Functions: one execution per event, named after it, with the transformed input.
    sfn = aws.client("stepfunctions")

    def started() -> dict[str, Any]:
        listed = sfn.list_executions(stateMachineArn=made["machine"])["executions"]
        if len(listed) < 3:
            return {}
        return {
            e["name"]: json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
            for e in listed
        }

    executions = eventually(started)
    assert executions == {
        event_id: {"event": event["id"], "amount": event["data"]["object"]["amount_paid"], "rule": "paid"}
        for event_id, event in posted
    }

    # SNS: the Stripe payload, through a raw-delivery SQS subscription.
    sqs = aws.client("sqs")
    messages: list[dict[str, Any]] = []

    def received() -> bool:
        reply = sqs.receive_message(QueueUrl=made["queue"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages.extend(json.loads(m["Body"]) for m in reply.get("Messages", []))
        return len(messages) >= 3

    assert eventually(received)
    assert {m["id"]: m for m in messages} == payloads

    # Kinesis: one record per event, keyed by the customer.
    kinesis = aws.client("kinesis")

    def records() -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for shard in kinesis.describe_stream(StreamName="payments")["StreamDescription"]["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName="payments", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            found.extend(
                (r["PartitionKey"], json.loads(r["Data"])["id"])
                for r in kinesis.get_records(ShardIterator=iterator)["Records"]
            )
        return found if len(found) >= 3 else []

    assert sorted(eventually(records)) == sorted(zip(["cus_A", "cus_B", "cus_A"], ids, strict=True))

    # A state machine that does not exist: dead-lettered at the first attempt, not retried 185 times.
    def dead() -> list[dict[str, Any]]:
        listed = json.loads(served.cli("dlq", "list", "--sink", "bus/gone/flow", "--json").stdout)
        letters: list[dict[str, Any]] = listed["dead_letters"]
        return letters if len(letters) >= 3 else []

    letters = eventually(dead)
    assert sorted(d["event_id"] for d in letters) == sorted(ids)
    for letter in letters:
        assert letter["attempts"] == 1, letter
        assert letter["last_cause"].startswith("NO_RESOURCE: StateMachineDoesNotExist"), letter
    shown = json.loads(served.cli("events", "show", ids[0], "--json").stdout)
    states = {d["sink"]: d["state"] for d in shown["deliveries"]}
    assert states == {
        "archive": "delivered",
        "bus/paid/flow": "delivered",
        "bus/paid/fanout": "delivered",
        "bus/paid/stream": "delivered",
        "bus/gone/flow": "dead",
    }
