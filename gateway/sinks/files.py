"""Sinks that write JSON lines: to a file (`jsonl`, fsynced before reporting) or stdout."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar, TextIO

from pydantic import Field

from gateway.events import Event
from gateway.paths import OutputPath
from gateway.sinks import Delivered, Outcome, Retry, Sink, SinkOptions

__all__ = ["JsonlSink", "StdoutSink", "append_lines", "open_for_append"]


def open_for_append(path: str) -> TextIO:
    """Open `path` (UTF-8) for appending, creating its folder."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    return file.open("a", encoding="utf-8")


def append_lines(file: TextIO, lines: Iterable[str], *, fsync: bool) -> None:
    """Write `lines` (without their line breaks), flush, and fsync when asked."""
    file.write("".join(line + "\n" for line in lines))
    file.flush()
    if fsync:
        os.fsync(file.fileno())


class JsonlOptions(SinkOptions):
    path: OutputPath = Field(description="file the events are appended to, one JSON entry per line")
    fsync: bool = Field(True, description="fsync before reporting delivered")


class JsonlSink(Sink):
    """Appends each event's EventBridge-shaped entry as one line of JSON."""

    Options: ClassVar[type[SinkOptions]] = JsonlOptions
    kind = "jsonl"
    options: JsonlOptions
    max_batch = 500

    _file: TextIO | None = None

    async def open(self) -> None:
        self._file = await asyncio.to_thread(open_for_append, self.options.path)

    async def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):  # lines a failed write left behind: reported for retry
                file.close()

    def _write(self, events: Sequence[Event]) -> None:
        assert self._file is not None
        append_lines(self._file, (event.entry for event in events), fsync=self.options.fsync)

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        try:
            if self._file is None:
                await self.open()
            await asyncio.to_thread(self._write, events)
        except OSError as exc:
            await self.close()  # the next attempt opens the file again, its buffer empty
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
