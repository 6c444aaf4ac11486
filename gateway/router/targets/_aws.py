"""Targets on AWS: the pieces every one shares, another EventBridge bus (`eventbridge`) and an
SQS queue (`sqs`). Step Functions and Lambda live in `_aws_compute`; SNS, Kinesis and
CloudWatch Logs in `_aws_messaging`, on the same base.

`AwsTarget` is the base: one boto3 client per target (made in a worker thread on first use,
botocore retrying a call a few times in adaptive mode; calls run in worker threads, boto3
clients are thread-safe), `region` and `endpoint_url` keys, and a failure to make the client
retried without using up the attempt budget. `call_outcome` classifies a failed call as
EventBridge does for its targets: throttling, 5xx and connection errors are retried; a
target resource that does not exist (`NO_RESOURCE`) or a call the credentials may not make
(`NO_PERMISSIONS`) is dead-lettered at once, without retries; any other error the sender
caused is dead-lettered too; hookgate's own credentials missing or refused are retried
without using up the attempt budget, and logged as errors.

`eventbridge` is the `eventbridge` sink behind the target interface, with the sink's keys
and outcomes; like an EventBridge bus target, it gets the event itself, never a
transformed input.

`sqs` sends each delivery's input as one message with `SendMessageBatch` (10 messages and
`max_message_bytes` per call at most). On a FIFO queue (`….fifo`) `message_group_id` is
required and the deduplication id is the event id (a replay's own id, so a replay is not
deduplicated away). A message over `max_message_bytes` or with characters SQS refuses is
Permanent. Per message and per call, failures are classified as for every AWS target
(`batch_outcomes`, `call_outcome`): a missing queue is `NO_RESOURCE` and a refused call
or KMS key `NO_PERMISSIONS`, dead-lettered at once, as on EventBridge.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import structlog
from pydantic import Field, model_validator

from gateway.router.targets import Delivery, Target, TargetOptions
from gateway.sinks import Delivered, Outcome, Permanent, Retry
from gateway.sinks.eventbridge import EventBridgeOptions, EventBridgeSink, call_failed

__all__ = [
    "MAX_MESSAGES_PER_BATCH",
    "AwsOptions",
    "AwsTarget",
    "EventBridgeTarget",
    "EventBridgeTargetOptions",
    "SqsOptions",
    "SqsTarget",
    "batch_outcomes",
    "call_outcome",
    "deduplication_id",
    "entry_outcome",
    "error_code",
    "region_of_arn",
]

log = structlog.get_logger()

MAX_MESSAGES_PER_BATCH = 10
#: Characters outside what SQS accepts: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
_REFUSED_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_REGION_IN_URL = re.compile(r"^https?://sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/")
_PUNCTUATED = r"^[!-~]{1,128}$"
#: A `SendMessageBatch` entry.
_Entry = dict[str, Any]
_ARN_REGION = re.compile(r"^arn:aws[\w-]*:[a-z0-9-]+:([a-z0-9-]+):")
#: Codes of throttling and of faults on the service's side, on a call or on one entry.
RETRYABLE_CODES = frozenset(
    {
        "EC2ThrottledException",
        "ExecutionLimitExceeded",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "KMSThrottlingException",
        "KmsThrottled",
        "KMSThrottling",
        "LimitExceededException",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestTimeout",
        "RequestTimeoutException",
        "ResourceConflictException",
        "ResourceNotReadyException",
        "ServiceException",
        "ServiceUnavailable",
        "Throttled",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
    }
)
#: The target resource is not there: EventBridge's `NO_RESOURCE`, dead-lettered at once.
NO_RESOURCE_CODES = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "ExecutionDoesNotExist",
        "KmsNotFound",
        "NotFound",
        "NotFoundException",
        "QueueDoesNotExist",
        "ResourceNotFoundException",
        "StateMachineDeleting",
        "StateMachineDoesNotExist",
    }
)
#: The call is not allowed: EventBridge's `NO_PERMISSIONS`, dead-lettered at once.
NO_PERMISSIONS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "AuthorizationErrorException",
        "KMSAccessDenied",
        "KMSAccessDeniedException",
        "KmsAccessDenied",
        "NotAuthorized",
        "UnauthorizedOperation",
    }
)


def region_of_arn(arn: str) -> str | None:
    """The Region of an ARN (None for a name)."""
    found = _ARN_REGION.match(arn)
    return found.group(1) if found else None


def error_code(exc: Exception) -> str | None:
    """The AWS error code of botocore's `exc` (None when it has none)."""
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def deduplication_id(delivery: Delivery) -> str:
    """The deduplication id of a delivery: its event id, or a replay's own (so a replay is
    not deduplicated away). At most 64 characters."""
    event = delivery.event
    if event.replay_name is None:
        return event.id
    return hashlib.sha256(f"{event.id}/{event.replay_name}".encode()).hexdigest()


def entry_outcome(code: str, message: str, *, sender_fault: bool | None = None) -> Retry | Permanent:
    """One entry of a batch call failed with `code`: EventBridge's answer. `sender_fault`
    (SQS, SNS) decides codes no list names; without it they are retried."""
    cause = f"{code}: {message}".rstrip(": ")[:500]
    if code in NO_RESOURCE_CODES:
        return Permanent(f"NO_RESOURCE: {cause}"[:500])
    if code in NO_PERMISSIONS_CODES:
        return Permanent(f"NO_PERMISSIONS: {cause}"[:500])
    if code in RETRYABLE_CODES or not sender_fault:
        return Retry(cause)
    return Permanent(cause)


