"""Who calls the admin API: bearer tokens compared in constant time, failed logins limited.

`Authorization: Bearer TOKEN` is compared with every configured token by
`hmac.compare_digest` (all of them, whatever matched, so the time taken says nothing
about which one is close). No header or a wrong token: 401, logged at warning with the
client address and the reason (`missing`, `malformed`, `invalid`), never the token.

Failed logins are limited per client address by a token bucket: `FAILURE_BURST` failures
at once, then one more every `FAILURE_REFILL_SECONDS`. An address out of failures gets
429 with `Retry-After` for every request, a right token included, until the bucket
refills (so the limit is no oracle). The address is the TCP peer's: behind a reverse
proxy every client shares the proxy's (forwarded headers can be forged, so they are not
read); keep the admin API on its own listener for the private network in that case.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from starlette.types import ASGIApp

from gateway.admin._errors import error_response
from gateway.admin.config import AdminToken, Role

__all__ = ["FAILURE_BURST", "FAILURE_REFILL_SECONDS", "Authenticator", "FailureLimiter", "Principal"]

log = structlog.get_logger()

#: Failed logins an address may make at once...
FAILURE_BURST = 10
#: ...and then one more per this many seconds.
FAILURE_REFILL_SECONDS = 6.0
#: Addresses whose failures are remembered at most (the oldest are forgotten first).
_MAX_ADDRESSES = 10_000


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a call: the token's name (the audit log's `who`) and its role."""

    name: str
    role: Role


class FailureLimiter:
    """A token bucket of failed logins per client address."""

    def __init__(
        self,
        burst: int = FAILURE_BURST,
        refill_seconds: float = FAILURE_REFILL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst, self.refill_seconds, self.clock = burst, refill_seconds, clock
        #: address → (failures left, when counted)
        self._buckets: dict[str, tuple[float, float]] = {}

    def _left(self, address: str) -> float:
        found = self._buckets.get(address)
        if found is None:
            return float(self.burst)
        left, at = found
        return min(float(self.burst), left + (self.clock() - at) / self.refill_seconds)

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again; None: it may now."""
        left = self._left(address)
        if left >= 1:
            return None
        return max(1, math.ceil((1 - left) * self.refill_seconds))

    def fail(self, address: str) -> None:
        """Count one failed login of `address`."""
        left = self._left(address) - 1
        self._buckets.pop(address, None)
        self._buckets[address] = (max(left, 0.0), self.clock())
        if len(self._buckets) > _MAX_ADDRESSES:
            del self._buckets[next(iter(self._buckets))]


class Authenticator:
    """The configured tokens, and the limit on failed logins."""

    def __init__(self, tokens: Sequence[AdminToken], limiter: FailureLimiter | None = None) -> None:
        self._tokens = [(t.token.get_secret_value().encode(), Principal(t.name, t.role)) for t in tokens]
        self.limiter = limiter or FailureLimiter()

    def match(self, presented: bytes) -> Principal | None:
        """The principal whose token is `presented`, compared with every token."""
        found = None
        for token, principal in self._tokens:
            if hmac.compare_digest(presented, token) and found is None:
                found = principal
        return found

    def authenticate(self, header: bytes | None, client: str) -> Principal | ASGIApp:
        """The caller's principal, or the ASGI answer that refuses it (401 or 429)."""
        wait = self.limiter.retry_after(client)
        if wait is not None:
            log.warning("admin_login_limited", client=client, retry_after=wait)
            return error_response(
                429, "rate_limited", "too many failed logins; retry later", {"Retry-After": str(wait)}
            )
        reason = "missing"
        if header is not None:
            scheme, _, presented = header.partition(b" ")
            reason = "malformed"
            if scheme.lower() == b"bearer" and presented.strip():
                principal = self.match(presented.strip())
                if principal is not None:
                    return principal
                reason = "invalid"
        self.limiter.fail(client)
        log.warning("admin_login_failed", client=client, reason=reason)
        return error_response(
            401,
            "unauthorized",
            "a valid `Authorization: Bearer TOKEN` header is required",
            {"WWW-Authenticate": 'Bearer realm="hookgate"'},
        )
