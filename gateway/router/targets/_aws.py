"""Targets on AWS: another EventBridge bus (`eventbridge`) and an SQS queue (`sqs`).

`eventbridge` is the `eventbridge` sink behind the target interface, with the sink's keys
and outcomes; like an EventBridge bus target, it gets the event itself, never a
transformed input.

`sqs` sends each delivery's input as one message with `SendMessageBatch` (10 messages and
`max_message_bytes` per call at most; calls run in worker threads: boto3 clients are
thread-safe). On a FIFO queue (`….fifo`) `message_group_id` is required and the
deduplication id is the event id (a replay's own id, so a replay is not deduplicated
away). A message over `max_message_bytes` or with characters SQS refuses is Permanent.
Per message: a sender fault → Permanent(code), else Retry(code). Whole-call failures are
classified as the EventBridge sink classifies them (throttling, 5xx and connection errors
retried); credentials, permissions, a missing queue or its KMS key are retried without
using up the attempt budget, and logged as errors.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import structlog
from pydantic import Field, model_validator

from gateway.router.targets import Delivery, Target, TargetOptions
from gateway.sinks import Delivered, Outcome, Permanent, Retry
from gateway.sinks.eventbridge import EventBridgeOptions, EventBridgeSink, call_failed

__all__ = [
    "MAX_MESSAGES_PER_BATCH",
    "EventBridgeTarget",
    "EventBridgeTargetOptions",
    "SqsOptions",
    "SqsTarget",
]

log = structlog.get_logger()

MAX_MESSAGES_PER_BATCH = 10
#: Whole-call errors of SQS that mean "fix the deployment", besides the EventBridge sink's.
SQS_DEPLOYMENT_ERROR_CODES = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "InvalidAddress",
        "InvalidSecurity",
        "KmsAccessDenied",
        "KmsDisabled",
        "KmsInvalidKeyUsage",
        "KmsInvalidState",
        "KmsNotFound",
        "KmsOptInRequired",
        "QueueDoesNotExist",
    }
)
#: Characters outside what SQS accepts: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
_REFUSED_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_REGION_IN_URL = re.compile(r"^https?://sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/")
_PUNCTUATED = r"^[!-~]{1,128}$"
#: A `SendMessageBatch` entry.
_Entry = dict[str, Any]


class EventBridgeTargetOptions(EventBridgeOptions, TargetOptions):
    """The `eventbridge` sink's keys."""


class EventBridgeTarget(Target):
    """Puts the matched event on another EventBridge bus, through the `eventbridge` sink."""

    kind = "eventbridge"
    summary = "puts the event on an Amazon EventBridge bus"
    Options: ClassVar[type[TargetOptions]] = EventBridgeTargetOptions
    options: EventBridgeTargetOptions
    transforms_input = False

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        self.sink = EventBridgeSink(name, self.options)
        self.max_batch = self.sink.max_batch

    async def open(self) -> None:
        await self.sink.open()

    async def close(self) -> None:
        await self.sink.close()

    async def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        return await self.sink.deliver([d.event for d in deliveries])


class SqsOptions(TargetOptions):
    queue_url: str = Field(pattern=r"^https?://", description="the queue's URL")
    region: str | None = Field(None, description="AWS Region; default from the queue URL, else boto3's chain")
    endpoint_url: str | None = Field(None, description="a different endpoint, e.g. a local test server")
    message_group_id: str | None = Field(
        None, pattern=_PUNCTUATED, description="required on a FIFO queue: the group of every message"
    )
    max_message_bytes: int = Field(
        262_144, ge=1024, le=1_048_576, description="limit on a message and on one call's messages together"
    )

    @model_validator(mode="after")
    def _fifo_needs_a_group(self) -> SqsOptions:
        if self.queue_url.endswith(".fifo") and self.message_group_id is None:
            raise ValueError("a FIFO queue needs message_group_id")
        return self

    def region_name(self) -> str | None:
        if self.region is not None:
            return self.region
        found = _REGION_IN_URL.match(self.queue_url)
        return found.group(1) if found else None


def _deduplication_id(delivery: Delivery) -> str:
    event = delivery.event
    if event.replay_name is None:
        return event.id
    return hashlib.sha256(f"{event.id}/{event.replay_name}".encode()).hexdigest()


