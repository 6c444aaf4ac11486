"""The requests log: what the edge records about every request it receives, accepted or
rejected, with its secrets redacted, and the buffer that stores rejected ones in batches.

An accepted request's record is stored with its events, in the same commit
(`Inbox.persist(request=…)`). A rejected one never waits for the store: it goes into a
bounded buffer that a background task writes in batches (`RequestLog.run`); when a flood
outpaces it, the oldest buffered records are dropped and counted. The store keeps the log
bounded in time and rows (`RequestLogPolicy`).

Redaction happens before anything is buffered or stored: a header whose name matches the
default patterns (`REDACTED_HEADERS`), the configured ones, or a name the source's
connector declares (`Connector.secret_headers`) keeps its name, and its value becomes
`[redacted]`. The query string and the body of an accepted request are not recorded; the
body of a rejected one only when asked (`keep_rejected_bodies`), truncated.
"""

from __future__ import annotations

import asyncio
import collections
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import structlog

from gateway.errors import StoreError
from gateway.events import new_event_id
from gateway.store import RequestRecord, StoreAdmin

__all__ = ["REDACTED", "REDACTED_HEADERS", "Redactor", "RequestLog"]

log = structlog.get_logger()

#: What a redacted header's value becomes.
REDACTED = "[redacted]"
#: Header names (shell-style patterns, lowercase) whose values are never stored: the
#: credentials and signatures of every built-in connector and of common proxies.
REDACTED_HEADERS: tuple[str, ...] = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "*signature*",
    "*-sig",
    "*hmac*",
    "*token*",
    "*secret*",
    "*password*",
    "*api-key*",
    "*apikey*",
    "*-auth",
    "*-auth-*",
    "x-*-key",
)
#: Bytes of a rejected body kept when `keep_rejected_bodies` is on.
BODY_LIMIT = 4096
#: Rejected records waiting to be written; past this, the oldest are dropped.
BUFFER_LIMIT = 10_000
#: How often the buffer is written.
FLUSH_INTERVAL_SECONDS = 1.0


@dataclass
class Redactor:
    """Decides, by name, which headers are stored as `[redacted]` (decisions cached)."""

    patterns: tuple[str, ...] = REDACTED_HEADERS
    _seen: dict[bytes, tuple[str, bool]] = field(default_factory=dict)

    def secret(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)

    def headers(
        self, raw: Iterable[tuple[bytes, bytes]], also: frozenset[str] = frozenset()
    ) -> tuple[tuple[str, str], ...]:
        """`raw` (ASGI's header pairs) as text, every secret value replaced."""
        out = []
        seen = self._seen
        for key, value in raw:
            found = seen.get(key)
            if found is None:
                name = key.decode("latin-1").lower()
                found = (name, self.secret(name))
                if len(seen) < 4096:
                    seen[key] = found
            name, secret = found
            out.append((name, REDACTED if secret or name in also else value.decode("latin-1")))
        return tuple(out)


@dataclass
class RequestLog:
    """Builds request records and writes the rejected ones in batches."""

    store: StoreAdmin
    redactor: Redactor = field(default_factory=Redactor)
    keep_rejected_bodies: bool = False
    body_limit: int = BODY_LIMIT
    buffer_limit: int = BUFFER_LIMIT
    #: Rejected records dropped because the buffer was full (a flood outpacing the store).
    dropped: int = 0
    _buffer: collections.deque[RequestRecord] = field(default_factory=collections.deque)

    def record(
        self,
        *,
        now: float,
        source: str,
        status: int,
        cause: str | None,
        size: int,
        client: str | None,
        headers: Iterable[tuple[bytes, bytes]],
        secret_headers: frozenset[str] = frozenset(),
        body: bytes | None = None,
        record_id: str | None = None,
    ) -> RequestRecord:
        """The record of one request, redacted (a body only for a rejected request, and only
        when `keep_rejected_bodies`). Its id is a UUIDv7 of `now`, or `record_id` (an
        accepted request takes its first event's: new, unique, of the same moment)."""
        kept = (
            body[: self.body_limit]
            if body is not None and self.keep_rejected_bodies and status >= 400
            else None
        )
        return RequestRecord(
            record_id or new_event_id(now),
            now,
            source,
            status,
            cause,
            size,
            client,
            self.redactor.headers(headers, secret_headers),
            (),
            kept,
        )

    def later(self, record: RequestRecord) -> None:
        """Buffer `record` for the next batch (the request does not wait for the store)."""
        if len(self._buffer) >= self.buffer_limit:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(record)

    async def flush(self) -> int:
        """Write what is buffered; how many records."""
        if not self._buffer:
            return 0
        batch: Sequence[RequestRecord] = list(self._buffer)
        self._buffer.clear()
        await self.store.record_requests(batch)
        return len(batch)

    async def run(self) -> None:
        """Write the buffer every `FLUSH_INTERVAL_SECONDS` until cancelled (then once more)."""
        try:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL_SECONDS)
                await self._flush_logged()
        finally:
            await self._flush_logged()

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except StoreError as exc:
            log.error("requests_log_failed", error=str(exc))
        if self.dropped:
            log.warning("requests_log_dropped", count=self.dropped)
            self.dropped = 0
