"""Lambda mode: `gateway.aws_lambda` invoked with API Gateway (HTTP API payloads 2.0 and 1.0,
REST API) and function URL events carrying signed Stripe and GitHub deliveries, against a
local moto server: the bus (a rule into an SQS queue), the DynamoDB dedup table, and the
secrets in Secrets Manager and Parameter Store. The events (tests/fixtures/aws_lambda) follow
AWS's documented examples of each payload; each test puts a delivery's path, headers and
body in."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from structlog.testing import capture_logs

import connectors
from connectors import WebhookRequest
from connectors.testing import signed_request, tamper
from gateway.app import build_source
from gateway.aws_lambda import DedupTable, DirectStore, LambdaHandler, create_handler, lambda_settings
from gateway.config import parse_settings
from gateway.errors import ConfigError, StoreError
from gateway.events import Event
from gateway.secrets import AwsSecrets
from gateway.sinks import Delivered, MemorySink, Outcome, Permanent
from gateway.store import DeliveryQueue, StoreAdmin
from tests.helpers.aws import Context, LocalAws, aws_event, invoke, moto_server, use_offline_env
from tests.helpers.served import GITHUB_SECRET, STRIPE_SECRET
from tests.unit._fakes import FakeClock, make_event

pytestmark = pytest.mark.e2e

BUS = "webhooks"
QUEUE = "hookgate-events"
TABLE = "hookgate-dedup"
RETENTION = 3600
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STRIPE_BODY = (FIXTURES / "stripe" / "invoice.paid.json").read_bytes()
STRIPE_EVENT_ID = json.loads(STRIPE_BODY)["id"]
GITHUB_BODY = (FIXTURES / "github" / "pull_request.opened.json").read_bytes()
CONFIG = f"""
[store]
dedup_retention_seconds = {RETENTION}

[sources.stripe]
connector = "stripe"
secrets = ["secretsmanager:lambda-e2e/stripe"]

[sources.github]
connector = "github"
secrets = ["ssm:/lambda-e2e/github"]

[sinks.bus]
type = "eventbridge"
event_bus_name = "{BUS}"
"""


def create_bus(aws: LocalAws) -> None:
    """The bus, with a rule sending every hookgate event to a queue."""
    events, sqs = aws.client("events"), aws.client("sqs")
    events.create_event_bus(Name=BUS)
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = json.dumps({"source": [{"prefix": "hookgate."}]})
    events.put_rule(Name="all", EventBusName=BUS, EventPattern=pattern, State="ENABLED")
    events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])


def delete_bus(aws: LocalAws) -> None:
    events = aws.client("events")
    events.remove_targets(Rule="all", EventBusName=BUS, Ids=["q"])
    events.delete_rule(Name="all", EventBusName=BUS)
    events.delete_event_bus(Name=BUS)


def on_the_bus(aws: LocalAws) -> list[dict[str, Any]]:
    """Every event the rule delivered so far (moto delivers during PutEvents)."""
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def dedup_items(aws: LocalAws) -> dict[str, dict[str, Any]]:
    items = aws.client("dynamodb").scan(TableName=TABLE)["Items"]
    return {item["pk"]["S"]: {k: next(iter(v.values())) for k, v in item.items()} for item in items}


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """moto on a free port; boto3 everywhere in this process pointed at it by environment."""
    home = tmp_path_factory.mktemp("aws")
    with moto_server() as endpoint, pytest.MonkeyPatch.context() as mp:
        use_offline_env(mp, home, endpoint=endpoint)
        yield LocalAws(endpoint)


@pytest.fixture
def aws(moto: LocalAws) -> LocalAws:
    """A fresh account: the bus and its queue, the dedup table, the sources' secrets."""
    moto.reset()
    create_bus(moto)
    dynamodb = moto.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    moto.client("secretsmanager").create_secret(Name="lambda-e2e/stripe", SecretString=STRIPE_SECRET)
    moto.client("ssm").put_parameter(Name="/lambda-e2e/github", Value=GITHUB_SECRET, Type="SecureString")
    return moto


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "hookgate.toml"
    path.write_text(CONFIG)
    return path


