"""The EventBridge sink: stored events become `PutEvents` entries on a bus.

One `deliver` call (up to `max_batch` events) goes through four steps:

    prepare   envelope → PutEventsRequestEntry, validated and sized as AWS counts it;
              invalid → Permanent; too large → claim check (S3 object, then a pointer
              entry) or Permanent("too_large") without a bucket
    pack      ≤ 10 entries per request, total entry size < max_request_bytes, in order
    send      up to `concurrency` PutEvents calls in flight (a thread pool: boto3 clients
              are thread-safe); botocore retries whole calls (adaptive mode, few attempts)
    read      EventId → Delivered · InternalFailure / ThrottlingException → Retry ·
              any other entry error → Permanent("<ErrorCode>: <ErrorMessage>")

Whole-call failures are retried by the store's backoff; credential, permission and
missing-resource failures are logged as errors and retried without using up the attempt
budget (`Retry(charge=False)`): the fault is the deployment's, not the event's. botocore's
errors are translated here, at the sink's boundary, and never escape `deliver`.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import concurrent.futures
import hashlib
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import Field

from gateway.events import Event
from gateway.sinks import Delivered, Outcome, Permanent, Retry, Sink, SinkOptions
from gateway.sinks.eventbridge._entries import (
    MAX_DETAIL_DEPTH,
    MAX_ENTRIES_PER_REQUEST,
    PreparedEntry,
    TooLarge,
    claim_check_key,
    entry_size,
    pack,
    pointer,
    prepare,
)

__all__ = [
    "MAX_DETAIL_DEPTH",
    "MAX_ENTRIES_PER_REQUEST",
    "EventBridgeMetrics",
    "EventBridgeOptions",
    "EventBridgeSink",
    "PreparedEntry",
    "TooLarge",
    "call_failed",
    "entry_size",
    "pack",
    "prepare",
]

log = structlog.get_logger()

#: Per-entry error codes worth sending again; every other code is final.
RETRYABLE_ENTRY_CODES = frozenset({"InternalFailure", "ThrottlingException"})
#: Whole-call errors that mean "fix the deployment": credentials, permissions, a missing bus
#: or bucket. Retried without charging the attempt budget, and logged as errors.
DEPLOYMENT_ERROR_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "MissingAuthenticationToken",
        "NoSuchBucket",
        "NotAuthorized",
        "ResourceNotFoundException",
        "SignatureDoesNotMatch",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)
_BUS = r"^(arn:aws[\w-]*:events:[a-z0-9-]+:\d{12}:event-bus/)?[.\-_A-Za-z0-9/]+$"


class EventBridgeOptions(SinkOptions):
    event_bus_name: str = Field(
        min_length=1, max_length=1600, pattern=_BUS, description="the bus: a name or an ARN"
    )
    region: str | None = Field(None, description="AWS Region; default from the standard boto3 chain")
    endpoint_url: str | None = Field(None, description="a different endpoint, e.g. a local test server")
    max_request_bytes: int = Field(
        1_048_576, ge=1024, le=1_048_576, description="limit on the total entry size of one request"
    )
    claim_check_bucket: str | None = Field(None, description="S3 bucket for events too large for the bus")
    claim_check_prefix: str = Field("hookgate/claims/", description="key prefix of claim-check objects")
    concurrency: int = Field(8, ge=1, le=64, description="PutEvents calls in flight at once")
    max_batch: int = Field(500, ge=1, le=10_000, description="events taken from the store per batch")
    connect_timeout_seconds: float = Field(5.0, gt=0)
    read_timeout_seconds: float = Field(10.0, gt=0)
    retry_mode: Literal["adaptive", "standard", "legacy"] = "adaptive"
    sdk_max_attempts: int = Field(3, ge=1, le=10, description="botocore attempts per call, first included")
    payload_event_id: bool = Field(
        True, description='add detail.hookgate_event_id to detail_format = "payload" details'
    )


@dataclass(frozen=True, slots=True)
class EventBridgeMetrics:
    """Per-sink metrics, created once per registry and labelled by sink name."""

    sent: Counter
    failed: Counter
    retried: Counter
    offloaded: Counter
    dead_lettered: Counter
    request_entries: Histogram
    request_bytes: Histogram
    request_latency: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> EventBridgeMetrics:
        r = registry
        return cls(
            sent=Counter(
                "hookgate_eventbridge_entries_sent", "Entries EventBridge accepted", ["sink"], registry=r
            ),
            failed=Counter(
                "hookgate_eventbridge_entries_failed",
                "Entries not accepted, by error code (AWS or hookgate validation)",
                ["sink", "code"],
                registry=r,
            ),
            retried=Counter(
                "hookgate_eventbridge_entries_retried",
                "Entries reported for retry",
                ["sink", "code"],
                registry=r,
            ),
            offloaded=Counter(
                "hookgate_eventbridge_entries_offloaded",
                "Events stored in the claim-check bucket, sent as pointer events",
                ["sink"],
                registry=r,
            ),
            dead_lettered=Counter(
                "hookgate_eventbridge_entries_dead_lettered",
                "Entries reported as permanent failures",
                ["sink", "code"],
                registry=r,
            ),
            request_entries=Histogram(
                "hookgate_eventbridge_request_entries",
                "Entries per PutEvents request",
                ["sink"],
                buckets=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
                registry=r,
            ),
            request_bytes=Histogram(
                "hookgate_eventbridge_request_bytes",
                "Total entry size of a PutEvents request, as AWS counts it",
                ["sink"],
                buckets=(1024, 4096, 16384, 65536, 262144, 524288, 1048576),
                registry=r,
            ),
            request_latency=Histogram(
                "hookgate_eventbridge_request_duration_seconds",
                "PutEvents call latency, SDK retries included",
                ["sink"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
                registry=r,
            ),
        )


_metrics_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, EventBridgeMetrics] = (
    weakref.WeakKeyDictionary()
)


def metrics_for(registry: CollectorRegistry) -> EventBridgeMetrics:
    found = _metrics_by_registry.get(registry)
    if found is None:
        found = _metrics_by_registry[registry] = EventBridgeMetrics.create(registry)
    return found


# -- failures -------------------------------------------------------------------------------


def _code(cause: str) -> str:
    return cause.split(":", 1)[0][:64]


def call_failed(exc: Exception) -> Retry:
    """A whole AWS call failed (botocore's error `exc`): what to tell the store. Shared
    with the router's AWS targets, which classify their calls' failures the same way."""
    from botocore.exceptions import (  # noqa: PLC0415 - botocore loads with the clients
        ClientError,
        ConnectionError,
        CredentialRetrievalError,
        HTTPClientError,
        LoginError,
        NoAuthTokenError,
        NoCredentialsError,
        PartialCredentialsError,
        SSOError,
        TokenRetrievalError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "UnknownError")
        cause = f"{code}: {error.get('Message') or exc}"[:500]
        return Retry(cause, charge=code not in DEPLOYMENT_ERROR_CODES)
    credentials = (
        NoCredentialsError,
        PartialCredentialsError,
        CredentialRetrievalError,
        NoAuthTokenError,
        SSOError,
        TokenRetrievalError,
        LoginError,
    )
    if isinstance(exc, credentials):
        return Retry(f"credentials: {exc}"[:500], charge=False)
    if isinstance(exc, ConnectionError | HTTPClientError):
        return Retry(f"connection_error: {type(exc).__name__}: {exc}"[:500])
    return Retry(f"sink_error: {type(exc).__name__}: {exc}"[:500])


def _too_big_for_the_service(exc: Exception) -> bool:
    """The service refused the request as a whole for its size or shape (not the call)."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return bool(exc.response.get("Error", {}).get("Code") == "ValidationException" or status == 413)


# -- the sink -------------------------------------------------------------------------------


class EventBridgeSink(Sink):
    """Forwards events to an EventBridge bus with PutEvents; see the module docstring."""

    kind = "eventbridge"
    summary = "puts events on an Amazon EventBridge bus (PutEvents)"
    Options: ClassVar[type[SinkOptions]] = EventBridgeOptions
    options: EventBridgeOptions

    def __init__(self, name: str, options: SinkOptions | None = None) -> None:
        super().__init__(name, options)
        self.max_batch = self.options.max_batch
        self.metrics = metrics_for(CollectorRegistry())
        self._events: Any = None
        self._s3: Any = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def instrument(self, registry: CollectorRegistry) -> None:
        self.metrics = metrics_for(registry)

    @property
    def events_client(self) -> Any:
        """The boto3 `events` client (after `open`)."""
        return self._events

    @property
    def s3_client(self) -> Any:
        """The boto3 `s3` client (after `open`, with a claim-check bucket)."""
        return self._s3

    async def open(self) -> None:
        if self._events is None:
            await asyncio.to_thread(self._open)

    def _open(self) -> None:
        import boto3  # noqa: PLC0415 - a second of imports only when the sink is used
        from botocore.config import Config  # noqa: PLC0415

        opts = self.options
        config = Config(
            retries={"mode": opts.retry_mode, "total_max_attempts": opts.sdk_max_attempts},
            connect_timeout=opts.connect_timeout_seconds,
            read_timeout=opts.read_timeout_seconds,
            max_pool_connections=opts.concurrency,
            parameter_validation=False,  # `prepare` validates; the model check costs CPU per call
            tcp_keepalive=True,
        )
        session = boto3.session.Session(region_name=opts.region)
        kwargs: dict[str, Any] = {"config": config, "endpoint_url": opts.endpoint_url}
        self._events = session.client("events", **kwargs)
        if opts.claim_check_bucket:
            self._s3 = session.client("s3", **kwargs)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=opts.concurrency, thread_name_prefix=f"eventbridge-{self.name}"
        )

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
        for client in (self._events, self._s3):
            if client is not None:
                client.close()
        self._events = self._s3 = None

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        try:
            await self.open()
        except Exception as exc:  # noqa: BLE001 - e.g. no Region configured: the deployment's fault
            cause = f"sink_open_failed: {type(exc).__name__}: {exc}"[:500]
            log.error("eventbridge_open_failed", sink=self.name, cause=cause)
            return [Retry(cause, charge=False)] * len(events)
        opts = self.options
        limit = opts.max_request_bytes
        outcomes: list[Outcome | None] = [None] * len(events)
        entries: list[PreparedEntry] = []
        too_large: list[TooLarge] = []
        for index, event in enumerate(events):
            prepared = prepare(
                index, event, bus=opts.event_bus_name, limit=limit, payload_event_id=opts.payload_event_id
            )
            if isinstance(prepared, PreparedEntry):
                entries.append(prepared)
            elif isinstance(prepared, TooLarge):
                too_large.append(prepared)
            else:
                outcomes[index] = prepared
                log.warning(
                    "eventbridge_invalid_event", sink=self.name, event_id=event.id, cause=prepared.cause
                )
        if too_large:
            for item, result in zip(too_large, await self._offload(too_large), strict=True):
                if isinstance(result, PreparedEntry):
                    entries.append(result)
                else:
                    outcomes[item.index] = result
            entries.sort(key=lambda e: e.index)
        requests = list(pack(entries, limit))
        results = await asyncio.gather(*(self._run(self._put, chunk) for chunk in requests))
        for chunk, chunk_outcomes in zip(requests, results, strict=True):
            for entry, outcome in zip(chunk, chunk_outcomes, strict=True):
                outcomes[entry.index] = outcome
        final = [o if o is not None else Retry("sink_error: no outcome") for o in outcomes]
        self._account(final)
        return final

    async def _run(self, fn: Callable[[Any], list[Outcome]], arg: Any) -> list[Outcome]:
        assert self._pool is not None
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, arg)

    async def _offload(self, items: Sequence[TooLarge]) -> list[PreparedEntry | Permanent | Retry]:
        bucket = self.options.claim_check_bucket
        limit = self.options.max_request_bytes
        if not bucket:
            return [
                Permanent(
                    f"too_large: entry is {entry_size(i.request) + len(i.detail)} bytes (limit {limit})"
                )
                for i in items
            ]
        results: list[PreparedEntry | Permanent | Retry] = []
        stored = await asyncio.gather(*(self._run(self._store_object, item) for item in items))
        for item, [outcome] in zip(items, stored, strict=True):
            if isinstance(outcome, Delivered):
                key = claim_check_key(self.options.claim_check_prefix, item.event)
                results.append(pointer(item, bucket=bucket, key=key, limit=limit))
                self.metrics.offloaded.labels(self.name).inc()
            else:
                assert isinstance(outcome, Retry | Permanent)
                results.append(outcome)
        return results

    def _store_object(self, item: TooLarge) -> list[Outcome]:
        """Put the claim-check object (runs in the pool); the pointer is sent only after it."""
        digest = hashlib.sha256(item.detail).digest()
        try:
            self._s3.put_object(
                Bucket=self.options.claim_check_bucket,
                Key=claim_check_key(self.options.claim_check_prefix, item.event),
                Body=item.detail,
                ContentType="application/json",
                ChecksumSHA256=base64.b64encode(digest).decode(),
                Metadata={"hookgate-event-id": item.event.id},
            )
        except Exception as exc:  # noqa: BLE001 - translated at the sink's boundary
            return [self._failed_call("s3:PutObject", exc, 1)]
        return [Delivered()]

    def _put(self, chunk: list[PreparedEntry]) -> list[Outcome]:
        """One PutEvents call (runs in the pool): an outcome per entry, in order."""
        metrics = self.metrics
        started = time.perf_counter()
        try:
            response = self._events.put_events(Entries=[e.request for e in chunk])
        except Exception as exc:  # noqa: BLE001 - translated at the sink's boundary
            if len(chunk) > 1 and _too_big_for_the_service(exc):
                # The service's limit is below ours (e.g. an old partition): halve and resend.
                half = len(chunk) // 2
                return self._put(chunk[:half]) + self._put(chunk[half:])
            if _too_big_for_the_service(exc):
                return [Permanent(call_failed(exc).cause)]
            return [self._failed_call("events:PutEvents", exc, len(chunk))] * len(chunk)
        finally:
            metrics.request_latency.labels(self.name).observe(time.perf_counter() - started)
        metrics.request_entries.labels(self.name).observe(len(chunk))
        metrics.request_bytes.labels(self.name).observe(sum(e.size for e in chunk))
        results = response.get("Entries") or []
        if len(results) != len(chunk):
            return [Retry(f"bad_response: {len(results)} results for {len(chunk)} entries")] * len(chunk)
        outcomes: list[Outcome] = []
        for result in results:
            code = result.get("ErrorCode")
            if not code and result.get("EventId"):
                outcomes.append(Delivered())
                continue
            cause = f"{code or 'UnknownError'}: {result.get('ErrorMessage') or ''}".rstrip(": ")[:500]
            outcomes.append(Retry(cause) if code in RETRYABLE_ENTRY_CODES else Permanent(cause))
        return outcomes

    def _failed_call(self, operation: str, exc: Exception, entries: int) -> Retry:
        retry = call_failed(exc)
        if retry.charge:
            log.warning(
                "eventbridge_call_failed",
                sink=self.name,
                operation=operation,
                entries=entries,
                cause=retry.cause,
            )
        else:
            log.error(
                "eventbridge_access_failed",
                sink=self.name,
                operation=operation,
                entries=entries,
                cause=retry.cause,
                hint="check credentials, IAM permissions, the bus and the bucket; retried without "
                "using up the attempt budget",
            )
        return retry

    def _account(self, outcomes: Sequence[Outcome]) -> None:
        sent = 0
        failed: collections.Counter[tuple[str, bool]] = collections.Counter()
        for outcome in outcomes:
            if isinstance(outcome, Delivered):
                sent += 1
            else:
                failed[_code(outcome.cause), isinstance(outcome, Retry)] += 1
        m, name = self.metrics, self.name
        if sent:
            m.sent.labels(name).inc(sent)
        for (code, retried), count in failed.items():
            m.failed.labels(name, code).inc(count)
            (m.retried if retried else m.dead_lettered).labels(name, code).inc(count)
