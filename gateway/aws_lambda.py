"""AWS Lambda mode: `gateway.aws_lambda.handler` runs the same app and connectors behind
API Gateway (HTTP API payload 2.0, REST API payload 1.0) and Lambda function URLs, adapted
by Mangum (lifespan off: no dispatcher, no purge loop, nothing runs between requests).

There is no hookgate store in Lambda. `DirectStore.persist` puts the verified events on
their sinks (an EventBridge bus, through `EventBridgeSink`) before the edge answers:

    200   every sink accepted every event (PutEvents gave each entry an EventId)
    503   anything else: nothing is acknowledged, so the provider retries

Dedup is optional: a DynamoDB table (`HOOKGATE_LAMBDA__DEDUP_TABLE`, partition key `pk`,
TTL attribute `expires_at`) holds one item per (source, dedup key):

    pk = "<source>#<dedup key>"   event_id   state = pending | done
    lease_until (pending)         expires_at = received + [store] dedup_retention_seconds

    claim    conditional put of a pending item: there is none, or it expired (DynamoDB's TTL
             deletes late), or it is pending and its lease has ended
    put      the claimed events on their sinks
    settle   accepted → the item becomes done  (put, only while it still holds our event_id)
             refused  → the item is deleted    (delete, likewise), so the provider's retry
                        is not mistaken for a duplicate

The races, and why none loses an event:

- Two deliveries of one event at once: the second finds a pending item whose lease is live
  and answers 503, not 200. A 200 there could acknowledge an event that the first then
  fails to put. The provider's retry finds the item done (200, duplicate) or gone (put).
- An invocation that dies between claim and settle (timeout, crash) leaves a pending item
  that holds the key until its lease ends: the end of the invocation (Lambda's remaining
  time when the request started), or `[dispatcher] lease_seconds` without a Lambda
  context. A retry after that takes the key over.
- A delete that fails after a refused put leaves the same pending item: it only delays
  the retry until the lease ends.
- A key taken over while its first holder still runs (only with clocks disagreeing across
  hosts, since a lease ends when the invocation must): both put the event, a duplicate and
  never a loss; the conditional settle leaves the later claim's item in place.
- An event accepted by the bus whose item cannot be marked done is still answered 200:
  it is on the bus. The item stays pending until its lease ends.

The bus may receive an event more than once. A call the SDK sends again carries the same
hookgate event id; an event put again by another invocation (after a takeover, or without
the dedup table) carries a new one. Consumers that must see an event once dedupe on its
source and dedup key (`detail.metadata.source` and `dedup_key`, or the provider's own id
in a `detail_format = "payload"` detail).

Configuration is the server's: the TOML file named by `HOOKGATE_CONFIG` (packaged with the
function) and `HOOKGATE_…` overrides, resolved once per cold start, except the sources'
AWS secrets (`secretsmanager:…`, `ssm:…`), which are read again after a TTL and after a
failed verification (`gateway._secret_refresh`). The Lambda-only keys are environment
variables under `HOOKGATE_LAMBDA__`, kept out of the server's settings: `DEDUP_TABLE`,
`BASE_PATH` (a prefix to strip from request paths, e.g. an HTTP API's named stage) and
`SECRETS_TTL_SECONDS`.
Inside the Lambda runtime the handler is built when the module is imported (the init
phase, which provisioned concurrency runs ahead of requests); elsewhere on the first call.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

try:
    from mangum import Mangum
except ImportError:  # the Lambda runtime reports this one line (an ImportError too)
    from gateway.errors import MissingExtraError

    raise MissingExtraError("lambda", "Lambda mode (gateway.aws_lambda)") from None

from gateway._dedup_table import DedupTable, Held
from gateway._secret_refresh import SourceRefresher
from gateway.app import GatewayApp, build_sinks, create_app
from gateway.config import LAMBDA_ENV_PREFIX, Settings, StoreSettings, load_settings, validate_model
from gateway.errors import ConfigError, StoreError
from gateway.events import Event
from gateway.observability import LogStream, configure_logging
from gateway.secrets import AwsSecrets
from gateway.sinks import Delivered, Outcome, Retry, Sink
from gateway.store import Inbox, PersistResult, RequestRecord

__all__ = [
    "LAMBDA_ENV_PREFIX",
    "DedupTable",
    "DirectStore",
    "LambdaHandler",
    "LambdaSettings",
    "create_handler",
    "handler",
    "lambda_settings",
]

log = structlog.get_logger()

#: Environment variables of Lambda mode only: `HOOKGATE_LAMBDA__DEDUP_TABLE`, `…__BASE_PATH`,
#: `…__SECRETS_TTL_SECONDS`.
#: Seconds left in the current invocation, when Lambda says (see `LambdaHandler`).
_remaining: contextvars.ContextVar[float | None] = contextvars.ContextVar("remaining", default=None)


class LambdaSettings(BaseModel):
    """The `HOOKGATE_LAMBDA__…` variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The DynamoDB dedup table (name or ARN); none: every delivery is put on the bus.
    dedup_table: str | None = Field(None, min_length=1, max_length=1024)
    #: A prefix stripped from request paths, e.g. "/prod" for an HTTP API's stage "prod".
    base_path: str = Field("/", pattern=r"^/")
    #: The sources' AWS secrets are read again once they are this old (and, once, after a
    #: failed verification when they are older than a minute).
    secrets_ttl_seconds: float = Field(300.0, ge=60)


