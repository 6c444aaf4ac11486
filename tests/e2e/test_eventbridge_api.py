"""The EventBridge API of a local bus, end to end: boto3's `events` client pointed at a real
`hookgate serve` publishes, gets its per-entry results, and the rules' targets (jsonl files,
another bus through a `bus` target) receive the events; the same entries put on moto's
EventBridge give the same per-entry results except where moto departs from what EventBridge
documents (listed below, and in docs/router.md); every way a request can be unsigned or
wrongly signed is answered as AWS answers it; and hookgate's own `eventbridge` sink publishes
to a hookgate bus through the API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.helpers.aws import REGION, moto_server
from tests.helpers.served import Served, base_config, free_port, jsonl_entries, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

KEY, SECRET = "AKIAHOOKGATESHOP01", "shop-bus-secret-0123456789"
OTHER_KEY, OTHER_SECRET = "AKIAHOOKGATEAUDIT1", "audit-bus-secret-0123456789"
ACCOUNT = "123456789012"
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})

BUSES = """
[sinks.shop]
type = "router"

[sinks.shop.api]
default = true
max_request_bytes = 262144
credentials = [{{ access_key_id = "{key}", secret_access_key = "env:E2E_SHOP_BUS_SECRET" }}]

[sinks.shop.rules.orders]
description = "everything the shop's services publish"
event_pattern = {{ source = [{{ prefix = "com.example." }}] }}

[[sinks.shop.rules.orders.targets]]
id = "file"
type = "jsonl"
path = "{shop}"

[[sinks.shop.rules.orders.targets]]
id = "audit"
type = "bus"
event_bus = "audit"

[sinks.audit]
type = "router"

[sinks.audit.api]
credentials = [{{ access_key_id = "{other}", secret_access_key = "{other_secret}" }}]

[sinks.audit.rules.everything]
event_pattern = {{ source = [{{ prefix = "com.example." }}] }}

[[sinks.audit.rules.everything.targets]]
id = "file"
type = "jsonl"
path = "{audit}"

