"""Sinks that write JSON lines: to a file (`jsonl`, fsynced before reporting) or stdout."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from gateway.events import Event
from gateway.paths import OutputPath
from gateway.sinks import Delivered, Outcome, Retry, Sink, SinkOptions

__all__ = ["JsonlFile", "JsonlSink", "StdoutSink", "append_lines", "open_for_append"]


#: Modes of the files and folders hookgate creates for events (they hold customer data).
FILE_MODE = 0o600
DIR_MODE = 0o700


def open_for_append(path: str) -> int:
    """A file descriptor appending to `path`, created (mode 0600, its folder 0700) if needed."""
    file = Path(path)
    if not file.parent.exists():
        file.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)


def append_lines(fd: int, lines: Iterable[str], *, fsync: bool) -> None:
    """Append `lines` (without their line breaks) whole, or not at all: on any error the
    file is cut back to where it ended, so a retry never follows a torn line; fsync when
    asked. A pipe (a FIFO) cannot be cut back or fsynced: it is simply written."""
    data = memoryview("".join(line + "\n" for line in lines).encode())
    try:
        offset: int | None = os.lseek(fd, 0, os.SEEK_END)
    except OSError as exc:
        if exc.errno != errno.ESPIPE:
            raise
        offset = None  # a pipe (a FIFO someone reads): nothing to cut back, it is written as it goes
    try:
        while data:
            written = os.write(fd, data)
            data = data[written:]
        if fsync and offset is not None:
            os.fsync(fd)
    except BaseException:
        if offset is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, offset)
        raise


class JsonlFile:
    """A JSON-lines file appended to by a sink or a target: opened on first use, written
    without a buffer, a record at a time (`append_lines`); a failed write cuts the file back
    and closes it, so the next attempt opens it again."""

    def __init__(self, path: str, *, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync
        self._fd: int | None = None

    async def open(self) -> None:
        if self._fd is None:
            self._fd = await asyncio.to_thread(open_for_append, self.path)

    async def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(os.close, fd)

    async def append(self, lines: Sequence[str]) -> Outcome:
        """Append `lines` (one outcome for all of them: written and flushed, or to be
        retried with the file as it was)."""
        try:
            await self.open()
            assert self._fd is not None
            await asyncio.to_thread(append_lines, self._fd, lines, fsync=self.fsync)
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