def batch_outcomes(call: Sequence[tuple[int, _Entry]], response: Mapping[str, Any]) -> list[Outcome]:
    """The outcome of each entry of a `…Batch` call (SQS `SendMessageBatch`, SNS
    `PublishBatch`), in order: `Successful` → Delivered, `Failed` → `entry_outcome`, its
    `SenderFault` deciding the codes no list names; an entry without a result is retried."""
    by_id: dict[str, Outcome] = {str(ok.get("Id")): Delivered() for ok in response.get("Successful", [])}
    for failed in response.get("Failed", []):
        code, message = failed.get("Code") or "UnknownError", failed.get("Message") or ""
        by_id[str(failed.get("Id"))] = entry_outcome(
            code, message, sender_fault=bool(failed.get("SenderFault"))
        )
    return [by_id.get(entry["Id"], Retry("bad_response: no result for the entry")) for _, entry in call]


def call_outcome(exc: Exception) -> Retry | Permanent:
    """A whole call to a target's service failed with botocore's `exc`: EventBridge's answer
    (see the module docstring). hookgate's own credentials are `call_failed`'s business."""
    from botocore.exceptions import ClientError  # noqa: PLC0415 - botocore loads with the clients

    retry = call_failed(exc)
    if not isinstance(exc, ClientError):
        return retry
    code = str(exc.response.get("Error", {}).get("Code") or "UnknownError")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if code in NO_RESOURCE_CODES or code in NO_PERMISSIONS_CODES:
        return entry_outcome(code, retry.cause.partition(": ")[2])
    if not retry.charge or code in RETRYABLE_CODES or status == 429 or status >= 500 or status < 400:
        return retry
    return Permanent(retry.cause)


class AwsOptions(TargetOptions):
    """The keys every AWS target has."""

    region: str | None = Field(
        None, description="AWS Region; default from the target's ARN, else boto3's chain"
    )
    endpoint_url: str | None = Field(None, description="a different endpoint, e.g. a local test server")

    def region_name(self) -> str | None:
        return self.region


class AwsTarget(Target):
    """Base of the AWS targets: the client, the open and close, a failed open retried."""

    #: The boto3 service name.
    service: ClassVar[str]
    options: AwsOptions

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The boto3 client (after `open`)."""
        return self._client

    async def open(self) -> None:
        if self._client is None:
            self._client = await asyncio.to_thread(self._new_client)

    def _client_config(self) -> dict[str, Any]:
        """More `botocore.config.Config` arguments for this target's client."""
        return {}

    def _new_client(self) -> Any:
        import boto3  # noqa: PLC0415 - a second of imports only when the target is used
        from botocore.config import Config  # noqa: PLC0415

        settings: dict[str, Any] = {
            "retries": {"mode": "adaptive", "total_max_attempts": 3},
            "connect_timeout": 5.0,
            "read_timeout": 10.0,
            "tcp_keepalive": True,
        }
        config = Config(**{**settings, **self._client_config()})
        session = boto3.session.Session(region_name=self.options.region_name())
        return session.client(self.service, config=config, endpoint_url=self.options.endpoint_url)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        try:
            await self.open()
        except Exception as exc:  # noqa: BLE001 - e.g. no Region configured: the deployment's fault
            cause = f"target_open_failed: {type(exc).__name__}: {exc}"[:500]
            log.error(f"{self.kind.replace('-', '_')}_open_failed", target=self.name, cause=cause)
            return [Retry(cause, charge=False)] * len(deliveries)
        return await self._send(deliveries)

    @abc.abstractmethod
    async def _send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        """`send` once the client is open."""

    def _failed(self, exc: Exception, count: int, **context: Any) -> Retry | Permanent:
        """`call_outcome` of a failed call of `count` deliveries, logged."""
        outcome = call_outcome(exc)
        event = f"{self.kind.replace('-', '_')}_call_failed"
        if isinstance(outcome, Retry) and not outcome.charge:
            log.error(
                event,
                target=self.name,
                deliveries=count,
                cause=outcome.cause,
                **context,
                hint="check hookgate's AWS credentials; retried without using up the attempt budget",
            )
        else:
            log.warning(event, target=self.name, deliveries=count, cause=outcome.cause, **context)
        return outcome


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


class SqsOptions(AwsOptions):
    queue_url: str = Field(pattern=r"^https?://", description="the queue's URL")
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


def _pack(
    entries: list[tuple[int, _Entry, int]], limit: int, count: int = MAX_MESSAGES_PER_BATCH
) -> Iterator[list[tuple[int, _Entry]]]:
    """Calls of at most `count` entries whose sizes add up to `limit` at most, in order."""
    chunk: list[tuple[int, _Entry]] = []
    total = 0
    for index, entry, size in entries:
        if chunk and (len(chunk) == count or total + size > limit):
            yield chunk
            chunk, total = [], 0
        chunk.append((index, entry))
        total += size
    if chunk:
        yield chunk


class SqsTarget(AwsTarget):
    """Sends each delivery's input as an SQS message; see the module docstring."""

    kind = "sqs"
    summary = "sends the rule's input to an SQS queue (standard or FIFO)"
    service = "sqs"
    Options: ClassVar[type[TargetOptions]] = SqsOptions
    options: SqsOptions
    max_batch = MAX_MESSAGES_PER_BATCH

    async def _send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
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
                entry["MessageDeduplicationId"] = deduplication_id(delivery)
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
            return [self._failed(exc, len(call))] * len(call)
        return batch_outcomes(call, response)