[[sinks.audit.rules.everything.targets]]
id = "back"
type = "bus"
event_bus = "shop"
max_hops = 5
"""


@pytest.fixture
def bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("E2E_SHOP_BUS_SECRET", SECRET)
    port = free_port()
    config = tmp_path / "hookgate.toml"
    extra = BUSES.format(
        key=KEY,
        other=OTHER_KEY,
        other_secret=OTHER_SECRET,
        shop=tmp_path / "shop.jsonl",
        audit=tmp_path / "audit.jsonl",
    )
    config.write_text(base_config(tmp_path, port, extra=extra))
    served = Served(tmp_path, config, port)
    served.start()
    try:
        yield served
    finally:
        served.stop()


def client(endpoint: str, key: str = KEY, secret: str = SECRET, **kwargs: Any) -> Any:
    return boto3.client(
        "events",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=kwargs.pop("config", NO_RETRIES),
        **kwargs,
    )


def lines(path: Path) -> list[dict[str, Any]]:
    return jsonl_entries(path)


def wait_for(path: Path, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = lines(path)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{path.name} has {len(lines(path))} of {count} lines")


def detail(value: Any) -> str:
    return json.dumps(value)


def test_boto3_publishes_and_the_rules_targets_receive_the_events(bus: Served) -> None:
    events = client(bus.url)
    at = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
    answer = events.put_events(
        Entries=[
            {
                "Source": "com.example.payments",
                "DetailType": "Payment Processed",
                "Detail": detail({"id": "pi_1"}),
            },
            {"Source": "aws.payments", "DetailType": "Payment Processed", "Detail": detail({"id": "pi_2"})},
            {
                "Source": "com.example.support",
                "DetailType": "Ticket Processed",
                "Detail": detail({"ticket": 42, "tags": ["vip"]}),
                "Resources": ["arn:aws:support:::ticket/42"],
                "Time": at,
                "EventBusName": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/shop",
            },
            {"Source": "com.example.payments", "DetailType": "Payment Processed", "Detail": "not json"},
            {"Source": "other.source", "DetailType": "Ignored", "Detail": detail({})},
        ]
    )
    entries = answer["Entries"]
    assert answer["FailedEntryCount"] == 2
    assert [e.get("ErrorCode") for e in entries] == [
        None,
        "NotAuthorizedForSourceException",
        None,
        "MalformedDetail",
        None,
    ]
    assert entries[1]["ErrorMessage"] == "Not authorized for the source."
    ids = [e["EventId"] for e in entries if "EventId" in e]
    assert len(set(ids)) == 3

    # The rule matches the two com.example events; their EventIds are the stored events' ids.
    received = sorted(wait_for(bus.tmp / "shop.jsonl", 2), key=lambda e: e["source"])
    assert [e["id"] for e in received] == [ids[0], ids[1]]
    payment, ticket = received
    assert payment == {
        "version": "0",
        "id": ids[0],
        "detail-type": "Payment Processed",
        "source": "com.example.payments",
        "account": ACCOUNT,
        "time": payment["time"],
        "region": REGION,
        "resources": [],
        "detail": {"id": "pi_1"},
    }
    assert abs(datetime.fromisoformat(payment["time"]).timestamp() - time.time()) < 60
    assert ticket["time"] == "2026-11-28T10:00:00Z"
    assert ticket["resources"] == ["arn:aws:support:::ticket/42"]
    assert ticket["detail"] == {"ticket": 42, "tags": ["vip"]}
    stored = json.loads(bus.cli("events", "list", "--source", "api", "--json").stdout)["events"]
    assert sorted(e["id"] for e in stored) == sorted(ids)

    # The bus target put them on the audit bus as new events, whose rule got them too.
    audited = sorted(wait_for(bus.tmp / "audit.jsonl", 2), key=lambda e: e["source"])
    assert [{k: v for k, v in e.items() if k != "id"} for e in audited] == [
        {k: v for k, v in e.items() if k != "id"} for e in received
    ]
    assert not {e["id"] for e in audited} & set(ids)
    # ... and the audit bus's target back to the shop bus is refused: a loop, dead-lettered.
    deadline = time.monotonic() + 20
    dead: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(dead) < 2:
        dead = json.loads(bus.cli("dlq", "list", "--sink", "audit/everything/back", "--json").stdout)[
            "dead_letters"
        ]
        time.sleep(0.2)
    assert [d["last_cause"].split(":")[0] for d in dead] == ["loop", "loop"]
    time.sleep(0.3)
    assert len(lines(bus.tmp / "shop.jsonl")) == 2

    # The read operations describe the configured buses and rules.
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["shop"]
    rule = events.describe_rule(Name="orders")
    assert (rule["Arn"], rule["State"], rule["EventBusName"]) == (
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/shop/orders",
        "ENABLED",
        "shop",
    )
    assert json.loads(rule["EventPattern"]) == {"source": [{"prefix": "com.example."}]}
    assert [r["Name"] for r in events.list_rules(EventBusName="shop")["Rules"]] == ["orders"]
    targets = events.list_targets_by_rule(Rule="orders", EventBusName="shop")["Targets"]
    assert [(t["Id"], t["RetryPolicy"]["MaximumRetryAttempts"]) for t in targets] == [
        ("file", 185),
        ("audit", 185),
    ]
    assert targets[1]["Arn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/audit"
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_rule(Name="nope")
    # The shop's key may not use the audit bus.
    with pytest.raises(ClientError) as denied:
        events.list_rules(EventBusName="audit")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    sample = {
        "id": "1",
        "account": ACCOUNT,
        "source": "com.example.payments",
        "time": "2026-11-28T10:00:00Z",
        "region": REGION,
        "resources": [],
        "detail-type": "Payment Processed",
        "detail": {"amount": 1200},
    }
    matches = events.test_event_pattern(
        EventPattern=json.dumps({"detail": {"amount": [{"numeric": [">", 1000]}]}}), Event=json.dumps(sample)
    )
    assert matches["Result"] is True
    with pytest.raises(events.exceptions.InvalidEventPatternException):
        events.test_event_pattern(
            EventPattern='{"detail": {"amount": [{"numeric": [">"]}]}}', Event=json.dumps(sample)
        )


# -- the same entries on moto's EventBridge ----------------------------------------------------

LONG_TYPE = "T" * 129
BIG = detail({"blob": "x" * 150_000})
ok = {"Source": "com.example.orders", "DetailType": "Order Placed", "Detail": detail({"order": 1})}

#: name → the entries of one PutEvents call (a bus left out: the default bus on both).
SHARED: dict[str, list[dict[str, Any]]] = {
    "valid": [ok],
    "valid, every field": [
        {
            **ok,
            "Resources": ["arn:aws:s3:::bucket"],
            "Time": datetime(2026, 11, 28, tzinfo=UTC),
            "TraceHeader": "Root=1-5759e988-bd862e3fe1be46a994272793",
        }
    ],
    "named bus": [{**ok, "EventBusName": "shop"}],
    "bus ARN": [{**ok, "EventBusName": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/shop"}],
    "no Source": [{"DetailType": "Order Placed", "Detail": "{}"}, ok],
    "empty Source": [{**ok, "Source": ""}, ok],
    "no DetailType": [{"Source": "com.example.orders", "Detail": "{}"}, ok],
    "no Detail": [{"Source": "com.example.orders", "DetailType": "Order Placed"}, ok],
    "Detail not JSON": [{**ok, "Detail": "{not json"}],
    "mixed batch": [ok, {**ok, "Detail": "nope"}, {"Source": "a.b"}, ok],
    "ten entries": [ok] * 10,
    "eleven entries": [ok] * 11,
    # moto departs from EventBridge's documented behaviour in the cases below
    "aws. source": [{**ok, "Source": "aws.ec2"}],
    "DetailType over 128": [{**ok, "DetailType": LONG_TYPE}],
    "Detail not an object": [{**ok, "Detail": "[1, 2]"}],
    "Detail 600 levels deep": [{**ok, "Detail": '{"a":' * 600 + "1" + "}" * 600}],
    "no entry complete": [{"Source": "a.b"}, {"DetailType": "x"}],
    "over the size limit": [{**ok, "Detail": BIG}, {**ok, "Detail": BIG}],
    "unknown bus": [{**ok, "EventBusName": "missing"}, ok],
}

#: Where moto answers otherwise: name → (moto's result, hookgate's, which is EventBridge's
#: documented one, or for an unknown bus hookgate's deliberate choice).
DIFFERENCES: dict[str, tuple[Any, Any]] = {
    "aws. source": (["ok"], ["NotAuthorizedForSourceException"]),
    "DetailType over 128": (["ok"], ["InvalidArgument"]),
    "Detail not an object": (["ok"], ["MalformedDetail"]),
    "Detail 600 levels deep": (["ok"], ["MalformedDetail"]),  # EventBridge takes 1000, hookgate 500
    "no entry complete": (["InvalidArgument", "InvalidArgument"], "raised ValidationException"),
    "over the size limit": (["ok", "ok"], "raised ValidationException"),
    "unknown bus": ("raised ResourceNotFoundException", ["ResourceNotFoundException", "ok"]),
}


def outcome(events: Any, entries: list[dict[str, Any]]) -> Any:
    """Per entry `ok` or its ErrorCode; `raised CODE` when the whole call failed."""
    try:
        answer = events.put_events(Entries=entries)
    except ClientError as exc:
        return f"raised {exc.response['Error']['Code']}"
    results = [e.get("ErrorCode", "ok") for e in answer["Entries"]]
    assert answer["FailedEntryCount"] == sum(1 for r in results if r != "ok")
    assert all(("EventId" in e) != ("ErrorCode" in e) for e in answer["Entries"])
    return results


def test_the_same_entries_get_the_same_results_as_on_moto(bus: Served) -> None:
    with moto_server() as endpoint:
        moto = client(endpoint, key="testing", secret="testing")
        moto.create_event_bus(Name="shop")
        ours = client(bus.url)
        compared = {}
        for name, entries in SHARED.items():
            if name == "Detail not an object":  # moto accepts it with a warning (its server runs here)
                with pytest.warns(UserWarning, match="EventDetail should be of type dict"):
                    on_moto = outcome(moto, entries)
            else:
                on_moto = outcome(moto, entries)
            compared[name] = (on_moto, outcome(ours, entries))
    for name, (on_moto, on_hookgate) in compared.items():
        if name in DIFFERENCES:
            assert (on_moto, on_hookgate) == DIFFERENCES[name], name
        else:
            assert on_hookgate == on_moto, name
    assert compared["mixed batch"][1] == ["ok", "MalformedDetail", "InvalidArgument", "ok"]
    assert compared["eleven entries"][1] == "raised ValidationException"


# -- authentication ----------------------------------------------------------------------------


def code(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


def signed(url: str, body: bytes, *, secret: str = SECRET, at: datetime | None = None) -> dict[str, str]:
    """The headers botocore signs a PutEvents with (at `at`, else now)."""
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSEvents.PutEvents"},
    )
    auth = SigV4Auth(Credentials(KEY, secret), "events", REGION)
    if at is not None:
        request.context["timestamp"] = at.strftime("%Y%m%dT%H%M%SZ")
        auth._modify_request_before_signing(request)
        canonical = auth.canonical_request(request)
        string_to_sign = auth.string_to_sign(request, canonical)
        signature = auth.signature(string_to_sign, request)
        auth._inject_signature_to_request(request, signature)
    else:
        auth.add_auth(request)
    return dict(request.headers.items())


def test_requests_are_authenticated_as_aws_does(bus: Served) -> None:
    good = client(bus.url)
    assert good.list_rules()["Rules"]
    assert code(lambda: client(bus.url, secret="not-the-secret").list_rules()) == (
        "InvalidSignatureException",
        403,
    )
    unknown = client(bus.url, key="AKIANOBODYKNOWS000")
    assert code(lambda: unknown.put_events(Entries=[ok])) == ("UnrecognizedClientException", 400)
    unsigned = client(bus.url, config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    assert code(unsigned.list_rules) == ("MissingAuthenticationTokenException", 403)
    other = client(bus.url, key=OTHER_KEY, secret=OTHER_SECRET)
    assert [b["Name"] for b in other.list_event_buses()["EventBuses"]] == ["audit"]
    denied = other.put_events(Entries=[ok])["Entries"][0]
    assert denied["ErrorCode"] == "AccessDeniedException"

    body = json.dumps({"Entries": [ok]}).encode()
    fresh = httpx.post(bus.url + "/", content=body, headers=signed(bus.url, body))
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["FailedEntryCount"] == 0
    stale_at = datetime.now(UTC) - timedelta(minutes=6)
    stale = httpx.post(bus.url + "/", content=body, headers=signed(bus.url, body, at=stale_at))
    assert stale.status_code == 403
    assert stale.json()["__type"] == "InvalidSignatureException"
    assert stale.json()["message"].startswith("Signature expired: ")
    tampered = httpx.post(
        bus.url + "/", content=body.replace(b"Order", b"Ordeq"), headers=signed(bus.url, body)
    )
    assert (tampered.status_code, tampered.json()["__type"]) == (403, "InvalidSignatureException")
    assert tampered.json()["message"].startswith("The request signature we calculated does not match")

    # Nothing refused was stored; the log names causes, never a secret or a body.
    stored = json.loads(bus.cli("events", "list", "--source", "api", "--json").stdout)["events"]
    assert len(stored) == 1
    log = bus.log_text()
    assert "InvalidSignatureException" in log
    assert SECRET not in log
    assert OTHER_SECRET not in log
    assert "Order Placed" not in log


def test_bad_requests_are_answered_never_with_a_500(bus: Served) -> None:
    body = b'{"Entries": [}'
    response = httpx.post(bus.url + "/", content=body, headers=signed(bus.url, body))
    assert (response.status_code, response.json()["__type"]) == (400, "SerializationException")
    body = json.dumps({"Entries": [{"Source": 1, "DetailType": "x", "Detail": "{}"}]}).encode()
    response = httpx.post(bus.url + "/", content=body, headers=signed(bus.url, body))
    assert (response.status_code, response.json()["__type"]) == (400, "SerializationException")
    body = b"{}"
    headers = {**signed(bus.url, body)}
    response = httpx.post(bus.url + "/", content=body, headers=headers)
    assert (response.status_code, response.json()["__type"]) == (400, "ValidationException")
    # past four times the largest max_request_bytes (the audit bus's 1 MB), the body is not read
    huge = b'{"Entries": [{"Detail": "' + b"x" * (4 * 1_048_576 + 70_000) + b'"}]}'
    response = httpx.post(bus.url + "/", content=huge, headers=signed(bus.url, huge))
    assert response.status_code == 413
    assert httpx.get(bus.url + "/").status_code == 404


# -- hookgate's own EventBridge sink, pointed at a hookgate bus ------------------------------

FORWARDING = """
[server]
host = "127.0.0.1"
port = {port}

