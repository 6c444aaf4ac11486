"""The `http` sink: every event, EventBridge-shaped, to your own service. And the HTTP
sender it shares with the local router's `http` target (an EventBridge API destination).

    url, method           where to send: POST by default; GET, HEAD, OPTIONS, PUT, PATCH, DELETE
    headers, query        added to every request (`auth` and the signature win over `headers`)
    auth                  {type = "basic", username, password} or {type = "api_key", header, value}
    signing_secret        a `whsec_` secret: Standard Webhooks `webhook-id` (the event id),
                          `webhook-timestamp` and `webhook-signature` on every request
    timeout_seconds       5 by default, as on EventBridge: connect, send and response together
    rate_limit_per_second requests are spaced evenly to stay within it (they wait, never fail)
    concurrency           requests in flight at once

The sink sends each event's stored entry; a router's target sends what its rule rendered.
The body goes as `application/json; charset=utf-8` with `User-Agent: hookgate/<version>`
(GET and HEAD carry no body; the signature then covers an empty one). One connection pool
per sink or target; a batch is sent concurrently, `concurrency` requests at most.
Outcomes follow EventBridge's API destinations, which retry 429 and 5xx only: 2xx →
Delivered; 429, 5xx, timeouts and connection errors → Retry, honouring `Retry-After`
(seconds or an HTTP date; a negative value stops retries, as on EventBridge: Permanent);
any other status → Permanent("http_<status>"), redirects included. The sink's retries
follow its `retry_policy` (else `[dispatcher]`); a target's, its rule's `retry_policy`.
Bodies, headers and secrets are never logged; a response body is read (up to 64 KiB) only
to keep the connection reusable.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib.metadata
import math
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectors.standard_webhooks import parse_keys, sign_headers
from gateway.errors import ConfigError
from gateway.events import Event
from gateway.sinks import Delivered, Outcome, Permanent, Retry, Sink, SinkOptions, Validate

__all__ = [
    "ApiKeyAuth",
    "BasicAuth",
    "HttpDestination",
    "HttpSender",
    "HttpSink",
    "HttpSinkOptions",
    "parse_retry_after",
]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DELTA_SECONDS = re.compile(r"^-?\d+(\.\d+)?$")
_MAX_RESPONSE_READ = 65_536
_BODILESS = frozenset({"GET", "HEAD"})


def _user_agent() -> str:
    try:
        return f"hookgate/{importlib.metadata.version('hookgate')}"
    except importlib.metadata.PackageNotFoundError:
        return "hookgate"


def _header_name(name: str) -> str:
    if not _TOKEN.match(name):
        raise ValueError(f"{name!r} is not a valid header name")
    return name


def _header_value(value: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise ValueError("a header value may not contain line breaks or NUL")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BasicAuth(_Strict):
    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: SecretStr


class ApiKeyAuth(_Strict):
    type: Literal["api_key"]
    header: str = Field(description="the header carrying the key, e.g. Authorization or X-Api-Key")
    value: SecretStr

    @field_validator("header")
    @classmethod
    def _name(cls, value: str) -> str:
        return _header_name(value)

    @field_validator("value")
    @classmethod
    def _value(cls, value: SecretStr) -> SecretStr:
        _header_value(value.get_secret_value())
        return value


_AUTH_TYPES: dict[str, type[BasicAuth | ApiKeyAuth]] = {"basic": BasicAuth, "api_key": ApiKeyAuth}


class HttpDestination(_Strict):
    """Where and how to send: the keys of the `http` sink and of the router's `http` target."""

    url: str = Field(description="http:// or https:// URL the events are sent to")
    method: Literal["POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict, description="headers added to every request")
    query: dict[str, str] = Field(default_factory=dict, description="query parameters added to the URL")
    timeout_seconds: float = Field(5.0, gt=0, le=300, description="for the whole request, as on EventBridge")
    rate_limit_per_second: float | None = Field(
        None, gt=0, description="requests per second at most; more wait their turn"
    )
    concurrency: int = Field(10, ge=1, le=100, description="requests in flight at once")
    auth: Annotated[BasicAuth | ApiKeyAuth, Field(discriminator="type")] | None = None
    signing_secret: SecretStr | None = Field(
        None, description="whsec_ secret: sign every request the Standard Webhooks way"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a valid URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            _header_name(name)
            _header_value(text)
        return value

    @field_validator("signing_secret")
    @classmethod
    def _signing_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not parse_keys([value]).hmac_keys:
            raise ValueError("must be a whsec_ secret (whpk_ and whsk_ keys are not supported here)")
        return value


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait per a `Retry-After` header: delta-seconds (negative kept) or an
    HTTP date (a past one is 0). None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.match(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = when.timestamp() - now
    return max(0.0, seconds) if math.isfinite(seconds) else None


class _Pace:
    """Spaces calls `1 / rate` seconds apart: each caller reserves the next free slot."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_slot = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class HttpSender:
    """Sends bodies to one HTTP destination and tells each request's outcome; see the
    module docstring. `open` before sending (`send` does it too), `close` when done."""

    def __init__(self, options: HttpDestination) -> None:
        self.options = opts = options
        self.url = httpx.URL(opts.url).copy_merge_params(opts.query)
        headers = {"content-type": "application/json; charset=utf-8", "user-agent": _user_agent()}
        headers |= {k.lower(): v for k, v in opts.headers.items()}
        if isinstance(opts.auth, ApiKeyAuth):
            headers[opts.auth.header.lower()] = opts.auth.value.get_secret_value()
        if opts.method in _BODILESS:
            headers.pop("content-type")
        self._headers = headers
        self._keys = parse_keys([opts.signing_secret]) if opts.signing_secret else None
        self._pace = _Pace(opts.rate_limit_per_second) if opts.rate_limit_per_second else None
        self._slots = asyncio.Semaphore(opts.concurrency)
        self._client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        if self._client is None:
            opts = self.options
            auth = opts.auth
            self._client = httpx.AsyncClient(
                auth=(
                    httpx.BasicAuth(auth.username, auth.password.get_secret_value())
                    if isinstance(auth, BasicAuth)
                    else None
                ),
                timeout=opts.timeout_seconds,
                limits=httpx.Limits(max_connections=opts.concurrency),
                follow_redirects=False,
            )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def send(self, messages: Sequence[tuple[str, bytes]]) -> list[Outcome]:
        """Send each `(id, body)` (the id is the `webhook-id` when signing); one outcome
        per message, in order. Never raises: errors become outcomes."""
        await self.open()
        return list(await asyncio.gather(*(self._send_one(id_, body) for id_, body in messages)))

    async def _send_one(self, message_id: str, body: bytes) -> Outcome:
        content = None if self.options.method in _BODILESS else body
        async with self._slots:
            if self._pace is not None:
                await self._pace.wait()
            headers = self._headers_for(message_id, content or b"")
            try:
                async with asyncio.timeout(self.options.timeout_seconds):
                    status, retry_after = await self._request(content, headers)
            except (TimeoutError, httpx.TimeoutException) as exc:
                return Retry(f"timeout: {type(exc).__name__}")
            except httpx.TransportError as exc:
                return Retry(f"connection_error: {type(exc).__name__}")
            except Exception as exc:  # noqa: BLE001 - translated at the sender's boundary
                return Retry(f"target_error: {type(exc).__name__}")
        if 200 <= status < 300:
            return Delivered()
        if status == 429 or status >= 500:
            after = parse_retry_after(retry_after, time.time())
            if after is not None and after < 0:
                return Permanent(f"http_{status}: negative Retry-After")
            return Retry(f"http_{status}", retry_after=after)
        return Permanent(f"http_{status}")

    def _headers_for(self, message_id: str, body: bytes) -> dict[str, str]:
        """The request's headers, signed (when signing) just before it leaves."""
        headers = dict(self._headers)
        if self._keys is not None:
            headers.update(sign_headers(self._keys, message_id, int(time.time()), body))
        return headers

    async def _request(self, content: bytes | None, headers: dict[str, str]) -> tuple[int, str | None]:
        assert self._client is not None
        async with self._client.stream(
            self.options.method, self.url, content=content, headers=headers
        ) as response:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > _MAX_RESPONSE_READ:
                    break
            return response.status_code, response.headers.get("retry-after")


class HttpSinkOptions(HttpDestination, SinkOptions):
    """The keys of a `[sinks.NAME]` table of `type = "http"`."""


class HttpSink(Sink):
    """Sends each event's EventBridge-shaped entry (the stored JSON) to `url`, signed when a
    `signing_secret` is set, exactly as the router's `http` target sends a whole event.
    A batch is one round of `concurrency` requests."""

    kind = "http"
    summary = "POSTs each event to an HTTP endpoint (auth, Standard Webhooks signing)"
    Options: ClassVar[type[SinkOptions]] = HttpSinkOptions
    options: HttpSinkOptions

    def __init__(self, name: str, options: SinkOptions | None = None) -> None:
        super().__init__(name, options)
        self.sender = HttpSender(self.options)
        self.max_batch = self.in_flight = self.options.concurrency

    @classmethod
    def configure(cls, key: str, table: Mapping[str, Any], validate: Validate) -> SinkOptions:
        """As every sink, but `auth` is checked by its own `type`, so an error names
        `sinks.NAME.auth.password`, not the union's branch."""
        auth = table.get("auth")
        if isinstance(auth, dict):
            auth_type = auth.get("type")
            if auth_type not in _AUTH_TYPES:
                raise ConfigError(f"{key}.auth.type", f"must be one of {', '.join(map(repr, _AUTH_TYPES))}")
            auth = validate(_AUTH_TYPES[auth_type], auth, f"{key}.auth")
            table = {**table, "auth": auth}
        return validate(cls.Options, table, key)

    async def open(self) -> None:
        await self.sender.open()

    async def close(self) -> None:
        await self.sender.close()

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        return await self.sender.send([(event.id, event.entry.encode()) for event in events])