def lambda_env(config: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "HOOKGATE_CONFIG": str(config), **extra}


@pytest.fixture
def lam(aws: LocalAws, config: Path, clock: FakeClock) -> Iterator[LambdaHandler]:
    """The handler as Lambda builds it: configuration from the file and the environment."""
    handler = create_handler(env=lambda_env(config, HOOKGATE_LAMBDA__DEDUP_TABLE=TABLE), clock=clock)
    try:
        yield handler
    finally:
        handler.close()


def stripe_delivery(now: float, body: bytes = STRIPE_BODY) -> WebhookRequest:
    connector = connectors.load("stripe").from_config({"secrets": [STRIPE_SECRET]})
    return signed_request(connector, body, now=now)


def github_delivery(now: float) -> WebhookRequest:
    connector = connectors.load("github").from_config({"secrets": [GITHUB_SECRET]})
    return signed_request(connector, GITHUB_BODY, now=now)


# -- deliveries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "source"),
    [
        ("http-api-v2", "stripe"),
        ("http-api-v1", "github"),
        ("rest-api", "github"),
        ("function-url", "stripe"),
    ],
)
def test_a_signed_delivery_is_on_the_bus_before_the_200(
    aws: LocalAws, lam: LambdaHandler, clock: FakeClock, kind: str, source: str
) -> None:
    request = stripe_delivery(clock()) if source == "stripe" else github_delivery(clock())
    status, answer = invoke(lam, aws_event(kind, source, request))

    assert status == 200, answer
    assert answer["status"] == "accepted"
    [event_id] = answer["event_ids"]
    [event] = on_the_bus(aws)
    assert event["source"] == f"hookgate.{source}"
    assert event["detail"]["metadata"]["event_id"] == event_id
    assert event["detail"]["payload"] == json.loads(request.body)
    dedup_key = STRIPE_EVENT_ID if source == "stripe" else request.headers["x-github-delivery"]
    assert event["detail"]["metadata"]["dedup_key"] == dedup_key
    item = dedup_items(aws)[f"{source}#{dedup_key}"]
    assert item["event_id"] == event_id
    assert item["state"] == "done"
    assert int(item["expires_at"]) == math.ceil(clock() + RETENTION)


def test_a_base64_body_arrives_byte_for_byte(aws: LocalAws, lam: LambdaHandler, clock: FakeClock) -> None:
    body = json.dumps({**json.loads(STRIPE_BODY), "note": "caf\u00e9 \u2603"}, ensure_ascii=False).encode()
    status, answer = invoke(
        lam, aws_event("function-url", "stripe", stripe_delivery(clock(), body), encode=True)
    )

    assert status == 200, answer
    [event] = on_the_bus(aws)
    assert event["detail"]["payload"]["note"] == "caf\u00e9 \u2603"


@pytest.mark.parametrize("kind", ["http-api-v2", "rest-api"])
def test_a_second_identical_delivery_is_a_duplicate_and_not_put_again(
    aws: LocalAws, lam: LambdaHandler, clock: FakeClock, kind: str
) -> None:
    event = aws_event(kind, "github", github_delivery(clock()))
    first = invoke(lam, event)
    clock.advance(5)
    second = invoke(lam, event)

    assert first[0] == second[0] == 200
    assert first[1]["status"] == "accepted"
    assert second[1] == {"status": "duplicate", "event_ids": first[1]["event_ids"]}
    assert len(on_the_bus(aws)) == 1


def test_a_stripe_retry_signed_again_later_is_a_duplicate(
    aws: LocalAws, lam: LambdaHandler, clock: FakeClock
) -> None:
    _, first = invoke(lam, aws_event("http-api-v2", "stripe", stripe_delivery(clock())))
    clock.advance(60)
    status, second = invoke(lam, aws_event("http-api-v2", "stripe", stripe_delivery(clock())))

    assert status == 200
    assert second == {"status": "duplicate", "event_ids": first["event_ids"]}
    assert len(on_the_bus(aws)) == 1