def lambda_settings(env: Mapping[str, str]) -> tuple[LambdaSettings, dict[str, str]]:
    """The Lambda-only settings in `env`, and `env` without them (for `load_settings`). An
    error names the variable, with its value unless the key is unknown (as for the server's
    settings: an unknown name may be a misspelt secret's)."""
    found: dict[str, str] = {}
    names: dict[str, str] = {}
    rest: dict[str, str] = {}
    for name, value in env.items():
        if name.upper().startswith(LAMBDA_ENV_PREFIX):
            key = name[len(LAMBDA_ENV_PREFIX) :].lower()
            found[key], names[f"lambda.{key}"] = value, name
        else:
            rest[name] = value
    try:
        return validate_model(LambdaSettings, found, "lambda"), rest
    except ConfigError as exc:
        name = names.get(exc.key, "")
        known = exc.key.removeprefix("lambda.") in LambdaSettings.model_fields
        variable = f"{name}={env[name]}" if name and known else name
        raise ConfigError(exc.key, exc.message, variable=variable) from None


# -- the store ------------------------------------------------------------------------------


@dataclass
class DirectStore(Inbox):
    """An inbox that keeps nothing: `persist` dedups (optionally) and puts the events on
    their sinks synchronously; anything not accepted raises `StoreError` (the edge's 503).

    It is an inbox only, with no delivery queue or admin side: in Lambda mode EventBridge
    retries the bus's targets, and its archive replays.
    """

    settings: StoreSettings
    clock: Callable[[], float]
    #: How long a dedup claim holds when Lambda does not say how long the invocation may
    #: run (`[dispatcher] lease_seconds`).
    lease_seconds: float
    sinks: Mapping[str, Sink] = field(default_factory=dict)
    dedup: DedupTable | None = None

    async def _persist(
        self,
        events: Sequence[Event],
        routes: Sequence[tuple[str, ...]],
        now: float,
        window: float,
        lease: float | None,
        *,
        request: RequestRecord | None = None,
    ) -> list[PersistResult]:
        first: dict[tuple[str, str], int] = {}  # a key repeated within the call: its first event
        for index, event in enumerate(events):
            first.setdefault((event.source, event.dedup_key), index)
        unique = sorted(first.values())
        expiry = {i: math.ceil(events[i].received_at + window) for i in unique}
        held: dict[int, Held] = {}
        if self.dedup is not None:
            claims = [(i, events[i], expiry[i]) for i in unique]
            held = await asyncio.to_thread(self._claim_keys, self.dedup, claims, now)
        claimed = [i for i in unique if i not in held]
        refused = await self._put(events, routes, claimed)
        if self.dedup is not None:
            accepted = [(events[i], expiry[i]) for i in claimed if i not in refused]
            await asyncio.to_thread(self._settle_keys, self.dedup, accepted, [events[i] for i in refused])
        if refused:
            causes = "; ".join(sorted(set(refused.values())))
            raise StoreError(f"{len(refused)} of {len(claimed)} events not accepted: {causes}"[:1000])
        ids = {i: held[i].event_id if i in held else events[i].id for i in unique}
        results = []
        for index, event in enumerate(events):
            origin = first[event.source, event.dedup_key]
            results.append(PersistResult(ids[origin], duplicate=origin in held or origin != index))
        return results

    def _claim_keys(
        self, dedup: DedupTable, claims: Sequence[tuple[int, Event, int]], now: float
    ) -> dict[int, Held]:
        """Claim each (index, event, expiry); a key being put elsewhere fails the whole call."""
        remaining = _remaining.get()
        lease_until = now + (remaining if remaining is not None else self.lease_seconds)
        held: dict[int, Held] = {}
        mine: list[Event] = []
        try:
            for index, event, expires_at in claims:
                found = dedup.claim(event, now, lease_until, expires_at)
                if found is None:
                    mine.append(event)
                elif not found.done:
                    raise StoreError(
                        f"{event.source} event {event.dedup_key!r} is being put by another "
                        f"invocation ({found.event_id}); retry later"
                    )
                else:
                    held[index] = found
        except StoreError:
            self._release_keys(dedup, mine)
            raise
        except Exception as exc:  # noqa: BLE001 - botocore's errors, translated at this boundary
            self._release_keys(dedup, mine)
            raise StoreError(f"dedup table {dedup.name}: {_describe(exc)}") from None
        return held

    def _settle_keys(
        self, dedup: DedupTable, accepted: Sequence[tuple[Event, int]], refused: Sequence[Event]
    ) -> None:
        for event, expires_at in accepted:
            try:
                if not dedup.complete(event, expires_at):
                    log.warning("dedup_key_taken_over", event_id=event.id, source=event.source)
            except Exception as exc:  # noqa: BLE001 - the event is on the bus: still a 200
                log.error("dedup_not_recorded", event_id=event.id, source=event.source, error=_describe(exc))
        self._release_keys(dedup, refused)

    @staticmethod
    def _release_keys(dedup: DedupTable, events: Sequence[Event]) -> None:
        for event in events:
            try:
                dedup.release(event)
            except Exception as exc:  # noqa: BLE001 - the claim's lease ends by itself
                log.error("dedup_not_released", event_id=event.id, source=event.source, error=_describe(exc))

    async def _put(
        self, events: Sequence[Event], routes: Sequence[tuple[str, ...]], indexes: Sequence[int]
    ) -> dict[int, str]:
        """Deliver the events at `indexes` to their sinks: the cause per event not accepted."""
        by_sink: dict[str, list[int]] = {}
        for index in indexes:
            for name in routes[index]:
                by_sink.setdefault(name, []).append(index)
        refused: dict[int, str] = {}

        async def deliver(name: str, todo: list[int]) -> None:
            sink = self.sinks[name]
            for chunk in _chunks(todo, sink.max_batch):
                outcomes: Sequence[Outcome]
                try:
                    outcomes = await sink.deliver([events[i] for i in chunk])
                except Exception as exc:  # noqa: BLE001 - a sink may raise: the batch failed
                    outcomes = [Retry(f"sink_error: {_describe(exc)}")] * len(chunk)
                for index, outcome in zip(chunk, outcomes, strict=True):
                    if not isinstance(outcome, Delivered):
                        refused.setdefault(index, f"{name}: {outcome.cause}")

        await asyncio.gather(*(deliver(name, todo) for name, todo in by_sink.items()))
        return refused

    # -- lifecycle: nothing to open but the dedup client; DynamoDB's TTL purges ----------
    async def open(self) -> None:
        if self.dedup is not None:
            self.dedup.open()

    async def close(self) -> None:
        if self.dedup is not None:
            self.dedup.close()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# -- the handler ----------------------------------------------------------------------------


