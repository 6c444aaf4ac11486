"""Router targets against real local servers: an HTTP server on 127.0.0.1 (the Standard
Webhooks signature checked with the official `standardwebhooks` package), a moto server
for SQS and EventBridge, real files, and functions of this module for `callable`."""

from __future__ import annotations

import base64
import email.utils
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from structlog.testing import capture_logs

from gateway.config import parse_settings
from gateway.errors import ConfigError
from gateway.events import Event
from gateway.router.targets import Delivery, PermanentError, Target, target_types
from gateway.router.targets._aws import SqsOptions, SqsTarget, _pack
from gateway.router.targets._http import HttpTarget
from gateway.sinks import Delivered, Permanent, Retry
from gateway.sinks.http import parse_retry_after
from tests.helpers.aws import REGION, LocalAws, moto_server, use_offline_env
from tests.helpers.http_server import HttpServer, url_of

from .._fakes import NOW, make_event

pytestmark = pytest.mark.anyio

SECRET = "whsec_" + base64.b64encode(b"a signing key of 32 bytes, fixed").decode()


def delivery(body: Any, *, at: float = NOW) -> Delivery:
    """`body`: bytes as they are, anything else as its JSON."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Delivery(make_event(at=at), raw)


def build(kind: str, **options: Any) -> Target:
    return target_types()[kind].from_config(f"bus/rule/{kind}", options)


@pytest.fixture
async def opened() -> AsyncIterator[list[Target]]:
    """Targets a test appends are closed after it."""
    targets: list[Target] = []
    yield targets
    for target in targets:
        await target.close()


async def test_http_sends_the_input_with_its_headers_key_and_signature(
    http_server: HttpServer, opened: list[Target]
) -> None:
    target = build(
        "http",
        url=url_of(http_server, "/hooks?fixed=1"),
        query={"tenant": "acme"},
        headers={"X-Team": "billing", "User-Agent": "custom/1"},
        auth={"type": "api_key", "header": "X-Api-Key", "value": "k-123"},
        signing_secret=SECRET,
    )
    opened.append(target)
    d = delivery({"invoice": "in_1", "amount": 4200})
    assert await target.send([d]) == [Delivered()]
    [got] = http_server.received
    assert got.method == "POST"
    assert got.path == "/hooks?fixed=1&tenant=acme"
    assert got.body == d.body
    assert got.headers["content-type"] == "application/json; charset=utf-8"
    assert got.headers["user-agent"] == "custom/1"  # a configured header wins over the default
    assert got.headers["x-team"] == "billing"
    assert got.headers["x-api-key"] == "k-123"
    assert got.headers["webhook-id"] == d.event.id
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 5
    assert Webhook(SECRET).verify(got.body, got.headers) == {"invoice": "in_1", "amount": 4200}
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(SECRET).verify(got.body + b" ", got.headers)


async def test_http_basic_auth_default_headers_and_bodiless_methods(
    http_server: HttpServer, opened: list[Target]
) -> None:
    post = build("http", url=url_of(http_server), auth={"type": "basic", "username": "u", "password": "p:w"})
    get = build("http", url=url_of(http_server), method="GET", signing_secret=SECRET)
    put = build("http", url=url_of(http_server), method="PUT")
    opened.extend([post, get, put])
    d = delivery({"n": 1})
    for target in (post, get, put):
        assert await target.send([d]) == [Delivered()]
    sent_post, sent_get, sent_put = http_server.received
    assert sent_post.headers["authorization"] == "Basic " + base64.b64encode(b"u:p:w").decode()
    assert sent_post.headers["user-agent"].startswith("hookgate/")
    assert (sent_get.method, sent_get.body) == ("GET", b"")
    assert "content-type" not in sent_get.headers
    assert Webhook(SECRET).verify(b"", sent_get.headers, json_parse=False) is None  # signs what is sent
    assert (sent_put.method, sent_put.body) == ("PUT", d.body)


async def test_http_outcomes_follow_api_destinations(http_server: HttpServer, opened: list[Target]) -> None:
    target = build("http", url=url_of(http_server), concurrency=4)
    opened.append(target)
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    scripts: list[dict[str, Any]] = [
        {"status": 200},
        {"status": 204},
        {"status": 429, "headers": {"Retry-After": "7"}},
        {"status": 503, "headers": {"Retry-After": soon}},
        {"status": 500},
        {"status": 502, "headers": {"Retry-After": "-1"}},  # EventBridge: stop retrying
        {"status": 400},
        {"status": 401},
        {"status": 404},
        {"status": 301, "headers": {"Location": "/elsewhere"}},  # redirects are not followed
    ]
    outcomes = await target.send([delivery({"respond": s}) for s in scripts])
    assert outcomes[:3] == [Delivered(), Delivered(), Retry("http_429", retry_after=7.0)]
    assert isinstance(outcomes[3], Retry)
    assert outcomes[3].cause == "http_503"
    assert outcomes[3].retry_after is not None
    assert 27 <= outcomes[3].retry_after <= 30
    assert outcomes[4:] == [
        Retry("http_500"),
        Permanent("http_502: negative Retry-After"),
        Permanent("http_400"),
        Permanent("http_401"),
        Permanent("http_404"),
        Permanent("http_301"),
    ]
    assert len(http_server.received) == len(scripts)


async def test_http_timeouts_and_refused_connections_are_retried(
    http_server: HttpServer, opened: list[Target]
) -> None:
    slow = build("http", url=url_of(http_server), timeout_seconds=0.2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    refused = build("http", url=f"http://127.0.0.1:{closed_port}/")
    opened.extend([slow, refused])
    # The server holds its answer until released: a send that returns before then gave up
    # at its own timeout, however slow the machine (no wall-clock ceiling to miss).
    started = time.monotonic()
    [timed_out] = await slow.send([delivery({"respond": {"hold": True}})])
    waited = time.monotonic() - started
    assert http_server.answered == 0  # the target did not wait for the answer
    http_server.release.set()
    assert len(http_server.received) == 1
    assert waited >= 0.2  # and did not give up before its timeout
    assert isinstance(timed_out, Retry)
    assert timed_out.cause.startswith("timeout: ")
    assert await refused.send([delivery({})]) == [Retry("connection_error: ConnectError")]


async def test_http_rate_limit_spaces_requests(http_server: HttpServer, opened: list[Target]) -> None:
    limited = build("http", url=url_of(http_server), rate_limit_per_second=5)
    free = build("http", url=url_of(http_server))
    opened.extend([limited, free])
    batch = [delivery({"n": n}) for n in range(5)]
    started = time.monotonic()
    assert await limited.send(batch) == [Delivered()] * 5
    elapsed = time.monotonic() - started
    times = sorted(r.at for r in http_server.received)
    assert elapsed >= 0.8  # slots 200 ms apart: the fifth waits 800 ms
    assert times[-1] - times[0] >= 0.7, times  # and the server saw them spread out
    started = time.monotonic()
    assert await free.send(batch) == [Delivered()] * 5
    # Unpaced, the same batch takes only the requests' own time: far less than the pacing
    # (a wide margin, so a loaded machine does not make it fail).
    assert time.monotonic() - started < 0.5


async def test_http_never_logs_bodies_or_secrets(http_server: HttpServer, opened: list[Target]) -> None:
    target = build(
        "http",
        url=f"{url_of(http_server)}?token=q-secret",
        auth={"type": "api_key", "header": "Authorization", "value": "Bearer b-secret"},
        signing_secret=SECRET,
    )
    opened.append(target)
    with capture_logs() as logs:
        await target.send([delivery({"respond": {"status": 500}, "card": "4242"})])
    text = repr(logs)
    for secret in ("q-secret", "b-secret", SECRET, "4242"):
        assert secret not in text


def test_retry_after_reads_seconds_and_dates() -> None:
    now = float(NOW)
    assert parse_retry_after(None, now) is None
    assert parse_retry_after(" 120 ", now) == 120.0
    assert parse_retry_after("1.5", now) == 1.5
    assert parse_retry_after("-1", now) == -1.0
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now) == 90.0
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "ftp://example.com/"}, "http:// or https://"),
        ({"url": "http://x/", "method": "TRACE"}, "method"),
        ({"url": "http://x/", "headers": {"Bad Name": "v"}}, "not a valid header name"),
        ({"url": "http://x/", "headers": {"X-A": "a\r\nInjected: 1"}}, "line breaks"),
        ({"url": "http://x/", "signing_secret": "whpk_" + "A" * 43}, "must be a whsec_ secret"),
        ({"url": "http://x/", "auth": {"type": "oauth"}}, "auth"),
        ({"url": "http://x/", "auth": {"type": "basic", "username": "u"}}, "password"),
        ({"url": "http://x/", "timeout_seconds": 0}, "timeout_seconds"),
    ],
)
def test_http_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HttpTarget.from_config("t", options)


def test_http_secrets_are_secret_and_may_be_references() -> None:
    table = {
        "type": "router",
        "rules": {
            "r": {
                "event_pattern": {"source": ["x"]},
                "targets": [
                    {
                        "id": "t",
                        "type": "http",
                        "url": "http://127.0.0.1:1/",
                        "signing_secret": "env:SIGNING",
                        "auth": {"type": "basic", "username": "u", "password": "hunter2"},
                    }
                ],
            }
        },
    }
    spec = parse_settings({"sinks": {"bus": table}}, env={"SIGNING": SECRET}).buses["bus"]
    options = spec.rules["r"].targets[0].options
    assert options.signing_secret.get_secret_value() == SECRET  # type: ignore[attr-defined]
    assert "hunter2" not in repr(options)
    assert SECRET not in repr(options)


# -- callable -----------------------------------------------------------------------------------

CALLS: list[tuple[str, Any, str]] = []


def record(value: Any) -> None:
    CALLS.append(("sync", value, threading.current_thread().name))


async def record_async(value: Any) -> None:
    CALLS.append(("async", value, threading.current_thread().name))


def fail(value: Any) -> None:
    raise RuntimeError(f"cannot handle {value}")


def refuse(value: Any) -> None:
    raise PermanentError(f"unknown customer {value['customer']}")


class Handlers:
    @staticmethod
    def nested(value: Any) -> None:
        CALLS.append(("nested", value, threading.current_thread().name))


HERE = __name__


@pytest.fixture
def calls() -> Iterator[list[tuple[str, Any, str]]]:
    CALLS.clear()
    yield CALLS
    CALLS.clear()


async def test_callable_gets_the_parsed_input_sync_in_a_thread_or_async(
    calls: list[tuple[str, Any, str]],
) -> None:
    sync = build("callable", callable=f"{HERE}:record")
    asynchronous = build("callable", callable=f"{HERE}:record_async")
    nested = build("callable", callable=f"{HERE}:Handlers.nested")
    batch = [delivery({"a": 1}), delivery(b'"invoice in_1 was paid"'), delivery(b"plain text")]
    assert await sync.send(batch) == [Delivered()] * 3
    assert await asynchronous.send(batch[:1]) == [Delivered()]
    assert await nested.send(batch[:1]) == [Delivered()]
    main = threading.current_thread().name
    assert [(kind, value) for kind, value, _ in calls] == [
        ("sync", {"a": 1}),
        ("sync", "invoice in_1 was paid"),
        ("sync", "plain text"),
        ("async", {"a": 1}),
        ("nested", {"a": 1}),
    ]
    assert all(thread != main for kind, _, thread in calls if kind != "async")
    assert calls[3][2] == main


async def test_callable_exceptions_retry_and_permanent_error_refuses() -> None:
    failing = build("callable", callable=f"{HERE}:fail")
    refusing = build("callable", callable=f"{HERE}:refuse")
    with capture_logs() as logs:
        assert await failing.send([delivery({"card": "4242"})]) == [Retry("callable_error: RuntimeError")]
    assert "4242" not in repr(logs)
    assert await refusing.send([delivery({"customer": "cus_9"})]) == [
        Permanent("callable_refused: unknown customer cus_9")
    ]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("no_colon", "not of the form"),
        ("no_such_package_here:f", "cannot import 'no_such_package_here'"),
        (f"{__name__}:missing", "has no attribute 'missing'"),
        (f"{__name__}:HERE", "is not callable"),
    ],
)
def test_callable_references_are_checked_with_the_configuration(reference: str, message: str) -> None:
    table = {
        "type": "router",
        "rules": {
            "r": {
                "event_pattern": {"source": ["x"]},
                "targets": [{"id": "t", "type": "callable", "callable": reference}],
            }
        },
    }
    with pytest.raises(ConfigError, match=message) as info:
        parse_settings({"sinks": {"bus": table}}, env={})
    assert info.value.key == "sinks.bus.rules.r.targets[0].callable"


# -- jsonl --------------------------------------------------------------------------------------


async def test_jsonl_writes_one_line_per_input_and_fsyncs_each_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "out" / "targets.jsonl"
    target = build("jsonl", path=str(path))
    pretty = b'{\n  "amount": 12345678901234567890123,\n  "price": 1.10,\n  "note": "a\\nb"\n}\n'
    try:
        assert await target.send([delivery(pretty), delivery(b"invoice in_1 was paid")]) == [Delivered()] * 2
        assert await target.send([delivery(b'"quoted"'), delivery(b"NaN")]) == [Delivered()] * 2
    finally:
        await target.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == '{  "amount": 12345678901234567890123,  "price": 1.10,  "note": "a\\nb"}'
    assert json.loads(lines[0]) == json.loads(pretty)  # every value kept exactly
    assert json.loads(lines[1]) == "invoice in_1 was paid"
    assert json.loads(lines[2]) == "quoted"
    assert lines[3] == '"NaN"'  # not JSON, so written as a string
    assert len(synced) == 2


async def test_jsonl_io_errors_are_retried(tmp_path: Path) -> None:
    target = build("jsonl", path=str(tmp_path))  # a directory
    [outcome] = await target.send([delivery({})])
    assert isinstance(outcome, Retry)
    assert outcome.cause.startswith("io_error: ")


# -- AWS: a moto server ----------------------------------------------------------------------


def queue(aws: LocalAws, name: str, **attributes: str) -> str:
    url: str = aws.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


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


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    home = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env, moto_server() as endpoint:
        use_offline_env(env, home)
        yield LocalAws(endpoint)


async def test_sqs_sends_each_input_as_a_message(aws: LocalAws, opened: list[Target]) -> None:
    url = queue(aws, "plain")
    target = build("sqs", queue_url=url, endpoint_url=aws.endpoint, max_message_bytes=1024)
    opened.append(target)
    batch = [delivery({"n": 1}), delivery(b"x" * 1025), delivery(b"text \x00"), delivery(b"caf\xc3\xa9")]
    outcomes = await target.send(batch)
    assert outcomes == [
        Delivered(),
        Permanent("too_large: 1025 bytes (limit 1024)"),
        Permanent("invalid_characters: a character SQS refuses in a message"),
        Delivered(),
    ]
    bodies = sorted(m["Body"] for m in receive(aws, url, 2))
    assert bodies == sorted([json.dumps({"n": 1}), "café"])


async def test_sqs_fifo_messages_carry_the_group_and_the_event_id(
    aws: LocalAws, opened: list[Target]
) -> None:
    url = queue(aws, "ordered.fifo", FifoQueue="true")
    with pytest.raises(ValidationError, match="FIFO queue needs message_group_id"):
        SqsTarget.from_config("t", {"queue_url": url})
    target = build("sqs", queue_url=url, endpoint_url=aws.endpoint, message_group_id="invoices")
    opened.append(target)
    first, second = delivery({"n": 1}), delivery({"n": 2})
    assert await target.send([first, second]) == [Delivered()] * 2
    messages = receive(aws, url, 2)
    assert [m["Body"] for m in messages] == [first.body.decode(), second.body.decode()]
    assert [m["Attributes"]["MessageGroupId"] for m in messages] == ["invoices"] * 2
    assert [m["Attributes"]["MessageDeduplicationId"] for m in messages] == [first.event.id, second.event.id]


async def test_sqs_a_missing_queue_is_dead_lettered_at_once(aws: LocalAws, opened: list[Target]) -> None:
    # As EventBridge does for every target: a resource that does not exist cannot succeed
    # on a retry, so the event goes to the dead letters (NO_RESOURCE) without any.
    target = build("sqs", queue_url=f"{aws.endpoint}/123456789012/absent", endpoint_url=aws.endpoint)
    opened.append(target)
    with capture_logs() as logs:
        [outcome] = await target.send([delivery({"n": 1})])
    assert isinstance(outcome, Permanent)
    assert outcome.cause.startswith(
        ("NO_RESOURCE: AWS.SimpleQueueService.NonExistentQueue", "NO_RESOURCE: QueueDoesNotExist")
    )
    assert [entry["event"] for entry in logs] == ["sqs_call_failed"]


def test_sqs_calls_hold_ten_messages_and_the_size_limit_at_most() -> None:
    entries = [(i, {"Id": str(i)}, size) for i, size in enumerate([400, 400, 400, 100, *[1] * 12])]
    calls = [[i for i, _ in call] for call in _pack(entries, 1024)]
    assert calls == [[0, 1], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [12, 13, 14, 15]]


def test_sqs_region_comes_from_the_queue_url() -> None:
    options = SqsOptions(queue_url="https://sqs.eu-west-3.amazonaws.com/123456789012/q")
    assert options.region_name() == "eu-west-3"
    assert SqsOptions(queue_url=options.queue_url, region="us-east-2").region_name() == "us-east-2"
    assert SqsOptions(queue_url="http://localhost:4566/000000000000/q").region_name() is None


async def test_eventbridge_target_puts_the_event_itself_on_a_bus(aws: LocalAws, opened: list[Target]) -> None:
    events, sqs = aws.client("events"), aws.client("sqs")
    events.create_event_bus(Name="downstream")
    url = queue(aws, "from-downstream")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="all", EventBusName="downstream", EventPattern='{"source": ["hookgate.stripe"]}', State="ENABLED"
    )
    events.put_targets(Rule="all", EventBusName="downstream", Targets=[{"Id": "q", "Arn": arn}])
    cls = target_types()["eventbridge"]
    assert cls.transforms_input is False
    target = build("eventbridge", event_bus_name="downstream", endpoint_url=aws.endpoint, region=REGION)
    opened.append(target)
    event: Event = make_event(at=NOW, detail_type="invoice.paid")
    assert await target.send([Delivery(event, event.entry.encode())]) == [Delivered()]
    [message] = receive(aws, url, 1)
    received = json.loads(message["Body"])
    assert (received["source"], received["detail-type"]) == ("hookgate.stripe", "invoice.paid")
    assert received["detail"] == json.loads(event.entry)["detail"]


def test_every_target_type_is_registered_with_its_options() -> None:
    types = target_types()
    assert sorted(types) == [
        "bus",
        "callable",
        "cloudwatch-logs",
        "eventbridge",
        "http",
        "jsonl",
        "kinesis",
        "lambda",
        "sns",
        "sqs",
        "stepfunctions",
    ]
    for kind, cls in types.items():
        assert cls.kind == kind
        assert cls.Options.model_config.get("extra") == "forbid"