def test_a_key_past_its_retention_is_put_again(aws: LocalAws, lam: LambdaHandler, clock: FakeClock) -> None:
    event = aws_event("http-api-v2", "stripe", stripe_delivery(clock()))
    _, first = invoke(lam, event)
    clock.advance(RETENTION + 1)  # DynamoDB's TTL deletes late: the item is still there
    status, second = invoke(lam, aws_event("http-api-v2", "stripe", stripe_delivery(clock())))

    assert status == 200
    assert second["status"] == "accepted"
    assert second["event_ids"] != first["event_ids"]
    assert len(on_the_bus(aws)) == 2


@pytest.mark.parametrize("kind", ["http-api-v2", "rest-api"])
def test_a_forged_delivery_is_refused_and_leaves_no_trace(
    aws: LocalAws, lam: LambdaHandler, clock: FakeClock, kind: str
) -> None:
    status, answer = invoke(lam, aws_event(kind, "stripe", tamper(stripe_delivery(clock()))))

    assert (status, answer) == (401, {"error": "unauthorized"})
    assert on_the_bus(aws) == []
    assert dedup_items(aws) == {}


def test_a_refused_put_answers_503_and_frees_the_key_for_the_retry(
    aws: LocalAws, lam: LambdaHandler, clock: FakeClock
) -> None:
    delete_bus(aws)
    event = aws_event("http-api-v2", "stripe", stripe_delivery(clock()))
    status, answer = invoke(lam, event)

    assert status == 503
    assert answer == {"error": "temporarily unavailable, retry later"}
    assert dedup_items(aws) == {}  # the provider's retry must not look like a duplicate

    create_bus(aws)
    clock.advance(30)
    status, answer = invoke(lam, event)
    assert status == 200
    assert answer["status"] == "accepted"
    [on_bus] = on_the_bus(aws)
    assert on_bus["detail"]["metadata"]["event_id"] == answer["event_ids"][0]
    assert dedup_items(aws)[f"stripe#{STRIPE_EVENT_ID}"]["state"] == "done"


def test_a_delivery_in_flight_elsewhere_answers_503_until_its_lease_ends(
    aws: LocalAws, lam: LambdaHandler, clock: FakeClock
) -> None:
    key = f"stripe#{STRIPE_EVENT_ID}"
    aws.client("dynamodb").put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": key},
            "event_id": {"S": "held-by-another-invocation"},
            "state": {"S": "pending"},
            "lease_until": {"N": str(clock() + 10)},
            "expires_at": {"N": str(math.ceil(clock() + RETENTION))},
        },
    )
    event = aws_event("http-api-v2", "stripe", stripe_delivery(clock()))
    status, _ = invoke(lam, event)

    assert status == 503  # a 200 here could acknowledge what the other invocation fails to put
    assert on_the_bus(aws) == []
    assert dedup_items(aws)[key]["event_id"] == "held-by-another-invocation"

    clock.advance(11)  # that invocation's lease (its remaining time) is over: it died
    status, answer = invoke(lam, event)
    assert status == 200
    assert answer["status"] == "accepted"
    assert len(on_the_bus(aws)) == 1
    item = dedup_items(aws)[key]
    assert (item["event_id"], item["state"]) == (answer["event_ids"][0], "done")


@pytest.mark.parametrize(("context", "lease"), [(Context(remaining_ms=7_500), 7.5), (None, 120.0)])
def test_a_key_is_claimed_for_the_invocations_remaining_time(
    aws: LocalAws, config: Path, clock: FakeClock, context: Context | None, lease: float
) -> None:
    """While the event is being put, its key is pending until the invocation must end
    (without a Lambda context: `[dispatcher] lease_seconds`); then it is done."""
    during: list[dict[str, Any]] = []

    def observe(event: Event) -> Outcome:
        during.append(dedup_items(aws)[f"stripe#{STRIPE_EVENT_ID}"])
        return Delivered()

    env = lambda_env(config, HOOKGATE_LAMBDA__DEDUP_TABLE=TABLE)
    handler = create_handler(env=env, clock=clock, sinks={"bus": MemorySink("bus", script=observe)})
    try:
        response = handler(aws_event("http-api-v2", "stripe", stripe_delivery(clock())), context)
    finally:
        handler.close()

    assert response["statusCode"] == 200
    [pending] = during
    assert pending["state"] == "pending"
    assert float(pending["lease_until"]) == pytest.approx(clock() + lease)
    assert dedup_items(aws)[f"stripe#{STRIPE_EVENT_ID}"]["state"] == "done"


