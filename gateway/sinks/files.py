"""Sinks that write JSON lines: to a file (`jsonl`, fsynced before reporting) or stdout."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
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
    """A file descriptor appending to `path`, created (mode 0600, its folder 0700) if needed.
    A FIFO nobody reads is refused at once (`ENXIO`) rather than waited for."""
    file = Path(path)
    if not file.parent.exists():
        file.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK
    fd = os.open(file, flags, FILE_MODE)
    os.set_blocking(fd, True)  # writes wait for room (on the file's own thread, timed)
    return fd


def append_lines(fd: int, lines: Iterable[str], *, fsync: bool) -> None:
    """Append `lines` (without their line breaks) whole, or not at all: on any error the
    file is cut back to where it ended, so a retry never follows a torn line; fsync when
    asked. A pipe (a FIFO) cannot be cut back or fsynced: it is written a line at a time,
    and a line of at most `PIPE_BUF` bytes (4 KiB on Linux) goes in whole or not at all, so
    a writer that stalls or stops never leaves a reader half a line of that size."""
    try:
        offset: int | None = os.lseek(fd, 0, os.SEEK_END)
    except OSError as exc:
        if exc.errno != errno.ESPIPE:
            raise
        offset = None  # a pipe (a FIFO someone reads): nothing to cut back, it is written as it goes
    if offset is None:
        chunks = [memoryview((line + "\n").encode()) for line in lines]
    else:
        chunks = [memoryview("".join(line + "\n" for line in lines).encode())]
    try:
        for chunk in chunks:
            rest = chunk
            while rest:
                rest = rest[os.write(fd, rest) :]
        if fsync and offset is not None:
            os.fsync(fd)
    except BaseException:
        if offset is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, offset)
        raise


class _StalledError(Exception):
    """An earlier call on the file outlived its timeout and has not ended yet."""


class _FileThread:
    """One daemon thread running a file's blocking calls in order, started on demand and
    ended once idle. A call that blocks for good (a FIFO whose reader stopped) holds this
    thread only: never the event loop, and never the process's exit."""

    IDLE_SECONDS = 10.0

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], None], asyncio.Future[None]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False

    def submit(self, fn: Callable[[], None]) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._jobs.put((fn, future))
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="hookgate-file", daemon=True).start()
        return future

    def _run(self) -> None:
        while True:
            try:
                fn, future = self._jobs.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._running = False
                        return
                continue
            error: BaseException | None = None
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                error = exc
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                future.get_loop().call_soon_threadsafe(_settle, future, error)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _forget(future: asyncio.Future[None]) -> None:
    """Retrieve a stalled call's outcome once it ends (its caller gave up on it)."""
    if not future.cancelled():
        future.exception()


class JsonlFile:
    """A JSON-lines file appended to by a sink or a target: opened on first use, written
    without a buffer, a record at a time (`append_lines`); a failed write cuts the file back
    and closes it, so the next attempt opens it again.

    Opening and writing run on the file's own thread and must end within `timeout_seconds`:
    past it (a FIFO whose reader stopped, a hung network filesystem), the attempt is retried
    later and the file takes no other call until the stalled one ends. A FIFO nobody reads
    is not waited for: the attempt is retried. A write into a pipe that timed out is still
    finished whole when the reader comes back, so the retry may write its lines a second
    time (delivery is at least once), never a torn line."""

    def __init__(self, path: str, *, fsync: bool, timeout_seconds: float = 10.0) -> None:
        self.path = path
        self.fsync = fsync
        self.timeout_seconds = timeout_seconds
        self._fd: int | None = None  # used on the file's thread only
        self._thread = _FileThread()
        self._stalled: asyncio.Future[None] | None = None

    async def open(self) -> None:
        """Open the file now (`OSError`, or `TimeoutError` past the timeout)."""
        await self._call(self._open)

    async def close(self) -> None:
        if self._stalled is not None and not self._stalled.done():
            self._thread.submit(self._close)  # once the stalled call ends: never waited for
            return
        with contextlib.suppress(OSError, TimeoutError, _StalledError):
            await self._call(self._close)

    async def append(self, lines: Sequence[str]) -> Outcome:
        """Append `lines` (one outcome for all of them: written and flushed, or to be
        retried with the file as it was)."""
        try:
            await self._call(functools.partial(self._append, lines))
        except TimeoutError:  # (an OSError too)
            return Retry(f"io_timeout: the file took longer than {self.timeout_seconds:g} s to open or write")
        except OSError as exc:
            reason = "no reader on the FIFO" if exc.errno == errno.ENXIO else exc.strerror
            return Retry(f"io_error: {reason}")
        except _StalledError:
            return Retry("io_timeout: an earlier write to the file has not finished")
        return Delivered()

    async def _call(self, fn: Callable[[], None]) -> None:
        if self._stalled is not None:
            if not self._stalled.done():
                raise _StalledError
            self._stalled = None
        future = self._thread.submit(fn)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.timeout_seconds)
        except TimeoutError:
            self._stalled = future
            future.add_done_callback(_forget)
            raise

    # -- on the file's thread -------------------------------------------------------------
    def _open(self) -> None:
        if self._fd is None:
            self._fd = open_for_append(self.path)

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _append(self, lines: Sequence[str]) -> None:
        self._open()
        assert self._fd is not None
        try:
            append_lines(self._fd, lines, fsync=self.fsync)
        except OSError:
            self._close()
            raise


class JsonlOptions(SinkOptions):
    path: OutputPath = Field(description="file the events are appended to, one JSON entry per line")
    fsync: bool = Field(True, description="fsync before reporting delivered")
    timeout_seconds: float = Field(
        10.0, gt=0, description="longest an open or a write may take before the attempt is retried"
    )


class JsonlSink(Sink):
    """Appends each event's EventBridge-shaped entry as one line of JSON."""

    Options: ClassVar[type[SinkOptions]] = JsonlOptions
    kind = "jsonl"
    summary = "appends each event as a JSON line to a file, flushed and fsynced"
    options: JsonlOptions
    max_batch = 500

    def __init__(self, name: str, options: SinkOptions | None = None) -> None:
        super().__init__(name, options)
        self._file = JsonlFile(
            self.options.path, fsync=self.options.fsync, timeout_seconds=self.options.timeout_seconds
        )

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
