"""The router's Step Functions, SNS, Kinesis and Lambda targets against a real moto server
(read back with boto3: executions and their input, SNS to SQS subscriptions, Kinesis
records and their partition keys), and against a local stub of the operations moto does
not answer here (Lambda's Invoke, Step Functions' StartSyncExecution), built from
botocore's service models (`tests.helpers.aws_stub`)."""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from pydantic import ValidationError
from structlog.testing import capture_logs

from gateway.config import parse_settings
from gateway.errors import ConfigError
from gateway.events import Event, isoformat, new_event_id
from gateway.router.bus import Bus
from gateway.router.targets import Delivery, Target, target_types
from gateway.router.targets._aws import batch_outcomes, call_outcome, entry_outcome
from gateway.sinks import Delivered, Permanent, Retry
from tests.helpers.aws import REGION, LocalAws, moto_server, use_offline_env
from tests.helpers.aws_stub import AwsStub, StubError, serve_aws_stub

from .._fakes import NOW

pytestmark = pytest.mark.anyio

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/events"
PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def stripe_event(
    customer: Any = "cus_1", amount: int = 4200, *, replay: str | None = None, at: float = NOW
) -> Event:
    """A stored Stripe event whose payload names a customer (`None`: none), received `at`."""
    event_id = new_event_id(at)
    payload: dict[str, Any] = {"id": f"evt_{event_id[:8]}", "data": {"object": {"amount_paid": amount}}}
    if customer is not None:
        payload["data"]["object"]["customer"] = customer
    entry = {
        "version": "0",
        "id": event_id,
        "detail-type": "invoice.paid",
        "source": "hookgate.stripe",
        "time": isoformat(at),
        "resources": [],
        "detail": {"metadata": {"event_id": event_id}, "payload": payload},
    }
    return Event(
        id=event_id,
        source="stripe",
        dedup_key=payload["id"],
        detail_type="invoice.paid",
        received_at=at,
        entry=json.dumps(entry),
        replay_name=replay,
    )