def test_a_partly_refused_batch_frees_only_the_refused_keys(aws: LocalAws, clock: FakeClock) -> None:
    """One delivery, several events (as batching providers send): the accepted keys are done,
    the refused ones deleted, so the provider's retry puts only what was refused. A key
    repeated within the delivery is put once."""
    refuse = {"evt_b"}

    def script(event: Event) -> Outcome:
        return Permanent("InvalidArgument: refused") if event.dedup_key in refuse else Delivered()

    sink = MemorySink("bus", script=script)
    settings = parse_settings({"store": {"dedup_retention_seconds": RETENTION}}, env={})
    store = DirectStore(
        settings.store, clock, settings.dispatcher.lease_seconds, sinks={"bus": sink}, dedup=DedupTable(TABLE)
    )

    def delivery() -> list[Event]:
        return [make_event(at=clock(), key=key) for key in ("evt_a", "evt_b", "evt_a")]

    with pytest.raises(StoreError, match="1 of 2 events not accepted: bus: InvalidArgument: refused"):
        asyncio.run(store.persist(delivery(), ["bus"]))
    items = dedup_items(aws)
    assert set(items) == {"stripe#evt_a"}
    assert items["stripe#evt_a"]["event_id"] == sink.events[0].id

    refuse.clear()
    clock.advance(30)
    retry = delivery()
    results = asyncio.run(store.persist(retry, ["bus"]))
    asyncio.run(store.close())

    first = sink.events[0].id
    assert [(r.event_id, r.duplicate) for r in results] == [
        (first, True),
        (retry[1].id, False),
        (first, True),
    ]
    assert [e.dedup_key for e in sink.events] == ["evt_a", "evt_b"]
    assert {key: item["state"] for key, item in dedup_items(aws).items()} == {
        "stripe#evt_a": "done",
        "stripe#evt_b": "done",
    }


def test_without_a_dedup_table_every_delivery_is_put(aws: LocalAws, config: Path, clock: FakeClock) -> None:
    handler = create_handler(env=lambda_env(config), clock=clock)
    try:
        event = aws_event("http-api-v2", "stripe", stripe_delivery(clock()))
        answers = [invoke(handler, event), invoke(handler, event)]
    finally:
        handler.close()

    assert [status for status, _ in answers] == [200, 200]
    assert [answer["status"] for _, answer in answers] == ["accepted", "accepted"]
    assert len(on_the_bus(aws)) == 2
    assert dedup_items(aws) == {}


def test_a_base_path_is_stripped(aws: LocalAws, config: Path, clock: FakeClock) -> None:
    handler = create_handler(env=lambda_env(config, HOOKGATE_LAMBDA__BASE_PATH="/prod"), clock=clock)
    try:
        event = aws_event("http-api-v2", "github", github_delivery(clock()))
        event["rawPath"] = event["requestContext"]["http"]["path"] = "/prod/webhooks/github"
        event["requestContext"]["stage"] = "prod"
        status, _ = invoke(handler, event)
    finally:
        handler.close()

    assert status == 200
    assert len(on_the_bus(aws)) == 1


def test_health_and_readiness_answer_without_a_store(lam: LambdaHandler) -> None:
    event = aws_event("http-api-v2", "stripe", WebhookRequest.build(b""), method="GET")
    for path, expected in (("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready"})):
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        assert invoke(lam, event) == (200, expected)


def test_lambda_mode_takes_events_in_and_keeps_nothing_to_dispatch_or_show(lam: LambdaHandler) -> None:
    """Its store is an inbox only: no delivery queue and no admin side, so the app has no
    dispatcher and no purge loop (EventBridge retries the bus's targets, its archive replays)."""
    gateway = lam.app.gateway
    assert isinstance(gateway.inbox, DirectStore)
    assert not isinstance(gateway.inbox, DeliveryQueue | StoreAdmin)
    assert (gateway.store, gateway.dispatcher) == (None, None)


