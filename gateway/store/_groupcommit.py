"""Group commit over one SQLite connection: one writer thread runs every write.

Callers on the event loop submit jobs and await a future. The writer thread takes every
job waiting, runs them in one transaction and commits once, so many concurrent requests
share one `fsync`. Jobs that share a `batch` function are run by one call of it (one
multi-row statement instead of one per job). If a grouped transaction fails, each job is
run again alone, so one bad job cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway.errors import StoreError

__all__ = ["Writer"]

T = TypeVar("T")

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
            _resolve(jobs)
        conn.close()

    def _execute(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            _run_jobs(conn, jobs)
            conn.execute("COMMIT")
            return
        except Exception as exc:  # noqa: BLE001 - isolated below, job by job
            _rollback(conn)
            if len(jobs) == 1:
                jobs[0].error = _translate(exc)
                return
        for job in jobs:  # one failed: run each alone so the others still commit
            job.result = job.error = None
            try:
                conn.execute("BEGIN IMMEDIATE")
                _run_jobs(conn, [job])
                conn.execute("COMMIT")
            except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
                _rollback(conn)
                job.error = _translate(exc)


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
