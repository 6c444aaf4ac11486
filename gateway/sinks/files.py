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

__all__ = ["JsonlFile", "JsonlSink", "StdoutSink", "append_lines", "open_for_append"]


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


class JsonlFile:
    """A JSON-lines file appended to by a sink or a target: opened on first use; a failed
    write closes it, so the next attempt opens it again with an empty buffer."""

    def __init__(self, path: str, *, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync
        self._file: TextIO | None = None

    async def open(self) -> None:
        if self._file is None:
            self._file = await asyncio.to_thread(open_for_append, self.path)

    async def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):  # lines a failed write left behind: reported for retry
                await asyncio.to_thread(file.close)

    async def append(self, lines: Sequence[str]) -> Outcome:
        """Append `lines` (one outcome for all of them: written, or to be retried)."""
        try:
            await self.open()
            assert self._file is not None
            await asyncio.to_thread(append_lines, self._file, lines, fsync=self.fsync)
        except OSError as exc:
            await self.close()
            return Retry(f"io_error: {exc.strerror}")
        return Delivered()


class JsonlOptions(SinkOptions):
    path: OutputPath = Field(description="file the events are appended to, one JSON entry per line")
    fsync: bool = Field(True, description="fsync before reporting delivered")


class JsonlSink(Sink):
    """Appends each event's EventBridge-shaped entry as one line of JSON."""

    Options: ClassVar[type[SinkOptions]] = JsonlOptions
    kind = "jsonl"
    summary = "appends each event as a JSON line to a file, flushed and fsynced"
    options: JsonlOptions
    max_batch = 500

    def __init__(self, name: str, options: SinkOptions | None = None) -> None:
        super().__init__(name, options)
        self._file = JsonlFile(self.options.path, fsync=self.options.fsync)

    async def open(self) -> None:
        await self._file.open()

    async def close(self) -> None:
        await self._file.close()

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        return [await self._file.append([event.entry for event in events])] * len(events)


class StdoutSink(Sink):
    """Prints each event's entry as one line of JSON on standard output."""

    kind = "stdout"
    summary = "writes each event as a JSON line to standard output"
    max_batch = 500

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        sys.stdout.write("".join(event.entry + "\n" for event in events))
        sys.stdout.flush()
        return [Delivered()] * len(events)