def test_a_cold_start_in_a_fresh_interpreter(aws: LocalAws, config: Path, clock: FakeClock) -> None:
    """The runtime's path: the handler is built when the module is imported, from the
    environment alone, and the modules only a server needs are never imported."""
    script = """
import json, sys
import gateway.aws_lambda
event = json.load(sys.stdin)
response = gateway.aws_lambda.handler(event, None)
unwanted = ("uvicorn", "uvloop", "httptools", "click", "psycopg", "psycopg_pool", "sqlite3", "httpx",
            "gateway.cli", "gateway.store.sqlite", "gateway.store.postgres", "prometheus_client.multiprocess")
print(json.dumps({"response": response, "imported": [m for m in unwanted if m in sys.modules]}))
"""
    env = lambda_env(config, HOOKGATE_LAMBDA__DEDUP_TABLE=TABLE, AWS_LAMBDA_RUNTIME_API="127.0.0.1:9001")
    event = aws_event("function-url", "github", github_delivery(time.time()))
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["imported"] == []
    assert found["response"]["statusCode"] == 200, found
    assert len(on_the_bus(aws)) == 1
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [line["status"] for line in logged if line["event"] == "request"] == [200]


# -- secrets read again ---------------------------------------------------------------------

NEW_STRIPE_SECRET = "whsec_rotated_after_the_cold_start_5Yq"


@dataclass
class Calls:
    """The calls a boto3 session made, by operation name (a botocore event hook)."""

    made: list[str] = field(default_factory=list)

    def record(self, model: Any, **_: Any) -> None:
        self.made.append(model.name)

    def count(self, operation: str) -> int:
        return self.made.count(operation)


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def refreshing(aws: LocalAws, config: Path, clock: FakeClock, calls: Calls) -> Iterator[LambdaHandler]:
    """The handler as Lambda builds it, its AWS secrets read through a session whose calls
    are counted, on the fake clock."""
    session = boto3.session.Session()
    session.events.register("before-call.*.*", calls.record)
    secrets = AwsSecrets(clock=clock, session=session)
    handler = create_handler(env=lambda_env(config), clock=clock, secrets=secrets)
    try:
        yield handler
    finally:
        handler.close()


def signed_stripe(now: float, secret: str) -> dict[str, Any]:
    connector = connectors.load("stripe").from_config({"secrets": [secret]})
    body = STRIPE_BODY.replace(STRIPE_EVENT_ID.encode(), f"evt_{uuid.uuid4().hex}".encode())
    return aws_event("function-url", "stripe", signed_request(connector, body, now=now))


def rotate(aws: LocalAws, value: str = NEW_STRIPE_SECRET) -> None:
    aws.client("secretsmanager").put_secret_value(SecretId="lambda-e2e/stripe", SecretString=value)


def test_a_secret_rotated_after_the_cold_start_is_read_again_on_its_first_delivery(
    aws: LocalAws, refreshing: LambdaHandler, clock: FakeClock, calls: Calls
) -> None:
    assert calls.count("GetSecretValue") == 1  # the cold start
    assert invoke(refreshing, signed_stripe(clock(), STRIPE_SECRET))[0] == 200
    rotate(aws)
    clock.advance(61)

    status, answer = invoke(refreshing, signed_stripe(clock(), NEW_STRIPE_SECRET))

    assert status == 200, answer
    assert calls.count("GetSecretValue") == 2  # one refresh
    assert invoke(refreshing, signed_stripe(clock(), NEW_STRIPE_SECRET))[0] == 200
    assert invoke(refreshing, signed_stripe(clock(), STRIPE_SECRET))[0] == 401
    assert calls.count("GetSecretValue") == 2
    assert calls.count("GetParameter") == 1  # github's secret, in SSM: not read again