class LambdaHandler:
    """A Lambda handler over one app: `handler(event, context)` → the proxy response.

    Requests run one at a time on the handler's own event loop, which lives as long as the
    execution environment, with the sinks' clients and connections. The clients are
    created here, so that the init phase pays for them rather than the first request.
    """

    def __init__(
        self,
        app: GatewayApp,
        *,
        base_path: str = "/",
        logs: LogStream | None = None,
        refresher: SourceRefresher | None = None,
    ) -> None:
        self.app = app
        self._logs = logs
        self._refresher = refresher
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)  # Mangum runs the app on the current loop
        self._adapter = Mangum(app, lifespan="off", api_gateway_base_path=base_path)
        self._loop.run_until_complete(self._open())

    async def _open(self) -> None:
        gateway = self.app.gateway
        await gateway.start(dispatch=False)
        for name, sink in gateway.sinks.items():
            try:
                await sink.open()
            except Exception as exc:  # noqa: BLE001 - a sink opens again with its first batch
                log.error("sink_open_failed", sink=name, error=_describe(exc))

    async def _close(self) -> None:
        gateway = self.app.gateway
        await gateway.stop()
        for sink in gateway.sinks.values():  # opened by `_open`: no dispatcher owns them
            await sink.close()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        asyncio.set_event_loop(self._loop)
        if self._refresher is not None and self._refresher.stale():
            self._loop.run_until_complete(self._refresher.refresh())
        token = _remaining.set(_remaining_seconds(context))
        try:
            return self._adapter(event, context)
        finally:
            _remaining.reset(token)
            if self._logs is not None:
                self._logs.flush()  # the environment may be frozen as soon as this returns

    def close(self) -> None:
        """Close the sinks and the dedup client, then the loop (tests; Lambda never does)."""
        if self._loop.is_closed():
            return
        try:
            self._loop.run_until_complete(self._close())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
        finally:
            self._loop.close()
            asyncio.set_event_loop(None)