[store]
url = "sqlite:///{tmp}/hookgate.db"

[dispatcher]
poll_interval_seconds = 0.2
base_delay_seconds = 0.05
max_delay_seconds = 0.2

[sources.stripe]
connector = "stripe"
secrets = ["env:E2E_STRIPE_SECRET"]
event_source = "com.example.stripe"
sinks = ["forward"]

[sinks.forward]
type = "eventbridge"
event_bus_name = "shop"
endpoint_url = "http://127.0.0.1:{port}"
region = "{region}"

[sinks.shop]
type = "router"

[sinks.shop.api]
credentials = [{{ access_key_id = "{key}", secret_access_key = "env:E2E_SHOP_BUS_SECRET" }}]

[sinks.shop.rules.payments]
event_pattern = {{ source = ["com.example.stripe"], detail-type = ["invoice.paid"] }}

[[sinks.shop.rules.payments.targets]]
id = "file"
type = "jsonl"
path = "{tmp}/payments.jsonl"
"""


def test_hookgates_eventbridge_sink_publishes_to_a_hookgate_bus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Stripe webhook, stored, is put by the `eventbridge` sink (botocore, batching, Time
    and TraceHeader) on a bus of the same gateway through its API, whose rule delivers it."""
    monkeypatch.setenv("E2E_SHOP_BUS_SECRET", SECRET)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    port = free_port()
    config = tmp_path / "hookgate.toml"
    config.write_text(FORWARDING.format(port=port, tmp=tmp_path, key=KEY, region=REGION))
    served = Served(tmp_path, config, port)
    served.start()
    try:
        body = stripe_event(kind="invoice.paid")
        response = httpx.post(
            f"{served.url}/webhooks/stripe",
            content=body,
            headers={**stripe_headers(body), "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793"},
        )
        assert response.status_code == 200, response.text
        [webhook_id] = response.json()["event_ids"]
        [received] = wait_for(tmp_path / "payments.jsonl", 1)
    finally:
        served.stop()
    assert received["id"] != webhook_id  # a new event on the bus, as EventBridge's PutEvents makes
    assert (received["source"], received["detail-type"]) == ("com.example.stripe", "invoice.paid")
    assert (received["account"], received["region"]) == (ACCOUNT, REGION)
    assert received["detail"]["metadata"]["event_id"] == webhook_id
    assert received["detail"]["payload"] == json.loads(body)
    assert received["trace-header"] == "Root=1-5759e988-bd862e3fe1be46a994272793"