def test_a_secret_read_within_the_minute_is_not_read_again_on_a_failure(
    aws: LocalAws, refreshing: LambdaHandler, clock: FakeClock, calls: Calls
) -> None:
    rotate(aws)
    clock.advance(59)
    assert invoke(refreshing, signed_stripe(clock(), NEW_STRIPE_SECRET))[0] == 401
    assert calls.count("GetSecretValue") == 1
    clock.advance(1)
    assert invoke(refreshing, signed_stripe(clock(), NEW_STRIPE_SECRET))[0] == 200
    assert calls.count("GetSecretValue") == 2


def test_forged_deliveries_read_a_secret_at_most_once_a_minute(
    aws: LocalAws, refreshing: LambdaHandler, clock: FakeClock, calls: Calls
) -> None:
    started = clock()
    reads: list[float] = []
    for _ in range(180):  # a forged delivery every second for three minutes
        clock.advance(1)
        before = calls.count("GetSecretValue")
        assert invoke(refreshing, signed_stripe(clock(), "whsec_forged"))[0] == 401
        if calls.count("GetSecretValue") > before:
            reads.append(clock() - started)
    assert reads == [60, 120, 180]  # the cold start's read, then one a minute
    assert calls.count("GetSecretValue") == 4
    assert on_the_bus(aws) == []


def test_secrets_are_read_again_after_their_ttl(
    aws: LocalAws, refreshing: LambdaHandler, clock: FakeClock, calls: Calls
) -> None:
    rotate(aws)
    aws.client("ssm").put_parameter(
        Name="/lambda-e2e/github", Value="github-rotated", Type="SecureString", Overwrite=True
    )
    clock.advance(299)
    # Before the TTL: the old secret is still the one in use.
    assert invoke(refreshing, signed_stripe(clock(), STRIPE_SECRET))[0] == 200
    assert invoke(refreshing, aws_event("function-url", "github", github_delivery(clock())))[0] == 200
    assert (calls.count("GetSecretValue"), calls.count("GetParameter")) == (1, 1)
    clock.advance(1)
    # At the TTL, the next request reads them again before it is verified.
    assert invoke(refreshing, signed_stripe(clock(), STRIPE_SECRET))[0] == 401
    assert (calls.count("GetSecretValue"), calls.count("GetParameter")) == (2, 2)
    assert invoke(refreshing, signed_stripe(clock(), NEW_STRIPE_SECRET))[0] == 200
    connector = connectors.load("github").from_config({"secrets": ["github-rotated"]})
    rotated = signed_request(connector, GITHUB_BODY, now=clock())
    assert invoke(refreshing, aws_event("function-url", "github", rotated))[0] == 200
    assert (calls.count("GetSecretValue"), calls.count("GetParameter")) == (2, 2)


def test_a_ttl_is_set_by_its_variable(aws: LocalAws, config: Path, clock: FakeClock, calls: Calls) -> None:
    session = boto3.session.Session()
    session.events.register("before-call.*.*", calls.record)
    env = lambda_env(config, HOOKGATE_LAMBDA__SECRETS_TTL_SECONDS="3600")
    handler = create_handler(env=env, clock=clock, secrets=AwsSecrets(clock=clock, session=session))
    try:
        rotate(aws)
        clock.advance(3599)
        assert invoke(handler, signed_stripe(clock(), STRIPE_SECRET))[0] == 200
        clock.advance(1)
        assert invoke(handler, signed_stripe(clock(), NEW_STRIPE_SECRET))[0] == 200
        assert calls.count("GetSecretValue") == 2
    finally:
        handler.close()


def test_a_secret_that_cannot_be_read_again_keeps_its_value(
    aws: LocalAws, refreshing: LambdaHandler, clock: FakeClock, calls: Calls
) -> None:
    aws.client("secretsmanager").delete_secret(SecretId="lambda-e2e/stripe", ForceDeleteWithoutRecovery=True)
    clock.advance(300)
    with capture_logs() as logs:
        assert invoke(refreshing, signed_stripe(clock(), STRIPE_SECRET))[0] == 200
    [failed] = [line for line in logs if line["event"] == "secret_refresh_failed"]
    assert failed["secret"] == "secretsmanager:lambda-e2e/stripe"
    assert "ResourceNotFoundException" in failed["error"]
    assert STRIPE_SECRET not in json.dumps(logs, default=str)
    # Tried again a minute later, not sooner.
    clock.advance(59)
    assert invoke(refreshing, signed_stripe(clock(), "whsec_forged"))[0] == 401
    assert calls.count("GetSecretValue") == 2
    clock.advance(1)
    assert invoke(refreshing, signed_stripe(clock(), "whsec_forged"))[0] == 401
    assert calls.count("GetSecretValue") == 3


