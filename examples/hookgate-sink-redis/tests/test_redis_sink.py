"""Against a real Redis server (REDIS_URL, default redis://127.0.0.1:6379/0)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import gateway.sinks
import redis
from gateway.events import Event
from gateway.sinks import Delivered, Outcome, Permanent, Retry

from hookgate_redis import RedisStreamOptions, RedisStreamSink

URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _event(n: int) -> Event:
    entry = {"id": f"e{n}", "source": "hookgate.acme", "detail-type": "order.created", "detail": {}}
    return Event(f"e{n}", "acme", f"k{n}", "order.created", 1.0, json.dumps(entry))


def _sink(stream: str, url: str = URL) -> RedisStreamSink:
    return RedisStreamSink.from_config("redis", {"url": url, "stream": stream})


def _deliver(sink: RedisStreamSink, events: list[Event]) -> list[Outcome]:
    async def scenario() -> list[Outcome]:
        try:
            return await sink.deliver(events)
        finally:
            await sink.close()

    return asyncio.run(scenario())


def test_registered() -> None:
    assert gateway.sinks.sink_type("redis-stream") is RedisStreamSink
    assert RedisStreamSink.Options is RedisStreamOptions


def test_a_batch_is_appended_in_order() -> None:
    stream = f"test-{uuid.uuid4()}"
    sink = _sink(stream)
    outcomes = _deliver(sink, [_event(1), _event(2), _event(3)])
    assert outcomes == [Delivered()] * 3
    client = redis.Redis.from_url(URL)
    try:
        entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(stream)  # type: ignore[assignment]
        assert [fields[b"id"] for _, fields in entries] == [b"e1", b"e2", b"e3"]
        assert json.loads(entries[0][1][b"event"])["detail-type"] == "order.created"
    finally:
        client.delete(stream)
        client.close()


def test_a_key_of_another_type_dead_letters() -> None:
    key = f"test-{uuid.uuid4()}"
    client = redis.Redis.from_url(URL)
    client.set(key, "not a stream")
    try:
        [outcome] = _deliver(_sink(key), [_event(1)])
        assert isinstance(outcome, Permanent) and "WRONGTYPE" in outcome.cause
    finally:
        client.delete(key)
        client.close()


def test_no_server_is_retried() -> None:
    [outcome] = _deliver(_sink("s", url="redis://127.0.0.1:1/0"), [_event(1)])
    assert isinstance(outcome, Retry) and outcome.cause.startswith("redis_unavailable")
