"""Sinks that write JSON lines: to a file (`jsonl`, fsynced before reporting) or stdout."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, TextIO

from pydantic import Field

from gateway.events import Event
from gateway.sinks import Delivered, Outcome, Retry, Sink, SinkOptions

__all__ = ["JsonlSink", "StdoutSink"]


class JsonlOptions(SinkOptions):
    path: str = Field(description="file the events are appended to, one JSON entry per line")
    fsync: bool = Field(True, description="fsync before reporting delivered")


class JsonlSink(Sink):
    """Appends each event's EventBridge-shaped entry as one line of JSON."""

    Options: ClassVar[type[SinkOptions]] = JsonlOptions
    kind = "jsonl"
    options: JsonlOptions
    max_batch = 500

    _file: TextIO | None = None

    async def open(self) -> None:
        path = Path(self.options.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = await asyncio.to_thread(path.open, "a", encoding="utf-8")

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, events: Sequence[Event]) -> None:
        assert self._file is not None
        self._file.write("".join(event.entry + "\n" for event in events))
        self._file.flush()
        if self.options.fsync:
            os.fsync(self._file.fileno())

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        try:
            if self._file is None:
                await self.open()
            await asyncio.to_thread(self._write, events)
        except OSError as exc:
            return [Retry(f"io_error: {exc.strerror}")] * len(events)
        return [Delivered()] * len(events)


class StdoutSink(Sink):
    """Prints each event's entry as one line of JSON on standard output."""

    kind = "stdout"
    max_batch = 500

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        sys.stdout.write("".join(event.entry + "\n" for event in events))
        sys.stdout.flush()
        return [Delivered()] * len(events)
