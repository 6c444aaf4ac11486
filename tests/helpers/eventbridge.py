"""EventBridge without AWS: a fake answering the sink's PutEvents and PutObject calls through
botocore's `before-send` hook (real request serialization, real response and error
parsing, no network, no sleeps), and a `Harness` holding a sink wired to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from prometheus_client import CollectorRegistry

from gateway.sinks.eventbridge import EventBridgeOptions, EventBridgeSink

#: What the fake answers to one PutEvents call: per-entry results, an HTTP error
#: (status, code, message), or an exception raised where the HTTP send would be.
Reply = list[dict[str, Any]] | tuple[int, str, str] | Exception


def accept(entries: list[dict[str, Any]]) -> Reply:
    return [{"EventId": f"eb-{n}"} for n in range(len(entries))]


def event_id_of(entry: dict[str, Any]) -> str:
    detail = json.loads(entry["Detail"])
    return str(detail.get("hookgate_event_id") or detail["metadata"]["event_id"])


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.body


def _http_error(request: AWSPreparedRequest, status: int, code: str, message: str) -> AWSResponse:
    body = json.dumps({"__type": code, "message": message}).encode()
    return AWSResponse(request.url, status, {"x-amzn-RequestId": "test"}, _Body(body))


@dataclass
class FakeAws:
    """EventBridge PutEvents and S3 PutObject, scripted by the test."""

    put_events: Callable[[list[dict[str, Any]]], Reply] = accept
    put_object: Callable[[str, bytes], tuple[int, str, str] | Exception | None] = lambda _key, _body: None
    calls: list[tuple[str, Any]] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # hookgate id → entry
    objects: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, sink: EventBridgeSink) -> None:
        sink.events_client.meta.events.register("before-send.events.PutEvents", self._events)
        if sink.s3_client is not None:
            sink.s3_client.meta.events.register("before-send.s3.PutObject", self._s3)

    def entries_sent(self) -> list[list[dict[str, Any]]]:
        return [payload for op, payload in self.calls if op == "PutEvents"]

    def _events(self, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse:
        entries = json.loads(request.body)["Entries"]
        with self.lock:
            self.calls.append(("PutEvents", entries))
        reply = self.put_events(entries)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, tuple):
            return _http_error(request, *reply)
        with self.lock:
            for entry, result in zip(entries, reply, strict=True):
                if "EventId" in result:
                    self.accepted[event_id_of(entry)] = entry
        failed = sum(1 for r in reply if "ErrorCode" in r)
        body = json.dumps({"FailedEntryCount": failed, "Entries": reply}).encode()
        return AWSResponse(request.url, 200, {}, _Body(body))

    def _s3(self, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse:
        key = request.url.split("/", 4)[4]
        body = request.body if isinstance(request.body, bytes) else request.body.read()
        with self.lock:
            self.calls.append(("PutObject", key))
        reply = self.put_object(key, body)
        if isinstance(reply, Exception):
            raise reply
        if reply is not None:
            status, code, message = reply
            xml = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
            return AWSResponse(request.url, status, {}, _Body(xml))
        with self.lock:
            self.objects[key] = body
        return AWSResponse(request.url, 200, {"ETag": '"etag"'}, _Body(b""))


def options(**changes: Any) -> EventBridgeOptions:
    base: dict[str, Any] = {
        "event_bus_name": "webhooks",
        "region": "us-east-1",
        "endpoint_url": "http://127.0.0.1:9",  # never contacted: the fake answers first
        "retry_mode": "standard",  # adaptive mode's rate limiter may sleep
        "sdk_max_attempts": 1,  # SDK retries sleep; the store's backoff is tested instead
        "concurrency": 4,
    }
    return EventBridgeOptions.model_validate(base | changes)


@dataclass
class Harness:
    sink: EventBridgeSink
    aws: FakeAws
    registry: CollectorRegistry

    def sample(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, {"sink": "bus", **labels})
        return 0.0 if value is None else value


async def harness(**changes: Any) -> Harness:
    sink = EventBridgeSink("bus", options(**changes))
    registry = CollectorRegistry()
    sink.instrument(registry)
    await sink.open()
    aws = FakeAws()
    aws.attach(sink)
    return Harness(sink, aws, registry)
