"""`BodyReader`: a body read within its size, its time (more for a larger body, never a
trickle) and the budget shared by every body being read at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest
from starlette.types import Message, Receive

from gateway.connections import BodyReader, BodyRefusedError, DisconnectedError


def reader(**overrides: float) -> BodyReader:
    options = {"timeout_seconds": 0.2, "min_bytes_per_second": 1000, "max_buffered_bytes": 10_000}
    options.update(overrides)
    return BodyReader(**options)  # type: ignore[arg-type]


def chunks(parts: Iterable[tuple[float, bytes]], *, last: bool = True) -> Receive:
    """A `receive` giving each part after its delay; then nothing ever again, or the end."""
    queue = list(parts)

    async def receive() -> Message:
        if not queue:
            await asyncio.sleep(3600)
        delay, body = queue.pop(0)
        await asyncio.sleep(delay)
        return {"type": "http.request", "body": body, "more_body": bool(queue) or not last}

    return receive


def scope(length: int | None = None) -> dict[str, object]:
    headers = [(b"content-length", str(length).encode())] if length is not None else []
    return {"type": "http", "headers": headers}


def test_a_body_in_time_is_read_and_releases_its_budget() -> None:
    body_reader = reader()
    body = asyncio.run(body_reader.read(scope(), chunks([(0.0, b"ab"), (0.1, b"cd")]), 100))
    assert body == b"abcd"
    assert body_reader.buffered == 0


def test_a_stalled_body_times_out() -> None:
    body_reader = reader()
    with pytest.raises(BodyRefusedError) as caught:
        asyncio.run(body_reader.read(scope(), chunks([(0.0, b"ab")], last=False), 100))
    assert (caught.value.status, caught.value.cause) == (408, "body_timeout")
    assert body_reader.buffered == 0


def test_each_byte_received_buys_time_at_the_minimum_rate() -> None:
    """0.2 s + 1 s per 1000 bytes: after 500 bytes, 0.7 s in all; a trickle below it fails."""
    parts = [(0.0, b"x" * 500), (0.4, b"y")]
    assert len(asyncio.run(reader().read(scope(), chunks(parts), 1000))) == 501
    slow = [(0.0, b"x" * 10), (0.25, b"y")]
    with pytest.raises(BodyRefusedError):
        asyncio.run(reader().read(scope(), chunks(slow), 1000))


def test_too_large_by_header_or_as_read() -> None:
    with pytest.raises(BodyRefusedError) as caught:
        asyncio.run(reader().read(scope(101), chunks([]), 100))
    assert caught.value.status == 413
    with pytest.raises(BodyRefusedError) as caught:
        asyncio.run(reader().read(scope(), chunks([(0.0, b"x" * 60), (0.0, b"x" * 60)]), 100))
    assert caught.value.status == 413


def test_the_budget_is_shared_by_the_bodies_being_read() -> None:
    body_reader = reader(timeout_seconds=5)

    async def both() -> tuple[object, object]:
        holder = asyncio.ensure_future(
            body_reader.read(scope(), chunks([(0.0, b"x" * 8000)], last=False), 100_000)
        )
        await asyncio.sleep(0.05)
        assert body_reader.buffered == 8000
        declared = await asyncio.gather(
            body_reader.read(scope(3000), chunks([(0.0, b"y" * 3000)]), 100_000),
            body_reader.read(scope(), chunks([(0.0, b"z" * 3000)]), 100_000),
            return_exceptions=True,
        )
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)
        return declared[0], declared[1]

    by_length, as_read = asyncio.run(both())
    for refused in (by_length, as_read):
        assert isinstance(refused, BodyRefusedError)
        assert (refused.status, refused.cause) == (503, "busy")
    assert body_reader.buffered == 0


def test_a_client_that_leaves_is_told_apart() -> None:
    async def receive() -> Message:
        return {"type": "http.disconnect"}

    with pytest.raises(DisconnectedError):
        asyncio.run(reader().read(scope(), receive, 100))