def _pack(entries: list[tuple[int, _Entry, int]], limit: int) -> Iterator[list[tuple[int, _Entry]]]:
    """Calls of at most 10 messages whose sizes add up to `limit` at most, in order."""
    chunk: list[tuple[int, _Entry]] = []
    total = 0
    for index, entry, size in entries:
        if chunk and (len(chunk) == MAX_MESSAGES_PER_BATCH or total + size > limit):
            yield chunk
            chunk, total = [], 0
        chunk.append((index, entry))
        total += size
    if chunk:
        yield chunk


class SqsTarget(Target):
    """Sends each delivery's input as an SQS message; see the module docstring."""

    kind = "sqs"
    summary = "sends the rule's input to an SQS queue (standard or FIFO)"
    Options: ClassVar[type[TargetOptions]] = SqsOptions
    options: SqsOptions
    max_batch = MAX_MESSAGES_PER_BATCH

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        self._client: Any = None

    async def open(self) -> None:
        if self._client is None:
            self._client = await asyncio.to_thread(self._new_client)

    def _new_client(self) -> Any:
        import boto3  # noqa: PLC0415 - a second of imports only when the target is used
        from botocore.config import Config  # noqa: PLC0415

        config = Config(
            retries={"mode": "adaptive", "total_max_attempts": 3},
            connect_timeout=5.0,
            read_timeout=10.0,
            tcp_keepalive=True,
        )
        session = boto3.session.Session(region_name=self.options.region_name())
        return session.client("sqs", config=config, endpoint_url=self.options.endpoint_url)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        try:
            await self.open()
        except Exception as exc:  # noqa: BLE001 - e.g. no Region configured: the deployment's fault
            cause = f"target_open_failed: {type(exc).__name__}: {exc}"[:500]
            log.error("sqs_open_failed", target=self.name, cause=cause)
            return [Retry(cause, charge=False)] * len(deliveries)
        opts = self.options
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        entries: list[tuple[int, _Entry, int]] = []
        for index, delivery in enumerate(deliveries):
            size = len(delivery.body)
            if size > opts.max_message_bytes:
                outcomes[index] = Permanent(f"too_large: {size} bytes (limit {opts.max_message_bytes})")
                continue
            body = delivery.body.decode("utf-8", "replace")
            if _REFUSED_CHARACTER.search(body):
                outcomes[index] = Permanent("invalid_characters: a character SQS refuses in a message")
                continue
            entry: _Entry = {"Id": str(index), "MessageBody": body}
            if opts.message_group_id is not None:
                entry["MessageGroupId"] = opts.message_group_id
            if opts.queue_url.endswith(".fifo"):
                entry["MessageDeduplicationId"] = _deduplication_id(delivery)
            entries.append((index, entry, size))
        calls = list(_pack(entries, opts.max_message_bytes))
        results = await asyncio.gather(*(asyncio.to_thread(self._send_batch, call) for call in calls))
        for call, call_outcomes in zip(calls, results, strict=True):
            for (index, _), outcome in zip(call, call_outcomes, strict=True):
                outcomes[index] = outcome
        return [o if o is not None else Retry("target_error: no outcome") for o in outcomes]

    def _send_batch(self, call: list[tuple[int, _Entry]]) -> list[Outcome]:
        """One SendMessageBatch call (in a worker thread): an outcome per entry, in order."""
        try:
            response = self._client.send_message_batch(
                QueueUrl=self.options.queue_url, Entries=[entry for _, entry in call]
            )
        except Exception as exc:  # noqa: BLE001 - translated at the target's boundary
            return [self._failed_call(exc, len(call))] * len(call)
        by_id: dict[str, Outcome] = {str(ok.get("Id")): Delivered() for ok in response.get("Successful", [])}
        for failed in response.get("Failed", []):
            code, message = failed.get("Code") or "UnknownError", failed.get("Message") or ""
            cause = f"{code}: {message}".rstrip(": ")[:500]
            by_id[str(failed.get("Id"))] = Permanent(cause) if failed.get("SenderFault") else Retry(cause)
        return [by_id.get(entry["Id"], Retry("bad_response: no result for the message")) for _, entry in call]

    def _failed_call(self, exc: Exception, messages: int) -> Retry:
        retry = call_failed(exc)
        if retry.cause.split(":", 1)[0] in SQS_DEPLOYMENT_ERROR_CODES:
            retry = Retry(retry.cause, charge=False)
        if retry.charge:
            log.warning("sqs_call_failed", target=self.name, messages=messages, cause=retry.cause)
        else:
            log.error(
                "sqs_access_failed",
                target=self.name,
                messages=messages,
                cause=retry.cause,
                hint="check credentials, IAM permissions, the queue and its KMS key; retried without "
                "using up the attempt budget",
            )
        return retry