def delivery(body: Any = None, event: Event | None = None) -> Delivery:
    """The event itself by default; bytes as they are; anything else as its JSON."""
    event = event or stripe_event()
    raw = (
        event.entry.encode()
        if body is None
        else body
        if isinstance(body, bytes)
        else json.dumps(body).encode()
    )
    return Delivery(event, raw)


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fake credentials and a Region for every client of this module."""
    with pytest.MonkeyPatch.context() as env:
        use_offline_env(env, tmp_path_factory.mktemp("aws"))
        yield


@pytest.fixture(scope="module")
def aws(offline: None) -> Iterator[LocalAws]:
    with moto_server() as endpoint:
        yield LocalAws(endpoint)


@pytest.fixture(scope="module")
def stub(offline: None) -> Iterator[AwsStub]:
    with serve_aws_stub() as served:
        yield served


@pytest.fixture
async def opened() -> AsyncIterator[list[Target]]:
    targets: list[Target] = []
    yield targets
    for target in targets:
        await target.close()


def build(opened: list[Target], kind: str, endpoint: str, **options: Any) -> Target:
    target = target_types()[kind].from_config(f"bus/rule/{kind}", {"endpoint_url": endpoint, **options})
    opened.append(target)
    return target


def state_machine(aws: LocalAws, name: str, kind: str = "STANDARD") -> str:
    arn: str = aws.client("stepfunctions").create_state_machine(
        name=name, definition=PASS, roleArn=ROLE, type=kind
    )["stateMachineArn"]
    return arn


def executions(aws: LocalAws, arn: str) -> dict[str, Any]:
    """Name → input of each execution of a state machine."""
    sfn = aws.client("stepfunctions")
    found = sfn.list_executions(stateMachineArn=arn)["executions"]
    return {
        e["name"]: json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in found
    }


def queue(aws: LocalAws, name: str, **attributes: str) -> tuple[str, str]:
    sqs = aws.client("sqs")
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(aws: LocalAws, url: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(found) < count and time.monotonic() < deadline:
        reply = aws.client("sqs").receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        )
        found.extend(reply.get("Messages", []))
    assert len(found) == count, f"{len(found)} of {count} messages arrived"
    return found


def records(aws: LocalAws, stream: str) -> list[dict[str, Any]]:
    """Every record of every shard of a stream."""
    kinesis = aws.client("kinesis")
    found: list[dict[str, Any]] = []
    for shard in kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        found.extend(kinesis.get_records(ShardIterator=iterator)["Records"])
    return found


# -- Step Functions --------------------------------------------------------------------------


async def test_stepfunctions_starts_one_execution_per_event_named_after_it(
    aws: LocalAws, opened: list[Target]
) -> None:
    arn = state_machine(aws, "orders")
    target = build(opened, "stepfunctions", aws.endpoint, state_machine_arn=arn)
    first, second, replayed = stripe_event(), stripe_event("cus_2"), stripe_event(replay="fix-1")
    batch = [delivery({"n": 1}, first), delivery(None, second), delivery({"n": 3}, replayed)]
    assert await target.send(batch) == [Delivered()] * 3
    started = executions(aws, arn)
    assert len(started) == 3
    assert started[first.id] == {"n": 1}
    assert started[second.id] == json.loads(second.entry)
    [replay_name] = set(started) - {first.id, second.id}
    assert len(replay_name) == 64  # a replay's own name: sha256(id/replay-name)

    # A retried start (the first answer lost) is the same execution, not a second one.
    with capture_logs() as logs:
        assert await target.send([delivery({"n": 1}, first)]) == [Delivered()]
        assert await target.send([delivery({"n": 9}, first)]) == [Delivered()]  # name taken: already started
    assert len(executions(aws, arn)) == 3
    assert [e["event"] for e in logs] == ["stepfunctions_execution_exists"]


async def test_stepfunctions_refusals_follow_eventbridge(aws: LocalAws, opened: list[Target]) -> None:
    arn = state_machine(aws, "refusals")
    target = build(opened, "stepfunctions", aws.endpoint, state_machine_arn=arn, start="async")
    too_big = {"x": "y" * 262_144}
    outcomes = await target.send([delivery(b"not json"), delivery(too_big)])
    assert outcomes[0] == Permanent("INVALID_JSON: an execution's input must be JSON; this input is text")
    assert isinstance(outcomes[1], Permanent)
    assert outcomes[1].cause.startswith("too_large: 262153 bytes (limit 262144)")
    assert executions(aws, arn) == {}

    # A state machine that does not exist: dead-lettered at once (EventBridge's NO_RESOURCE).
    missing = build(opened, "stepfunctions", aws.endpoint, state_machine_arn=arn + "-gone", start="async")
    with capture_logs() as logs:
        [outcome] = await missing.send([delivery({"n": 1})])
    assert isinstance(outcome, Permanent)
    assert outcome.cause.startswith("NO_RESOURCE: StateMachineDoesNotExist: ")
    assert [e["event"] for e in logs] == ["stepfunctions_call_failed"]
    assert logs[0]["log_level"] == "warning"


async def test_stepfunctions_express_async_on_moto(aws: LocalAws, opened: list[Target]) -> None:
    arn = state_machine(aws, "express-async", "EXPRESS")
    target = build(opened, "stepfunctions", aws.endpoint, state_machine_arn=arn, start="async")
    event = stripe_event()
    assert await target.send([delivery({"paid": True}, event)]) == [Delivered()]
    assert executions(aws, arn) == {event.id: {"paid": True}}


async def test_stepfunctions_auto_runs_express_workflows_synchronously(
    stub: AwsStub, opened: list[Target]
) -> None:
    """moto answers neither StartSyncExecution nor (for this case) a FAILED run: the stub
    does, as the model describes them."""
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:express"

    def describe(params: dict[str, Any]) -> dict[str, Any]:
        if params["stateMachineArn"] != arn:
            raise StubError("StateMachineDoesNotExist")
        return {
            "stateMachineArn": arn,
            "name": "express",
            "type": "EXPRESS",
            "definition": PASS,
            "roleArn": ROLE,
            "creationDate": NOW,
        }

    def run(params: dict[str, Any]) -> dict[str, Any]:
        given = json.loads(params["input"])
        status = given.get("status", "SUCCEEDED")
        result = {
            "executionArn": f"{arn}:{params['name']}",
            "startDate": NOW,
            "stopDate": NOW,
            "status": status,
        }
        if status == "FAILED":
            result.update(error="States.TaskFailed", cause="card declined")
        return result

    stub.serve("stepfunctions", "DescribeStateMachine", describe)
    stub.serve("stepfunctions", "StartSyncExecution", run)
    stub.calls.clear()
    target = build(opened, "stepfunctions", stub.endpoint, state_machine_arn=arn)
    first = stripe_event()
    outcomes = await target.send(
        [
            delivery({"status": "SUCCEEDED"}, first),
            delivery({"status": "FAILED"}),
            delivery({"status": "TIMED_OUT"}),
        ]
    )
    assert outcomes == [
        Delivered(),
        Permanent("EXECUTION_FAILED: States.TaskFailed: card declined"),
        Retry("EXECUTION_TIMED_OUT"),
    ]
    assert await target.send([delivery({})]) == [Delivered()]
    operations = [c.operation for c in stub.calls]
    assert operations.count("DescribeStateMachine") == 1  # the type is read once
    assert operations.count("StartSyncExecution") == 4
    assert {c.region for c in stub.calls} == {REGION}  # from the ARN, signed for states
    assert first.id in {c.params["name"] for c in stub.calls if c.operation == "StartSyncExecution"}

    unknown = build(opened, "stepfunctions", stub.endpoint, state_machine_arn=arn + "-gone")
    [outcome] = await unknown.send([delivery({})])
    assert isinstance(outcome, Permanent)
    assert outcome.cause.startswith("NO_RESOURCE: StateMachineDoesNotExist")


async def test_stepfunctions_auto_starts_async_when_the_type_cannot_be_read(
    stub: AwsStub, opened: list[Target]
) -> None:
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:private"

    def describe(params: dict[str, Any]) -> dict[str, Any]:
        raise StubError("AccessDeniedException", "not authorized to perform states:DescribeStateMachine")

    def start(params: dict[str, Any]) -> dict[str, Any]:
        return {"executionArn": f"{arn}:{params['name']}", "startDate": NOW}

    stub.serve("stepfunctions", "DescribeStateMachine", describe)
    stub.serve("stepfunctions", "StartExecution", start)
    stub.calls.clear()
    target = build(opened, "stepfunctions", stub.endpoint, state_machine_arn=arn)
    with capture_logs() as logs:
        assert await target.send([delivery({"n": 1}), delivery({"n": 2})]) == [Delivered()] * 2
        assert await target.send([delivery({"n": 3})]) == [Delivered()]
    assert [c.operation for c in stub.calls] == ["DescribeStateMachine", *["StartExecution"] * 3]
    assert [e["event"] for e in logs] == ["stepfunctions_call_failed", "stepfunctions_starts_async"]


def test_stepfunctions_options_are_checked() -> None:
    cls = target_types()["stepfunctions"]
    with pytest.raises(ValidationError, match="state_machine_arn"):
        cls.from_config("t", {"state_machine_arn": "arn:aws:sqs:us-east-1:123456789012:q"})
    with pytest.raises(ValidationError, match="start"):
        cls.from_config(
            "t", {"state_machine_arn": f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:m", "start": "x"}
        )
    options = cls.from_config(
        "t", {"state_machine_arn": f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:m:prod"}
    )
    assert options.options.region_name() == "eu-west-1"  # type: ignore[attr-defined]


# -- SNS -------------------------------------------------------------------------------------


async def test_sns_publishes_to_subscriptions_raw_or_wrapped(aws: LocalAws, opened: list[Target]) -> None:
    sns = aws.client("sns")
    topic = sns.create_topic(Name="payments")["TopicArn"]
    wrapped_url, wrapped_arn = queue(aws, "wrapped")
    raw_url, raw_arn = queue(aws, "raw")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=wrapped_arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    target = build(opened, "sns", aws.endpoint, topic_arn=topic, max_message_bytes=2048)
    outcomes = await target.send(
        [delivery({"n": 1}), delivery(b"text \x00"), delivery(b"x" * 2049), delivery(b"plain text")]
    )
    assert outcomes == [
        Delivered(),
        Permanent("invalid_characters: a character SNS refuses in a message"),
        Permanent("too_large: 2049 bytes (limit 2048)"),
        Delivered(),
    ]
    raw = sorted(m["Body"] for m in receive(aws, raw_url, 2))
    assert raw == sorted([json.dumps({"n": 1}), "plain text"])
    envelopes = [json.loads(m["Body"]) for m in receive(aws, wrapped_url, 2)]
    assert {e["Type"] for e in envelopes} == {"Notification"}
    assert {e["TopicArn"] for e in envelopes} == {topic}
    assert sorted(e["Message"] for e in envelopes) == raw


async def test_sns_fifo_groups_come_from_the_event_and_dedup_from_its_id(
    aws: LocalAws, opened: list[Target]
) -> None:
    sns = aws.client("sns")
    topic = sns.create_topic(Name="ledger.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, arn = queue(aws, "ledger.fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    target = build(
        opened,
        "sns",
        aws.endpoint,
        topic_arn=topic,
        message_group_id_path="$.detail.payload.data.object.customer",
    )
    first, second = stripe_event("cus_A"), stripe_event(17)
    outcomes = await target.send(
        [delivery({"n": 1}, first), delivery({"n": 2}, second), delivery({}, stripe_event(None))]
    )
    assert outcomes[:2] == [Delivered(), Delivered()]
    assert outcomes[2] == Permanent(
        "INVALID_PARAMETER: message_group_id_path $.detail.payload.data.object.customer finds no group id "
        "(1 to 128 printable ASCII characters) in this event"
    )
    messages = receive(aws, url, 2)
    groups = {json.loads(m["Body"])["n"]: m["Attributes"]["MessageGroupId"] for m in messages}
    assert groups == {1: "cus_A", 2: "17"}
    dedup = {json.loads(m["Body"])["n"]: m["Attributes"]["MessageDeduplicationId"] for m in messages}
    assert dedup == {1: first.id, 2: second.id}

    with pytest.raises(ValidationError, match="FIFO topic needs message_group_id"):
        target_types()["sns"].from_config("t", {"topic_arn": topic})
    with pytest.raises(ValidationError, match="message groups are for FIFO topics"):
        target_types()["sns"].from_config("t", {"topic_arn": topic[:-5], "message_group_id": "g"})


async def test_sns_a_missing_topic_is_dead_lettered(aws: LocalAws, opened: list[Target]) -> None:
    target = build(opened, "sns", aws.endpoint, topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:absent")
    [outcome] = await target.send([delivery({"n": 1})])
    assert isinstance(outcome, Permanent)
    assert outcome.cause.startswith("NO_RESOURCE: NotFound")


# -- Kinesis ---------------------------------------------------------------------------------


async def test_kinesis_records_carry_the_event_id_or_the_path_as_partition_key(
    aws: LocalAws, opened: list[Target]
) -> None:
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName="by-id", ShardCount=2)
    kinesis.create_stream(StreamName="by-customer", ShardCount=1)
    arn = kinesis.describe_stream(StreamName="by-customer")["StreamDescription"]["StreamARN"]
    events = [stripe_event("cus_A"), stripe_event("cus_B"), stripe_event(42)]
    by_id = build(opened, "kinesis", aws.endpoint, stream_name="by-id")
    assert await by_id.send([delivery({"i": i}, e) for i, e in enumerate(events)]) == [Delivered()] * 3
    found = {r["PartitionKey"]: json.loads(r["Data"]) for r in records(aws, "by-id")}
    assert found == {e.id: {"i": i} for i, e in enumerate(events)}

    by_customer = build(
        opened,
        "kinesis",
        aws.endpoint,
        stream_name=arn,
        partition_key_path="$.detail.payload.data.object.customer",
    )
    outcomes = await by_customer.send([delivery(None, e) for e in [*events, stripe_event(None)]])
    assert outcomes[:3] == [Delivered()] * 3
    assert isinstance(outcomes[3], Permanent)
    assert outcomes[3].cause.startswith(
        "INVALID_PARAMETER: partition_key_path $.detail.payload.data.object.customer"
    )
    found_keys = [(r["PartitionKey"], json.loads(r["Data"])["id"]) for r in records(aws, "by-customer")]
    assert found_keys == [("cus_A", events[0].id), ("cus_B", events[1].id), ("42", events[2].id)]


async def test_kinesis_a_missing_stream_is_dead_lettered(aws: LocalAws, opened: list[Target]) -> None:
    target = build(opened, "kinesis", aws.endpoint, stream_name="absent")
    outcomes = await target.send([delivery({"n": 1}), delivery({"n": 2})])
    assert [type(o) for o in outcomes] == [Permanent, Permanent]
    assert outcomes[0].cause.startswith("NO_RESOURCE: ResourceNotFoundException: ")  # type: ignore[union-attr]


def test_kinesis_per_record_failures_become_per_event_outcomes() -> None:
    assert entry_outcome("ProvisionedThroughputExceededException", "slow down", sender_fault=True) == Retry(
        "ProvisionedThroughputExceededException: slow down"
    )
    assert entry_outcome("InternalFailure", "", sender_fault=True) == Retry("InternalFailure")
    assert entry_outcome("KMSAccessDeniedException", "no", sender_fault=True) == Permanent(
        "NO_PERMISSIONS: KMSAccessDeniedException: no"
    )
    assert entry_outcome("KMSDisabledException", "off", sender_fault=True) == Permanent(
        "KMSDisabledException: off"
    )


# -- Lambda ----------------------------------------------------------------------------------


async def test_lambda_on_moto_without_a_container_engine(aws: LocalAws, opened: list[Target]) -> None:
    """moto's Lambda without Docker accepts an asynchronous Invoke (202) and runs nothing;
    it accepts one of a function that does not exist too, so the outcomes are tested on the stub."""
    answer = await asyncio.to_thread(
        httpx.post, f"{aws.endpoint}/moto-api/config", json={"lambda": {"use_docker": False}}
    )
    answer.raise_for_status()
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return event\n")
    aws.client("iam").create_role(RoleName="events", AssumeRolePolicyDocument="{}")
    aws.client("lambda").create_function(
        FunctionName="payments",
        Runtime="python3.12",
        Role=ROLE,
        Handler="handler.handle",
        Code={"ZipFile": code.getvalue()},
    )
    target = build(opened, "lambda", aws.endpoint, function_name="payments")
    assert await target.send([delivery({"n": 1})]) == [Delivered()]


async def test_lambda_invokes_asynchronously_with_the_input(stub: AwsStub, opened: list[Target]) -> None:
    functions = {"payments", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:payments"}
    throttled = [True] * 3  # every attempt botocore makes (adaptive mode: 3) of the first call

    def invoke(params: dict[str, Any]) -> dict[str, Any]:
        if params["FunctionName"] not in functions:
            raise StubError("ResourceNotFoundException", "Function not found")
        if json.loads(params["Payload"]).get("busy") and throttled and throttled.pop():
            raise StubError("TooManyRequestsException", "Rate exceeded")
        return {"StatusCode": 202}

    stub.serve("lambda", "Invoke", invoke)
    stub.calls.clear()
    target = build(
        opened, "lambda", stub.endpoint, function_name="payments", qualifier="live", max_payload_bytes=1024
    )
    outcomes = await target.send(
        [delivery({"n": 1}), delivery(b"text"), delivery({"x": "y" * 1024}), delivery({"busy": True})]
    )
    assert outcomes[:3] == [
        Delivered(),
        Permanent("INVALID_JSON: a Lambda payload must be JSON; this input is text"),
        Permanent("too_large: 1033 bytes (limit 1024)"),
    ]
    assert isinstance(outcomes[3], Retry)
    assert outcomes[3].cause.startswith("TooManyRequestsException")
    assert await target.send([delivery({"busy": True})]) == [Delivered()]
    invoked = [c.params for c in stub.calls if c.operation == "Invoke"]
    assert {p["InvocationType"] for p in invoked} == {"Event"}
    assert {p["Qualifier"] for p in invoked} == {"live"}
    assert json.loads(invoked[0]["Payload"]) in ({"n": 1}, {"busy": True})

    by_arn = build(
        opened, "lambda", stub.endpoint, function_name=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:payments"
    )
    assert await by_arn.send([delivery({"n": 2})]) == [Delivered()]
    assert stub.calls[-1].region == "eu-west-1"  # from the ARN

    missing = build(opened, "lambda", stub.endpoint, function_name="absent")
    [outcome] = await missing.send([delivery({"n": 3})])
    assert outcome == Permanent("NO_RESOURCE: ResourceNotFoundException: Function not found")


# -- CloudWatch Logs -------------------------------------------------------------------------


def event_time(event: Event) -> int:
    """The envelope's `time` (seconds), in epoch milliseconds."""
    stamp = json.loads(event.entry)["time"].replace("Z", "+00:00")
    return int(datetime.fromisoformat(stamp).timestamp()) * 1000


