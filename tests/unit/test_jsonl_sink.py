"""The `jsonl` sink, and the router's `jsonl` target, when their file refuses writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.router.targets import Delivery, target_types
from gateway.sinks import Retry
from gateway.sinks.files import JsonlOptions, JsonlSink

from ._fakes import NOW, make_event

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, a file every write fails on"),
]


async def test_a_failed_write_is_retried_and_leaves_nothing_to_flush_on_close() -> None:
    sink = JsonlSink("archive", JsonlOptions(path="/dev/full"))
    await sink.open()
    assert await sink.deliver([make_event(at=NOW)]) == [Retry("io_error: No space left on device")]
    await sink.close()  # no leftover line to flush (and fail on) at shutdown
    # ...and the next attempt opens the file again
    assert await sink.deliver([make_event(at=NOW)]) == [Retry("io_error: No space left on device")]
    await sink.close()


async def test_the_routers_jsonl_target_fails_the_same_way() -> None:
    cls = target_types()["jsonl"]
    target = cls("bus/rule/archive", cls.Options.model_validate({"path": "/dev/full"}))
    delivery = Delivery(make_event(at=NOW), b'{"a":1}')
    assert await target.send([delivery]) == [Retry("io_error: No space left on device")]
    await target.close()  # no leftover line to flush (and fail on) at shutdown
    assert await target.send([delivery]) == [Retry("io_error: No space left on device")]
    await target.close()
