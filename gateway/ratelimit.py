"""Rate limits on the webhook edge: a token bucket per source and one per client address
(`[server.rate_limits]`, a source's own `rate_limit`), so that a flood costs bounded work.

    a request                              takes 1 token from its client's and its source's bucket
    either bucket empty                    429 with Retry-After, before the body is read
    a request that fails verification      takes `failure_cost` tokens from its client's bucket

A bucket holds at most `burst` tokens and refills at `rate` per second; a failing client's
may go into debt (down to minus `burst`), so a flood of forged requests from one address is
held to `rate / failure_cost` verifications per second however it is paced. The buckets
live in the event loop's thread (no lock); the clients' table keeps the `max_clients`
addresses seen last (least recently used dropped first), so its memory is bounded whatever
the number of addresses.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Bucket", "BucketSettings", "RateLimitSettings", "RateLimiter"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BucketSettings(_Model):
    """A token bucket: `rate` requests per second on average, `burst` at once."""

    rate: float = Field(gt=0)
    burst: float = Field(ge=1)


class RateLimitSettings(_Model):
    """`[server.rate_limits]`: the edge's token buckets (`gateway.ratelimit`)."""

    enabled: bool = True
    #: Each client address's bucket (after `trusted_proxies`).
    client: BucketSettings = BucketSettings(rate=500, burst=5000)
    #: Each source's bucket, unless the source sets its own `rate_limit`.
    source: BucketSettings = BucketSettings(rate=2000, burst=10000)
    #: Tokens a request that fails verification takes from its client's bucket.
    failure_cost: float = Field(5.0, ge=1)
    #: Client addresses whose buckets are kept (least recently used dropped first).
    max_clients: int = Field(100_000, ge=1)


@dataclass(slots=True)
class Bucket:
    """Tokens (`level`) as of `updated` (a monotonic time)."""

    rate: float
    burst: float
    level: float
    updated: float

    def take(self, now: float, cost: float = 1.0, *, debt: bool = False) -> float:
        """Take `cost` tokens: 0.0 when taken, else the seconds until they are there (then
        nothing is taken, unless `debt`: a failure is charged whatever the level)."""
        level = min(self.burst, self.level + (now - self.updated) * self.rate)
        self.updated = now
        if level >= cost or debt:
            self.level = max(level - cost, -self.burst)
            return 0.0
        self.level = level
        return (cost - level) / self.rate


class RateLimiter:
    """The buckets of one edge. `check` before a request's body is read; `failed` once it
    fails verification."""

    def __init__(
        self,
        settings: RateLimitSettings,
        sources: dict[str, BucketSettings | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.clock = clock
        now = clock()
        own = {name: spec or settings.source for name, spec in sources.items()}
        self._sources = {name: Bucket(s.rate, s.burst, s.burst, now) for name, s in own.items()}
        self._clients: collections.OrderedDict[str, Bucket] = collections.OrderedDict()

    def _client(self, address: str, now: float) -> Bucket:
        bucket = self._clients.get(address)
        if bucket is None:
            spec = self.settings.client
            bucket = self._clients[address] = Bucket(spec.rate, spec.burst, spec.burst, now)
            if len(self._clients) > self.settings.max_clients:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(address)
        return bucket

    def check(self, source: str, client: str | None) -> tuple[str, int] | None:
        """None when the request may go on (a token taken from each bucket); else which
        limit refused it (`client` or `source`) and the seconds to wait (Retry-After)."""
        if not self.settings.enabled:
            return None
        now = self.clock()
        if client is not None:
            wait = self._client(client, now).take(now)
            if wait:
                return "client", max(1, math.ceil(wait))
        bucket = self._sources.get(source)
        if bucket is not None:
            wait = bucket.take(now)
            if wait:
                return "source", max(1, math.ceil(wait))
        return None

    def failed(self, client: str | None) -> None:
        """Charge a failed verification to its client (the token `check` took counts)."""
        if not self.settings.enabled or client is None:
            return
        now = self.clock()
        self._client(client, now).take(now, self.settings.failure_cost - 1, debt=True)

    @property
    def clients(self) -> int:
        """Client addresses with a bucket now."""
        return len(self._clients)