def _remaining_seconds(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if callable(remaining) else None


def create_handler(
    settings: Settings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    sinks: Mapping[str, Sink] | None = None,
    clock: Callable[[], float] | None = None,
    dedup: DedupTable | None = None,
    logs: LogStream | None = None,
    secrets: AwsSecrets | None = None,
) -> LambdaHandler:
    """Build the Lambda handler from `settings` (default: loaded from `env`, like the
    server) and the `HOOKGATE_LAMBDA__…` variables in `env` (default `os.environ`).

    The sources' AWS secrets are read again (`SourceRefresher`) through `secrets`, the
    `AwsSecrets` that `settings` were loaded with (default: one made here when `settings`
    are loaded here; given `settings` without it are never refreshed)."""
    env = os.environ if env is None else env
    options, server_env = lambda_settings(env)
    clock = clock or time.time
    if settings is None:
        secrets = secrets or AwsSecrets(clock=clock)
        settings = load_settings(env=server_env, secrets=secrets)
    _check(settings)
    if sinks is None:
        sinks = build_sinks(settings)
    if dedup is None and options.dedup_table:
        dedup = DedupTable(options.dedup_table)
    store = DirectStore(settings.store, clock, settings.dispatcher.lease_seconds, sinks=sinks, dedup=dedup)
    app = create_app(settings, store=store, sinks=sinks, clock=clock)
    refresher = None
    if secrets is not None:
        reader = secrets  # for the closure: the same cache, so only the secrets due are read

        def load() -> Settings:
            return load_settings(env=server_env, secrets=reader)

        ttl = options.secrets_ttl_seconds
        refresher = SourceRefresher(app.gateway.sources, settings.sources, load, secrets, ttl=ttl)
        app.gateway.refresh_source = refresher.after_rejection
    return LambdaHandler(app, base_path=options.base_path, logs=logs, refresher=refresher)


def _check(settings: Settings) -> None:
    """What Lambda mode cannot do: acknowledge an event that no sink took."""
    for name in settings.buses:
        raise ConfigError(
            f"sinks.{name}.type",
            "a router needs a hookgate store; in Lambda mode, route with rules on the EventBridge bus",
        )
    if not settings.sinks:
        raise ConfigError("sinks", "Lambda mode needs a sink (an eventbridge bus) to put events on")
    for name, source in settings.sources.items():
        if not source.sinks:
            raise ConfigError(f"sources.{name}.sinks", "in Lambda mode every source needs a sink")


@functools.cache
def _default_handler() -> LambdaHandler:
    secrets = AwsSecrets()
    settings = load_settings(env=lambda_settings(os.environ)[1], secrets=secrets)
    logs = configure_logging(settings.server.log_level)
    logging.getLogger("mangum").setLevel(logging.WARNING)  # the edge logs each request already
    return create_handler(settings, logs=logs, secrets=secrets)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The function's handler, `gateway.aws_lambda.handler`."""
    return _default_handler()(event, context)


if os.environ.get("AWS_LAMBDA_RUNTIME_API"):  # inside Lambda: build during the init phase
    _default_handler()