# -- configuration ---------------------------------------------------------------------------


def test_secret_references_are_fetched_once_per_process(aws: LocalAws) -> None:
    name = f"t/{uuid.uuid4().hex}"
    secrets, ssm = aws.client("secretsmanager"), aws.client("ssm")
    secrets.create_secret(Name=name, SecretString=json.dumps({"signing": "whsec_from_json", "other": "x"}))
    ssm.put_parameter(Name=f"/{name}", Value="whsec_from_ssm", Type="SecureString")
    raw = {
        "sources": {
            "stripe": {"connector": "stripe", "secrets": [f"secretsmanager:{name}#signing", f"ssm:/{name}"]}
        }
    }

    def verified(secret: str) -> bool:
        settings = parse_settings(raw, env={})
        connector = build_source(settings.sources["stripe"]).connector
        now = time.time()
        request = signed_request(connectors.load("stripe").from_config({"secrets": [secret]}), now=now)
        connector.verify(request, now)
        return True

    assert verified("whsec_from_json")
    assert verified("whsec_from_ssm")
    secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    ssm.delete_parameter(Name=f"/{name}")
    assert verified("whsec_from_json")  # from the cache: AWS no longer has them
    assert verified("whsec_from_ssm")


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("secretsmanager:t/missing", "ResourceNotFoundException"),
        ("ssm:/t/missing", "ParameterNotFound"),
        ("secretsmanager:t/plain#signing", "not a JSON object with the key 'signing'"),
        ("secretsmanager:t/json#absent", "not a JSON object with the key 'absent'"),
        ("secretsmanager:t/json#number", "the value of 'number' is not a string"),
        ("secretsmanager:", "names no secret"),
    ],
)
def test_a_secret_that_cannot_be_read_is_a_config_error_naming_the_key(
    aws: LocalAws, reference: str, expected: str
) -> None:
    secrets = aws.client("secretsmanager")
    secrets.create_secret(Name="t/plain", SecretString="hunter2-plain")
    secrets.create_secret(Name="t/json", SecretString=json.dumps({"signing": "hunter2-json", "number": 7}))
    raw = {"sources": {"stripe": {"connector": "stripe", "secrets": ["whsec_literal", reference]}}}
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, env={})

    assert caught.value.key == "sources.stripe.secrets[1]"
    assert expected in caught.value.message
    assert "hunter2" not in str(caught.value)


def test_lambda_settings_come_from_their_own_variables() -> None:
    options, rest = lambda_settings(
        {"HOOKGATE_LAMBDA__DEDUP_TABLE": "dedup", "hookgate_lambda__base_path": "/prod", "HOOKGATE_X__Y": "1"}
    )
    assert (options.dedup_table, options.base_path) == ("dedup", "/prod")
    assert rest == {"HOOKGATE_X__Y": "1"}
    with pytest.raises(ConfigError) as caught:
        lambda_settings({"HOOKGATE_LAMBDA__DEDUP_TABEL": "dedup"})
    assert caught.value.key == "lambda.dedup_tabel"
    assert caught.value.message == "unknown key (allowed: base_path, dedup_table, secrets_ttl_seconds)"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[sources.stripe]\nconnector = "stripe"\nsecrets = ["s"]\n', "sinks"),
        (
            '[sources.stripe]\nconnector = "stripe"\nsecrets = ["s"]\nsinks = []\n'
            '[sinks.bus]\ntype = "eventbridge"\nevent_bus_name = "b"\n',
            "sources.stripe.sinks",
        ),
    ],
)
def test_what_lambda_mode_cannot_acknowledge_is_refused(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "hookgate.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        create_handler(env={"HOOKGATE_CONFIG": str(path)})
    assert caught.value.key == key