async def test_cloudwatch_logs_writes_log_events_in_time_order(aws: LocalAws, opened: list[Target]) -> None:
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/hookgate/payments")
    now = time.time()
    later, earlier = stripe_event("cus_L", at=now - 60), stripe_event("cus_E", at=now - 120)
    target = build(opened, "cloudwatch-logs", aws.endpoint, log_group_name="/hookgate/payments")
    stamp = "2026-01-01T00:00:00Z"
    outcomes = await target.send(
        [
            delivery(None, later),  # the whole event, at the event's time
            delivery({"timestamp": int((now - 90) * 1000), "message": {"paid": True}}),  # EventBridge's form
            delivery(b"plain text", earlier),
            delivery({"timestamp": stamp, "message": "old"}),
            delivery({"timestamp": "yesterday", "message": "?"}),
        ]
    )
    assert outcomes == [
        Delivered(),
        Delivered(),
        Delivered(),
        Permanent("TOO_OLD: older than CloudWatch Logs accepts (14 days)"),
        Permanent("INVALID_PARAMETER: the input's timestamp is neither ISO 8601 nor epoch milliseconds"),
    ]
    found = logs.get_log_events(
        logGroupName="/hookgate/payments", logStreamName="hookgate", startFromHead=True
    )
    written = [(e["timestamp"], e["message"]) for e in found["events"]]
    assert written == [
        (event_time(earlier), "plain text"),
        (int((now - 90) * 1000), '{"paid": true}'),
        (event_time(later), later.entry),
    ]
    # The stream exists now: a second target on it does not fail to create it.
    again = build(opened, "cloudwatch-logs", aws.endpoint, log_group_name="/hookgate/payments")
    assert await again.send([delivery({"n": 1}, stripe_event(at=now))]) == [Delivered()]

    missing = build(opened, "cloudwatch-logs", aws.endpoint, log_group_name="/hookgate/absent")
    [outcome] = await missing.send([delivery({"n": 1}, stripe_event(at=now))])
    assert isinstance(outcome, Permanent)
    assert outcome.cause.startswith("NO_RESOURCE: ResourceNotFoundException")


