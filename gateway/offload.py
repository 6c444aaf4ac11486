"""Work too heavy for the event loop: normalizing a large body (`[server]
worker_parse_bytes` and above) in a worker process.

Parsing a body of megabytes takes the JSON parser (orjson or the standard library's, both
C code that keeps the GIL for the whole call) hundreds of milliseconds; on the event loop,
every other request waits that long. A thread does not help: it holds the GIL just the
same, and the loop waits for it too. So a large body is parsed, and its events built, in a
separate process; the loop only sends the body and receives the events' text.

The pool is started on the first large body (a gateway that never sees one never starts
it), and a body whose work cannot be sent (a process pool cannot be made here, a worker
died) is normalized on the loop as before: slower for others, never lost.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import multiprocessing
import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from connectors import Headers, WebhookRequest
from gateway.config import SourceSpec
from gateway.events import Event

if TYPE_CHECKING:
    from gateway.http import Source

__all__ = ["Offload"]

log = structlog.get_logger()

T = TypeVar("T")

_Parts = tuple[str, bytes, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], str]


def _normalize_in_worker(spec: SourceSpec, parts: _Parts, now: float) -> list[Event]:
    """In the worker: the source's connector built again, the delivery normalized."""
    from gateway.app import build_source  # noqa: PLC0415 - the worker's own imports
    from gateway.http import normalize_events  # noqa: PLC0415

    method, body, headers, query, url = parts
    webhook = WebhookRequest(method=method, body=body, headers=Headers(headers), query=query, url=url)
    return normalize_events(build_source(spec), webhook, now)


class Offload:
    """Normalizes deliveries of at least `threshold` bytes in up to `workers` processes."""

    def __init__(self, threshold: int, workers: int = 2) -> None:
        self.threshold = threshold
        self.workers = workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._broken = False

    def wanted(self, size: int) -> bool:
        """Whether a body of `size` bytes is normalized in a worker."""
        return 0 < self.threshold <= size and not self._broken

    async def call(self, fn: Callable[..., T], *args: Any) -> T | None:
        """`fn(*args)` in a worker; None when no worker could run it (the caller runs it
        itself). `fn` and its arguments must pickle; what it raises is raised here."""
        try:
            pool = self._started()
            return await asyncio.wrap_future(pool.submit(fn, *args))
        except (OSError, RuntimeError, concurrent.futures.process.BrokenProcessPool) as exc:
            self._give_up(exc)
            return None
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # e.g. a plugin's options
            log.warning("offload_unavailable", error=type(exc).__name__)
            return None

    async def normalize(self, source: Source, webhook: WebhookRequest, now: float) -> list[Event] | None:
        """The delivery's events, normalized in a worker (a `MalformedPayloadError` as on
        the loop); None when no worker could do it (the caller does it itself)."""
        spec = SourceSpec(**{f.name: getattr(source, f.name) for f in dataclasses.fields(SourceSpec)})
        parts: _Parts = (
            webhook.method,
            webhook.body,
            webhook.headers.raw(),
            webhook.query,
            webhook.url,
        )
        return await self.call(_normalize_in_worker, spec, parts, now)

    def _started(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            # spawn: a fresh interpreter, nothing of this process's threads or sockets
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context)
        return self._pool

    def _give_up(self, exc: BaseException) -> None:
        """A pool that cannot be made or broke: large bodies are normalized on the loop."""
        log.warning("offload_unavailable", error=type(exc).__name__)
        self._broken = True
        self.close()

    def close(self) -> None:
        """Stop the workers (an idle worker ends at once; a busy one finishes its body)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=True, cancel_futures=True)
