"""Against a real NATS server with JetStream (NATS_URL, default nats://127.0.0.1:4222)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import nats
from gateway.events import Event
from gateway.router.targets import Delivery, target_type
from gateway.sinks import Delivered, Retry

from hookgate_nats import NatsTarget, NatsTargetOptions

URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")


def _delivery(n: int) -> Delivery:
    event = Event(f"e{n}", "acme", f"k{n}", "order.created", 1.0, "{}")
    return Delivery(event, json.dumps({"order": n}).encode())


def test_registered() -> None:
    assert target_type("nats") is NatsTarget
    assert NatsTarget.Options is NatsTargetOptions


def test_deliveries_are_stored_once_by_the_stream() -> None:
    async def scenario() -> list[bytes]:
        name = f"T{uuid.uuid4().hex}"
        subject = f"hookgate.test.{name}"
        client = await nats.connect(URL)
        stream = client.jetstream()
        await stream.add_stream(name=name, subjects=[subject])
        target = NatsTarget.from_config("bus/rule/nats", {"servers": [URL], "subject": subject})
        try:
            first = await target.send([_delivery(1), _delivery(2)])
            again = await target.send([_delivery(1)])  # a redelivery: the same event id
            assert first == [Delivered(), Delivered()] and again == [Delivered()]
            info = await stream.stream_info(name)
            assert info.state.messages == 2
            sub = await stream.pull_subscribe(subject, durable=None)
            return [m.data for m in await sub.fetch(2, timeout=5)]
        finally:
            await target.close()
            await stream.delete_stream(name)
            await client.close()

    assert [json.loads(m) for m in asyncio.run(scenario())] == [{"order": 1}, {"order": 2}]


def test_no_stream_or_no_server_is_retried() -> None:
    no_stream = NatsTarget.from_config(
        "t", {"servers": [URL], "subject": f"none.{uuid.uuid4().hex}"}
    )
    no_server = NatsTarget.from_config("t", {"servers": ["nats://127.0.0.1:1"], "subject": "x"})

    async def scenario() -> tuple[list[object], list[object]]:
        try:
            return list(await no_stream.send([_delivery(1)])), list(
                await no_server.send([_delivery(1)])
            )
        finally:
            await no_stream.close()

    [missing], [down] = asyncio.run(scenario())
    assert isinstance(missing, Retry) and missing.cause.startswith("nats_publish_failed")
    assert isinstance(down, Retry) and down.cause.startswith("nats_unavailable")