async def test_cloudwatch_logs_calls_span_a_day_and_rejections_are_per_event(opened: list[Target]) -> None:
    """botocore's Stubber checks each call against the service model and answers what
    CloudWatch Logs answers when it rejects log events for their time (end indexes exclusive)."""
    import boto3  # noqa: PLC0415
    from botocore.stub import ANY, Stubber  # noqa: PLC0415

    now = time.time()
    target = target_types()["cloudwatch-logs"].from_config("t", {"log_group_name": "g", "region": REGION})
    opened.append(target)
    client = boto3.client("logs", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b")
    target._client = client  # type: ignore[attr-defined]
    stamps = [now - 3 * 86_400, now - 3 * 86_400 + 1, now - 60, now - 30, now]
    deliveries = [delivery({"timestamp": int(t * 1000), "message": f"m{i}"}) for i, t in enumerate(stamps)]
    with Stubber(client) as stubber:
        stubber.add_response("create_log_stream", {}, {"logGroupName": "g", "logStreamName": "hookgate"})
        first_day = {"logGroupName": "g", "logStreamName": "hookgate", "logEvents": ANY}
        stubber.add_response(
            "put_log_events", {"rejectedLogEventsInfo": {"expiredLogEventEndIndex": 1}}, first_day
        )
        stubber.add_response(
            "put_log_events",
            {"rejectedLogEventsInfo": {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 2}},
            first_day,
        )
        outcomes = await target.send(list(reversed(deliveries)))  # any order in, time order out
        stubber.assert_no_pending_responses()
    assert list(reversed(outcomes)) == [
        Permanent("EXPIRED: older than the log group's retention"),
        Delivered(),
        Permanent("TOO_OLD: older than CloudWatch Logs accepts (14 days)"),
        Delivered(),
        Permanent("TOO_NEW: more than 2 hours ahead"),
    ]


# -- input transformers, configuration, failures ------------------------------------------


async def test_input_transformers_apply_to_every_aws_target(aws: LocalAws) -> None:
    arn = state_machine(aws, "transformed")
    aws.client("kinesis").create_stream(StreamName="transformed", ShardCount=1)
    topic = aws.client("sns").create_topic(Name="transformed")["TopicArn"]
    url, queue_arn = queue(aws, "transformed")
    aws.client("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    transformer = {
        "input_paths_map": {"customer": "$.detail.payload.data.object.customer"},
        "input_template": '{"customer": <customer>, "rule": "<aws.events.rule-name>"}',
    }
    common = {"endpoint_url": aws.endpoint, "input_transformer": transformer}
    bus_table = {
        "type": "router",
        "rules": {
            "paid": {
                "event_pattern": {"detail-type": ["invoice.paid"]},
                "targets": [
                    {"id": "flow", "type": "stepfunctions", "state_machine_arn": arn, **common},
                    {"id": "fanout", "type": "sns", "topic_arn": topic, **common},
                    {
                        "id": "stream",
                        "type": "kinesis",
                        "stream_name": "transformed",
                        "partition_key_path": "$.detail.payload.data.object.customer",
                        **common,
                    },
                ],
            }
        },
    }
    bus = Bus("bus", parse_settings({"sinks": {"bus": bus_table}}, env={}).buses["bus"])
    event = stripe_event("cus_T")
    expected = {"customer": "cus_T", "rule": "paid"}
    targets = bus.targets()
    try:
        for name in ("bus/paid/flow", "bus/paid/fanout", "bus/paid/stream"):
            assert await targets[name].deliver([event]) == [Delivered()]
    finally:
        for target in targets.values():
            await target.close()
    assert executions(aws, arn) == {event.id: expected}
    assert json.loads(receive(aws, url, 1)[0]["Body"]) == expected
    [record] = records(aws, "transformed")
    assert (record["PartitionKey"], json.loads(record["Data"])) == (
        "cus_T",
        expected,
    )  # the key from the event


def test_configuration_errors_name_the_key() -> None:
    def error(target: dict[str, Any]) -> ConfigError:
        bus = {
            "type": "router",
            "rules": {"r": {"event_pattern": {"source": ["x"]}, "targets": [{"id": "t", **target}]}},
        }
        with pytest.raises(ConfigError) as info:
            parse_settings({"sinks": {"bus": bus}}, env={})
        return info.value

    found = error({"type": "kinesis", "stream_name": "s", "partition_key_path": "$.detail[*]"})
    assert found.key == "sinks.bus.rules.r.targets[0].partition_key_path"
    assert "wildcard" in str(found)
    found = error(
        {"type": "sns", "topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t", "message_group_id_path": "detail"}
    )
    assert found.key == "sinks.bus.rules.r.targets[0].message_group_id_path"
    found = error({"type": "lambda", "function_name": "has space"})
    assert found.key == "sinks.bus.rules.r.targets[0].function_name"
    found = error({"type": "stepfunctions"})
    assert found.key == "sinks.bus.rules.r.targets[0].state_machine_arn"


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 400, Retry("ThrottlingException: m")),
        ("TooManyRequestsException", 429, Retry("TooManyRequestsException: m")),
        ("ServiceException", 500, Retry("ServiceException: m")),
        ("Whatever", 503, Retry("Whatever: m")),
        ("ExecutionLimitExceeded", 400, Retry("ExecutionLimitExceeded: m")),
        ("ResourceNotFoundException", 404, Permanent("NO_RESOURCE: ResourceNotFoundException: m")),
        ("StateMachineDoesNotExist", 400, Permanent("NO_RESOURCE: StateMachineDoesNotExist: m")),
        ("AccessDeniedException", 403, Permanent("NO_PERMISSIONS: AccessDeniedException: m")),
        ("AuthorizationError", 403, Permanent("NO_PERMISSIONS: AuthorizationError: m")),
        ("ValidationException", 400, Permanent("ValidationException: m")),
        ("InvalidExecutionInput", 400, Permanent("InvalidExecutionInput: m")),
        ("UnrecognizedClientException", 400, Retry("UnrecognizedClientException: m", charge=False)),
        ("ExpiredTokenException", 400, Retry("ExpiredTokenException: m", charge=False)),
        # SQS, as every other target: a missing queue or key, or a key refused, is final
        (
            "AWS.SimpleQueueService.NonExistentQueue",
            400,
            Permanent("NO_RESOURCE: AWS.SimpleQueueService.NonExistentQueue: m"),
        ),
        ("KmsNotFound", 400, Permanent("NO_RESOURCE: KmsNotFound: m")),
        ("KmsAccessDenied", 400, Permanent("NO_PERMISSIONS: KmsAccessDenied: m")),
        ("KmsThrottled", 400, Retry("KmsThrottled: m")),
        ("KmsDisabled", 400, Permanent("KmsDisabled: m")),
    ],
)
def test_failed_calls_are_classified_as_eventbridge_does(
    code: str, status: int, expected: Retry | Permanent
) -> None:
    assert call_outcome(_client_error(code, status)) == expected


def test_missing_credentials_are_retried_without_charge() -> None:
    outcome = call_outcome(NoCredentialsError())
    assert isinstance(outcome, Retry)
    assert outcome.charge is False


def test_a_batch_response_gives_each_entry_its_outcome() -> None:
    """SQS `SendMessageBatch` and SNS `PublishBatch` answer alike: one reading for both."""
    call = [(i, {"Id": str(i)}) for i in range(5)]
    response = {
        "Successful": [{"Id": "0", "MessageId": "m0"}],
        "Failed": [
            {"Id": "1", "Code": "KmsThrottled", "SenderFault": False},
            {"Id": "2", "Code": "InvalidParameterValue", "Message": "bad", "SenderFault": True},
            {"Id": "3", "Code": "NotFound", "SenderFault": True},
        ],
    }
    assert batch_outcomes(call, response) == [
        Delivered(),
        Retry("KmsThrottled"),
        Permanent("InvalidParameterValue: bad"),
        Permanent("NO_RESOURCE: NotFound"),
        Retry("bad_response: no result for the entry"),
    ]
