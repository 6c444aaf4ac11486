"""A hookgate sink that appends every stored event to a Redis stream (`XADD`).

Each event becomes one stream entry with the fields `id` (hookgate's event id, so a
consumer can drop the duplicates that at-least-once delivery allows), `detail-type`,
`source` and `event` (the whole EventBridge-shaped entry as JSON). A batch is one
pipelined round trip. Connection errors are retried by hookgate with backoff; a reply
error for one entry (e.g. the key holds another type) dead-letters that event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from gateway.events import Event
from gateway.sinks import Delivered, Outcome, Permanent, Retry, Sink, SinkOptions
from pydantic import Field, SecretStr

__all__ = ["RedisStreamOptions", "RedisStreamSink"]


class RedisStreamOptions(SinkOptions):
    url: SecretStr = Field(
        SecretStr("redis://127.0.0.1:6379/0"),
        description="redis:// or rediss:// URL (may hold a password: a secret reference works)",
    )
    stream: str = Field(min_length=1, description="the stream key events are appended to")
    max_length: int | None = Field(
        None, ge=1, description="trim the stream to about this many entries (XADD MAXLEN ~)"
    )


class RedisStreamSink(Sink):
    kind = "redis-stream"  # must equal the entry-point name
    summary = "appends each event to a Redis stream (XADD)"
    Options = RedisStreamOptions
    options: RedisStreamOptions

    def __init__(self, name: str, options: SinkOptions | None = None) -> None:
        super().__init__(name, options)
        self._client: redis.Redis | None = None

    async def open(self) -> None:
        self._client = redis.from_url(self.options.url.get_secret_value())

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        if self._client is None:
            await self.open()
        assert self._client is not None
        pipe = self._client.pipeline(transaction=False)
        for event in events:
            fields: dict[Any, Any] = {
                "id": event.id,
                "source": event.source,
                "detail-type": event.detail_type,
                "event": event.entry,
            }
            pipe.xadd(self.options.stream, fields, maxlen=self.options.max_length, approximate=True)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            return [Retry(f"redis_unavailable: {type(exc).__name__}")] * len(events)
        return [
            Permanent(f"redis_error: {reply}")
            if isinstance(reply, redis.ResponseError)
            else Delivered()
            for reply in replies
        ]
