"""A jsonl file that blocks (a FIFO nobody reads, or whose reader stopped) costs an attempt
its timeout at most, never the event loop: the attempt is retried, the stalled write is
finished whole once the reader is back, and the file then takes writes again."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from gateway.sinks import Delivered, Retry
from gateway.sinks.files import JsonlFile

pytestmark = pytest.mark.anyio


async def test_a_fifo_nobody_reads_is_retried_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "events.pipe"
    os.mkfifo(fifo)
    file = JsonlFile(str(fifo), fsync=False, timeout_seconds=5)
    began = time.monotonic()
    assert await file.append(['{"n": 1}']) == Retry("io_error: no reader on the FIFO")
    assert time.monotonic() - began < 1
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert await file.append(['{"n": 2}']) == Delivered()
        assert os.read(reader, 100) == b'{"n": 2}\n'
    finally:
        await file.close()
        os.close(reader)


async def test_a_reader_that_stops_times_out_the_write_not_the_loop(tmp_path: Path) -> None:
    fifo = tmp_path / "events.pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    file = JsonlFile(str(fifo), fsync=False, timeout_seconds=0.5)
    line = json.dumps({"pad": "x" * 3000})
    ticks = 0

    async def ticker() -> None:  # the event loop keeps running meanwhile
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick = asyncio.create_task(ticker())
    try:
        outcomes = [await file.append([line]) for _ in range(40)]  # 120 KB into a 64 KiB pipe
        stalled = outcomes.index(Retry("io_timeout: the file took longer than 0.5 s to open or write"))
        assert all(o == Delivered() for o in outcomes[:stalled])
        assert outcomes[stalled + 1 :] == [
            Retry("io_timeout: an earlier write to the file has not finished")
        ] * (39 - stalled)
        assert ticks >= 30  # the loop turned while the write was stuck
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"\n") < stalled + 1 and time.monotonic() < deadline:  # the reader is back
            try:
                data += os.read(reader, 65536)
            except BlockingIOError:
                await asyncio.sleep(0.01)
        assert [json.loads(x) for x in data.splitlines()] == [json.loads(line)] * (stalled + 1)  # whole lines
        await asyncio.sleep(0.2)  # the stalled write's end reaches the loop
        assert await file.append(['{"n": 1}']) == Delivered()
    finally:
        tick.cancel()
        await file.close()
        os.close(reader)
