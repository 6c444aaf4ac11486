"""`PutEvents` as EventBridge checks it: the size as AWS counts it, the whole-request and
per-entry errors, bus names and ARNs, and the envelope an accepted entry becomes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.events import isoformat
from gateway.router.eventbridge_api import API_SOURCE, ApiError, plan_put_events
from gateway.router.eventbridge_api._put_events import Accepted, BusView, Refused
from gateway.sinks.eventbridge._entries import entry_size

NOW = 1_795_000_000.0
ARN = "arn:aws:events:eu-west-1:123456789012:event-bus/shop"
LIMIT = 8000
BUSES = {
    "shop": BusView("123456789012", "eu-west-1", allowed=True, max_request_bytes=LIMIT),
    "audit": BusView("123456789012", "eu-west-1", allowed=False),
}
OK: dict[str, Any] = {"Source": "com.example.orders", "DetailType": "Order Placed", "Detail": '{"order": 1}'}


def plan(*entries: dict[str, Any], default: str | None = "shop") -> list[Accepted | Refused]:
    return plan_put_events({"Entries": list(entries)}, buses=BUSES, default=default, now=NOW)


def error(*entries: dict[str, Any], request: Any = None) -> ApiError:
    with pytest.raises(ApiError) as raised:
        plan_put_events(
            {"Entries": list(entries)} if request is None else request, buses=BUSES, default="shop", now=NOW
        )
    return raised.value


def codes(results: list[Accepted | Refused]) -> list[str]:
    return [r.code if isinstance(r, Refused) else "ok" for r in results]


def test_an_accepted_entry_gets_eventbridges_envelope() -> None:
    [accepted] = plan({**OK, "Resources": ["arn:aws:s3:::b"], "Time": NOW - 3600, "TraceHeader": "Root=1-a"})
    assert isinstance(accepted, Accepted)
    assert accepted.bus == "shop"
    event = accepted.event
    assert (event.source, event.dedup_key, event.detail_type, event.received_at) == (
        API_SOURCE,
        event.id,
        "Order Placed",
        NOW,
    )
    assert json.loads(event.entry) == {
        "version": "0",
        "id": event.id,
        "detail-type": "Order Placed",
        "source": "com.example.orders",
        "account": "123456789012",
        "time": isoformat(NOW - 3600),
        "region": "eu-west-1",
        "resources": ["arn:aws:s3:::b"],
        "detail": {"order": 1},
        "trace-header": "Root=1-a",
    }
    [second] = plan(OK)
    assert isinstance(second, Accepted)
    assert second.event.id != event.id
    assert json.loads(second.event.entry)["time"] == isoformat(NOW)
    [iso] = plan({**OK, "Time": "2026-11-28T10:00:00Z"})
    assert isinstance(iso, Accepted)
    assert json.loads(iso.event.entry)["time"] == "2026-11-28T10:00:00Z"


def test_the_size_is_counted_as_aws_documents_and_must_stay_below_the_limit() -> None:
    base = {"Source": "s", "DetailType": "t", "EventBusName": "shop", "TraceHeader": "x" * 300}
    room = LIMIT - 1 - 2 - len('{"a":""}')  # below the limit: Source + DetailType + Detail < LIMIT
    fits = {**base, "Detail": json.dumps({"a": "x" * room}, separators=(",", ":"))}
    assert entry_size(fits) == LIMIT - 1
    assert codes(plan(fits)) == ["ok"]
    over = {**fits, "Detail": json.dumps({"a": "x" * (room + 1)}, separators=(",", ":"))}
    assert error(over).message == "Total size of the entries in the request is over the limit."
    assert error({**fits, "Time": NOW}).code == "ValidationException"  # Time counts 14 bytes
    assert error({**fits, "Resources": ["r"]}).code == "ValidationException"
    half = {**base, "Detail": json.dumps({"a": "x" * (LIMIT // 2 - 10)})}
    assert entry_size(half) < LIMIT
    assert error(half, half).code == "ValidationException"  # the sum over the request
    # the default bus's 1 MB applies to a request that names only it
    assert codes(
        plan({**fits, "EventBusName": None, "Detail": json.dumps({"a": "x" * 5000})}, default="audit")
    ) == ["AccessDeniedException"]


@pytest.mark.parametrize(
    ("entry", "code"),
    [
        ({"DetailType": "t", "Detail": "{}"}, "InvalidArgument"),
        ({**OK, "Source": ""}, "InvalidArgument"),
        ({"Source": "s", "Detail": "{}"}, "InvalidArgument"),
        ({"Source": "s", "DetailType": "t"}, "InvalidArgument"),
        ({**OK, "Source": "aws.ec2"}, "NotAuthorizedForSourceException"),
        ({**OK, "DetailType": "x" * 129}, "InvalidArgument"),
        ({**OK, "Detail": "not json"}, "MalformedDetail"),
        ({**OK, "Detail": "[1]"}, "MalformedDetail"),
        ({**OK, "Detail": '"text"'}, "MalformedDetail"),
        ({**OK, "Detail": '{"n": NaN}'}, "MalformedDetail"),
        ({**OK, "Detail": '{"n": 9223372036854775808}'}, "MalformedDetail"),
        ({**OK, "Detail": "[" * 500 + "{}" + "]" * 500}, "MalformedDetail"),
        ({**OK, "Detail": '{"a":' * 501 + "1" + "}" * 501}, "MalformedDetail"),
        ({**OK, "Detail": '{"a":' * 500 + "[1]" + "}" * 500}, "MalformedDetail"),
        ({**OK, "Detail": '{"a":' * 1000 + "1" + "}" * 1000}, "MalformedDetail"),
        ({**OK, "EventBusName": "missing"}, "ResourceNotFoundException"),
        ({**OK, "EventBusName": ARN.replace("eu-west-1", "us-east-1")}, "ResourceNotFoundException"),
        ({**OK, "EventBusName": "audit"}, "AccessDeniedException"),
    ],
)
def test_an_entry_is_refused_with_eventbridges_code(entry: dict[str, Any], code: str) -> None:
    assert codes(plan(entry, OK)) == [code, "ok"]


def test_the_limits_that_still_pass() -> None:
    deep = '{"a":' * 500 + "1" + "}" * 500
    assert codes(plan({**OK, "Detail": deep}, {**OK, "DetailType": "x" * 128})) == ["ok", "ok"]
    assert codes(plan({**OK, "Detail": '{"n": 9223372036854775807, "m": -9223372036854775808}'})) == ["ok"]
    assert codes(plan({**OK, "EventBusName": ARN}, {**OK, "EventBusName": "default"})) == ["ok", "ok"]
    assert codes(plan(*[OK] * 10)) == ["ok"] * 10


def test_the_default_bus_is_the_configured_one() -> None:
    assert codes(plan(OK, default=None)) == ["ResourceNotFoundException"]
    [refused] = plan(OK, default=None)
    assert isinstance(refused, Refused)
    assert refused.message == "Event bus default does not exist."


@pytest.mark.parametrize(
    ("request_body", "code"),
    [
        ({"Entries": []}, "ValidationException"),
        ({"Entries": [OK] * 11}, "ValidationException"),
        ({}, "ValidationException"),
        ({"Entries": [{"Source": "s"}, {"DetailType": "t"}]}, "ValidationException"),
        ({"Entries": [{**OK, "EventBusName": "a/b"}]}, "ValidationException"),
        ({"Entries": [{**OK, "EventBusName": "x" * 1601}]}, "ValidationException"),
        ({"Entries": [{**OK, "TraceHeader": "x" * 501}]}, "ValidationException"),
        ({"Entries": [{**OK, "TraceHeader": ""}]}, "ValidationException"),
        ([OK], "SerializationException"),
        ({"Entries": "x"}, "SerializationException"),
        ({"Entries": ["x"]}, "SerializationException"),
        ({"Entries": [{**OK, "Source": 1}]}, "SerializationException"),
        ({"Entries": [{**OK, "Resources": "arn"}]}, "SerializationException"),
        ({"Entries": [{**OK, "Resources": [1]}]}, "SerializationException"),
        ({"Entries": [{**OK, "Time": True}]}, "SerializationException"),
        ({"Entries": [{**OK, "Time": "yesterday"}]}, "SerializationException"),
        ({"Entries": [{**OK, "Time": 1e20}]}, "SerializationException"),
    ],
)
def test_a_request_that_fails_as_a_whole(request_body: Any, code: str) -> None:
    failure = error(request=request_body)
    assert (failure.code, failure.status) == (code, 400)
    assert json.loads(failure.body()) == {"__type": code, "message": failure.message}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_entry = st.fixed_dictionaries(
    {},
    optional={
        "Source": st.one_of(st.text(max_size=12), _json),
        "DetailType": st.one_of(st.text(max_size=12), _json),
        "Detail": st.one_of(st.text(max_size=40), _json.map(json.dumps), _json),
        "Resources": st.one_of(st.lists(st.text(max_size=10), max_size=3), _json),
        "Time": st.one_of(st.floats(allow_nan=False), st.text(max_size=25), _json),
        "EventBusName": st.one_of(st.sampled_from(["shop", "audit", "default", ARN, "x/y"]), _json),
        "TraceHeader": st.one_of(st.text(max_size=10), _json),
    },
)


@given(request=st.one_of(_json, st.fixed_dictionaries({"Entries": st.lists(_entry, max_size=12)})))
def test_any_request_is_planned_or_refused_with_a_400(request: Any) -> None:
    try:
        results = plan_put_events(request, buses=BUSES, default="shop", now=NOW)
    except ApiError as exc:
        failure: ApiError | None = exc
        results = []
    else:
        failure = None
    if failure is not None:
        assert failure.status == 400
        assert failure.code in {"ValidationException", "SerializationException"}
    for result in results:
        assert isinstance(result, Accepted | Refused)
        if isinstance(result, Accepted):
            assert isinstance(json.loads(result.event.entry)["detail"], dict)
