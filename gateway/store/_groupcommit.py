"""Group commit over one SQLite connection: one writer thread runs every write.

Callers on the event loop submit jobs and await a future. The writer thread takes every
job waiting, runs them in one transaction and commits once, so many concurrent requests
share one `fsync`. Jobs that share a `batch` function are run by one call of it (one
multi-row statement instead of one per job). If a grouped transaction fails, each job is
run again alone, so one bad job cannot fail its neighbours.

On a volume short of space (less than `LOW_SPACE_BYTES` free), every commit is followed by
a checkpoint that cuts the WAL's file to nothing (`TRUNCATE`): SQLite's own checkpoints
reuse the WAL but keep its file at its largest (about 4 MB), space a small volume needs. A
write that fails for lack of space checkpoints the same way and is tried once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from gateway.errors import StoreError

__all__ = ["Writer"]

T = TypeVar("T")

#: Below this many free bytes on the database's volume, the WAL is cut after every commit.
LOW_SPACE_BYTES = 64 * 1_048_576
#: How often the volume's free space is read, at most (seconds).
SPACE_CHECK_SECONDS = 1.0

log = structlog.get_logger()

_STOP = object()


@dataclass(slots=True)
class _Job:
    """A unit of work for the writer. Jobs sharing a `batch` function are run by one call
    of it with all their `arg`s (one multi-row statement instead of one per job)."""

    fn: Callable[[sqlite3.Connection], Any] | None
    future: asyncio.Future[Any]
    batch: Callable[[sqlite3.Connection, list[Any]], list[Any]] | None = None
    arg: Any = None
    result: Any = None
    error: BaseException | None = None


@dataclass
class Writer:
    """One thread, one connection, group commit."""

    connect: Callable[[], sqlite3.Connection]
    max_group: int = 512
    #: The folder holding the database, whose free space decides the checkpoints.
    volume: str | None = None
    _low_space: bool = False
    _space_checked: float = -SPACE_CHECK_SECONDS
    _queue: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        conn = self.connect()  # fail fast, in the caller's thread of control
        self._thread = threading.Thread(target=self._run, args=(conn,), name="hookgate-sqlite", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Job(fn, future))
        return future

    def submit_batched(
        self, batch: Callable[[sqlite3.Connection, list[Any]], list[T]], arg: Any
    ) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Job(None, future, batch, arg))
        return future

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def _run(self, conn: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                break
            jobs: list[_Job] = [item]
            while len(jobs) < self.max_group:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                jobs.append(nxt)
            self._execute(conn, jobs)
            if self._short_of_space():
                _checkpoint(conn, "low_space")
            _resolve(jobs)
        conn.close()

    def _short_of_space(self) -> bool:
        """Whether the volume has less than `LOW_SPACE_BYTES` free (read once a second);
        a change is logged."""
        if self.volume is None:
            return False
        now = time.monotonic()
        if now - self._space_checked >= SPACE_CHECK_SECONDS:
            self._space_checked = now
            try:
                free = shutil.disk_usage(self.volume).free
            except OSError:
                return self._low_space
            if (free < LOW_SPACE_BYTES) != self._low_space:
                self._low_space = not self._low_space
                log.warning(
                    "store_space_low" if self._low_space else "store_space_recovered", free_bytes=free
                )
        return self._low_space

    def _execute(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        error = _commit(conn, jobs)
        if error is not None and _full(error) and _checkpoint(conn, "disk_full"):
            error = _commit(conn, jobs)  # what the WAL gave back may be enough
        if error is None:
            return
        if len(jobs) == 1:
            jobs[0].error = _translate(error)
            return
        for job in jobs:  # one failed: run each alone so the others still commit
            job.error = _commit(conn, [job])
            if job.error is not None:
                job.error = _translate(job.error)


def _commit(conn: sqlite3.Connection, jobs: list[_Job]) -> Exception | None:
    """Run `jobs` in one transaction; the error that rolled it back, if any."""
    for job in jobs:
        job.result = job.error = None
    try:
        conn.execute("BEGIN IMMEDIATE")
        _run_jobs(conn, jobs)
        conn.execute("COMMIT")
    except Exception as exc:  # noqa: BLE001 - handed to the caller, translated
        _rollback(conn)
        return exc
    return None


def _full(exc: Exception) -> bool:
    """Whether a write failed for lack of space (SQLITE_FULL)."""
    return isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def _checkpoint(conn: sqlite3.Connection, reason: str) -> bool:
    """Copy the WAL into the database and cut the WAL's file to nothing (`TRUNCATE`),
    giving its space back to the volume; whether it was done in full. After a failed write
    (`reason` "disk_full") it is logged; done after every commit ("low_space"), only when
    it fails."""
    try:
        busy, frames, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error as exc:
        log.warning("store_checkpoint_failed", reason=reason, error=str(exc))
        return False
    if reason == "disk_full":
        log.warning("store_checkpointed", reason=reason, frames=frames, complete=not busy)
    return not busy


def _run_jobs(conn: sqlite3.Connection, jobs: list[_Job]) -> None:
    batches: dict[Callable[[sqlite3.Connection, list[Any]], list[Any]], list[_Job]] = {}
    for job in jobs:
        if job.batch is not None:
            batches.setdefault(job.batch, []).append(job)
        elif job.fn is not None:
            job.result = job.fn(conn)
    for batch, members in batches.items():
        for job, result in zip(members, batch(conn, [j.arg for j in members]), strict=True):
            job.result = result


def _resolve(jobs: list[_Job]) -> None:
    loop = jobs[0].future.get_loop()

    def settle() -> None:
        for job in jobs:
            if job.future.done():
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)

    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(settle)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, sqlite3.Error):
        return StoreError(f"sqlite: {exc}")
    return exc
