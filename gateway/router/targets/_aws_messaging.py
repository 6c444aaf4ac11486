"""Targets that carry messages and records on AWS: an SNS topic (`sns`), a Kinesis data
stream (`kinesis`) and a CloudWatch Logs log group (`cloudwatch-logs`), on the AWS targets'
base (`_aws.AwsTarget`, `call_outcome`, `entry_outcome`).

`sns` publishes each delivery's input as one message (`PublishBatch`, 10 messages and
`max_message_bytes` per call at most). On a FIFO topic (`….fifo`) every message needs a
group: `message_group_id` (fixed) or `message_group_id_path` (a JSONPath into the original
event, as EventBridge reads its dynamic parameters); the deduplication id is the event id
(a replay's own id, so a replay is not deduplicated away). Per message, a failure the
sender caused is dead-lettered, any other retried.

`kinesis` puts each delivery's input as one record (`PutRecords`: 500 records and 5 MiB per
call at most, a record 1 MiB at most with its key). The partition key is the event id, as
on EventBridge, or what `partition_key_path` names in the original event (a string or a
number; 256 characters at most). Per record: `ProvisionedThroughputExceededException` and
`InternalFailure` are retried, any other code dead-lettered.

`cloudwatch-logs` writes each delivery's input as one log event (`PutLogEvents`, in time
order, 10,000 events and 1 MiB per call at most, a call spanning less than 24 hours) to
`log_stream_name`, created on first use. An input of EventBridge's form for this target, a
JSON object of exactly `timestamp` (ISO 8601 or epoch milliseconds) and `message` (a
string, or any JSON logged as its text), gives both; any other input is the message, at
the event's time. A log event older than 14 days or more than 2 hours ahead is
dead-lettered before any call (`TOO_OLD`, `TOO_NEW`), as are those CloudWatch Logs rejects
for their time (its `rejectedLogEventsInfo`, whose end indexes are exclusive).

An event whose path finds no usable value is dead-lettered (`INVALID_PARAMETER`): no
retry can give it one. Failed calls: `call_outcome`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from gateway.router._transform import EventPath
from gateway.router.targets import Delivery, TargetOptions
from gateway.router.targets._aws import (
    _PUNCTUATED,
    _REFUSED_CHARACTER,
    MAX_MESSAGES_PER_BATCH,
    AwsOptions,
    AwsTarget,
    _Entry,
    _pack,
    batch_outcomes,
    deduplication_id,
    entry_outcome,
    error_code,
    region_of_arn,
)
from gateway.sinks import Delivered, Outcome, Permanent, Retry

__all__ = [
    "MAX_RECORDS_PER_CALL",
    "CloudWatchLogsOptions",
    "CloudWatchLogsTarget",
    "KinesisOptions",
    "KinesisTarget",
    "SnsOptions",
    "SnsTarget",
]

#: SNS's limit on a message, and on the messages of one `PublishBatch` together.
MAX_SNS_MESSAGE_BYTES = 262_144
#: Kinesis: records per `PutRecords`, bytes per record (data and key) and per call.
MAX_RECORDS_PER_CALL = 500
MAX_RECORD_BYTES = 1_048_576
MAX_CALL_BYTES = 5 * 1_048_576
MAX_PARTITION_KEY_LENGTH = 256
#: CloudWatch Logs: events per `PutLogEvents`, bytes per call (26 more per event), per event.
MAX_LOG_EVENTS_PER_CALL = 10_000
MAX_LOG_CALL_BYTES = 1_048_576
MAX_LOG_EVENT_BYTES = 262_144 - 26
_LOG_EVENT_OVERHEAD = 26
#: What PutLogEvents accepts of a log event's time, and of a call's span, in milliseconds.
_LOG_MAX_AGE_MS = 14 * 86_400_000
_LOG_MAX_AHEAD_MS = 2 * 3_600_000
_LOG_CALL_SPAN_MS = 86_400_000
_LOG_GROUP = r"^(arn:aws[\w-]*:logs:[a-z0-9-]+:\d{12}:log-group:)?[\.\-_/#A-Za-z0-9]{1,512}(:\*)?$"
_TOPIC = r"^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$"
_STREAM = r"^(arn:aws[\w-]*:kinesis:[a-z0-9-]+:\d{12}:stream/)?[a-zA-Z0-9_.-]{1,128}$"


def _check_path(value: str | None, key: str) -> str | None:
    if value is not None:
        EventPath(value, key)
    return value


def _key_in_event(path: EventPath, delivery: Delivery) -> str | None:
    """What `path` names in the delivery's original event, as text (None: nothing usable)."""
    found = path.find(json.loads(delivery.event.entry))
    if isinstance(found, str):
        return found
    if isinstance(found, int | float) and not isinstance(found, bool):
        return json.dumps(found)
    return None


class SnsOptions(AwsOptions):
    topic_arn: str = Field(pattern=_TOPIC, description="the topic")
    message_group_id: str | None = Field(
        None, pattern=_PUNCTUATED, description="a FIFO topic's group of every message"
    )
    message_group_id_path: str | None = Field(
        None, description="a FIFO topic's group of each message: a JSONPath into the event"
    )
    max_message_bytes: int = Field(
        MAX_SNS_MESSAGE_BYTES,
        ge=1024,
        le=MAX_SNS_MESSAGE_BYTES,
        description="limit on a message and on one call's messages together",
    )

    @field_validator("message_group_id_path")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        return _check_path(value, "message_group_id_path")

    @model_validator(mode="after")
    def _fifo_needs_a_group(self) -> SnsOptions:
        given = (self.message_group_id is not None) + (self.message_group_id_path is not None)
        if given > 1:
            raise ValueError("set message_group_id or message_group_id_path, not both")
        if self.topic_arn.endswith(".fifo") and not given:
            raise ValueError("a FIFO topic needs message_group_id or message_group_id_path")
        if given and not self.topic_arn.endswith(".fifo"):
            raise ValueError("message groups are for FIFO topics (….fifo)")
        return self

    def region_name(self) -> str | None:
        return self.region or region_of_arn(self.topic_arn)


class SnsTarget(AwsTarget):
    """Publishes each delivery's input as an SNS message; see the module docstring."""

    kind = "sns"
    summary = "publishes the rule's input to an SNS topic (standard or FIFO)"
    service = "sns"
    Options: ClassVar[type[TargetOptions]] = SnsOptions
    options: SnsOptions
    max_batch = MAX_MESSAGES_PER_BATCH

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        path = self.options.message_group_id_path
        self._group_path = EventPath(path, "message_group_id_path") if path is not None else None

    async def _send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        opts = self.options
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        entries: list[tuple[int, _Entry, int]] = []
        for index, delivery in enumerate(deliveries):
            entry = self._entry(index, delivery)
            if isinstance(entry, Permanent):
                outcomes[index] = entry
            else:
                entries.append((index, entry, len(delivery.body)))
        calls = list(_pack(entries, opts.max_message_bytes))
        results = await asyncio.gather(*(asyncio.to_thread(self._publish, call) for call in calls))
        for call, call_outcomes in zip(calls, results, strict=True):
            for (index, _), outcome in zip(call, call_outcomes, strict=True):
                outcomes[index] = outcome
        return [o if o is not None else Retry("target_error: no outcome") for o in outcomes]

    def _entry(self, index: int, delivery: Delivery) -> _Entry | Permanent:
        opts = self.options
        size = len(delivery.body)
        if size > opts.max_message_bytes:
            return Permanent(f"too_large: {size} bytes (limit {opts.max_message_bytes})")
        body = delivery.body.decode("utf-8", "replace")
        if _REFUSED_CHARACTER.search(body):
            return Permanent("invalid_characters: a character SNS refuses in a message")
        entry: _Entry = {"Id": str(index), "Message": body}
        group = opts.message_group_id
        if self._group_path is not None:
            group = _key_in_event(self._group_path, delivery)
            if group is None or not 0 < len(group) <= 128 or not group.isascii() or not group.isprintable():
                return Permanent(
                    f"INVALID_PARAMETER: message_group_id_path {self._group_path.text} finds no group id "
                    "(1 to 128 printable ASCII characters) in this event"
                )
        if group is not None:
            entry["MessageGroupId"] = group
        if opts.topic_arn.endswith(".fifo"):
            entry["MessageDeduplicationId"] = deduplication_id(delivery)
        return entry

    def _publish(self, call: list[tuple[int, _Entry]]) -> list[Outcome]:
        """One PublishBatch call (in a worker thread): an outcome per entry, in order."""
        try:
            response = self.client.publish_batch(
                TopicArn=self.options.topic_arn, PublishBatchRequestEntries=[entry for _, entry in call]
            )
        except Exception as exc:  # noqa: BLE001 - translated at the target's boundary
            return [self._failed(exc, len(call))] * len(call)
        return batch_outcomes(call, response)


class KinesisOptions(AwsOptions):
    stream_name: str = Field(pattern=_STREAM, description="the stream: a name or an ARN")
    partition_key_path: str | None = Field(
        None,
        description="a JSONPath into the event naming each record's partition key (default: the event id)",
    )

    @field_validator("partition_key_path")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        return _check_path(value, "partition_key_path")

    def region_name(self) -> str | None:
        return self.region or region_of_arn(self.stream_name)


class KinesisTarget(AwsTarget):
    """Puts each delivery's input as a Kinesis record; see the module docstring."""

    kind = "kinesis"
    summary = "puts the rule's input on a Kinesis data stream"
    service = "kinesis"
    Options: ClassVar[type[TargetOptions]] = KinesisOptions
    options: KinesisOptions
    max_batch = MAX_RECORDS_PER_CALL

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        path = self.options.partition_key_path
        self._key_path = EventPath(path, "partition_key_path") if path is not None else None

    async def _send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        records: list[tuple[int, _Entry, int]] = []
        for index, delivery in enumerate(deliveries):
            key = delivery.event.id if self._key_path is None else _key_in_event(self._key_path, delivery)
            if key is None or not 0 < len(key) <= MAX_PARTITION_KEY_LENGTH:
                assert self._key_path is not None
                outcomes[index] = Permanent(
                    f"INVALID_PARAMETER: partition_key_path {self._key_path.text} finds no partition key "
                    f"(a string or a number, 1 to {MAX_PARTITION_KEY_LENGTH} characters) in this event"
                )
                continue
            size = len(delivery.body) + len(key.encode())
            if size > MAX_RECORD_BYTES:
                outcomes[index] = Permanent(
                    f"too_large: {size} bytes with the key (limit {MAX_RECORD_BYTES})"
                )
                continue
            records.append((index, {"Data": delivery.body, "PartitionKey": key}, size))
        calls = list(_pack(records, MAX_CALL_BYTES, MAX_RECORDS_PER_CALL))
        results = await asyncio.gather(*(asyncio.to_thread(self._put, call) for call in calls))
        for call, call_outcomes in zip(calls, results, strict=True):
            for (index, _), outcome in zip(call, call_outcomes, strict=True):
                outcomes[index] = outcome
        return [o if o is not None else Retry("target_error: no outcome") for o in outcomes]

    def _put(self, call: list[tuple[int, _Entry]]) -> list[Outcome]:
        """One PutRecords call (in a worker thread): an outcome per record, in order."""
        stream = self.options.stream_name
        where = {"StreamARN": stream} if stream.startswith("arn:") else {"StreamName": stream}
        try:
            response = self.client.put_records(Records=[record for _, record in call], **where)
        except Exception as exc:  # noqa: BLE001 - translated at the target's boundary
            return [self._failed(exc, len(call))] * len(call)
        results: list[dict[str, Any]] = response.get("Records", [])
        if len(results) != len(call):
            return [Retry("bad_response: not one result per record")] * len(call)
        return [
            entry_outcome(r["ErrorCode"], r.get("ErrorMessage") or "", sender_fault=True)
            if r.get("ErrorCode")
            else Delivered()
            for r in results
        ]


class CloudWatchLogsOptions(AwsOptions):
    log_group_name: str = Field(pattern=_LOG_GROUP, description="the log group: a name or an ARN")
    log_stream_name: str = Field(
        "hookgate",
        min_length=1,
        max_length=512,
        pattern=r"^[^:*]*$",
        description="the stream, created on first use",
    )

    def region_name(self) -> str | None:
        return self.region or region_of_arn(self.log_group_name)


def _milliseconds(value: Any) -> int | None:
    """An ISO 8601 time or epoch milliseconds, as epoch milliseconds (None: neither)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return None
    return None


def _log_event(delivery: Delivery) -> tuple[int, str] | Permanent:
    """The (timestamp, message) of a delivery's input; see the module docstring."""
    value = delivery.value()
    if isinstance(value, dict) and set(value) == {"timestamp", "message"}:
        at = _milliseconds(value["timestamp"])
        if at is None:
            return Permanent(
                "INVALID_PARAMETER: the input's timestamp is neither ISO 8601 nor epoch milliseconds"
            )
        message = value["message"]
        return at, message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
    at = _milliseconds(json.loads(delivery.event.entry).get("time"))
    text = delivery.body.decode("utf-8", "replace")
    return (at if at is not None else int(delivery.event.received_at * 1000)), text


_TOO_OLD = Permanent("TOO_OLD: older than CloudWatch Logs accepts (14 days)")
_TOO_NEW = Permanent("TOO_NEW: more than 2 hours ahead")


def _within_a_day(entries: list[tuple[int, _Entry, int]]) -> list[list[tuple[int, _Entry, int]]]:
    """Log events in time order, in runs spanning less than 24 hours each."""
    runs: list[list[tuple[int, _Entry, int]]] = []
    for entry in entries:
        if not runs or entry[1]["timestamp"] - runs[-1][0][1]["timestamp"] >= _LOG_CALL_SPAN_MS:
            runs.append([])
        runs[-1].append(entry)
    return runs


class CloudWatchLogsTarget(AwsTarget):
    """Writes each delivery's input as a log event; see the module docstring."""

    kind = "cloudwatch-logs"
    summary = "writes the rule's input to a CloudWatch Logs stream"
    service = "logs"
    Options: ClassVar[type[TargetOptions]] = CloudWatchLogsOptions
    options: CloudWatchLogsOptions
    max_batch = 500

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        self._stream_ready = False
        self._lock = threading.Lock()

    def _where(self) -> dict[str, str]:
        group = self.options.log_group_name
        if group.startswith("arn:"):
            return {"logGroupIdentifier": group.removesuffix(":*")}
        return {"logGroupName": group}

    async def _send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        entries: list[tuple[int, _Entry, int]] = []
        now = int(time.time() * 1000)
        for index, delivery in enumerate(deliveries):
            found = _log_event(delivery)
            if isinstance(found, Permanent):
                outcomes[index] = found
                continue
            at, message = found
            size = len(message.encode())
            if not message:
                outcomes[index] = Permanent("INVALID_PARAMETER: an empty message")
            elif size > MAX_LOG_EVENT_BYTES:
                outcomes[index] = Permanent(f"too_large: {size} bytes (limit {MAX_LOG_EVENT_BYTES})")
            elif at < now - _LOG_MAX_AGE_MS:
                outcomes[index] = _TOO_OLD
            elif at > now + _LOG_MAX_AHEAD_MS:
                outcomes[index] = _TOO_NEW
            else:
                entries.append((index, {"timestamp": at, "message": message}, size + _LOG_EVENT_OVERHEAD))
        entries.sort(key=lambda e: e[1]["timestamp"])  # a call's events must be in time order
        for day in _within_a_day(entries):
            for call in _pack(day, MAX_LOG_CALL_BYTES, MAX_LOG_EVENTS_PER_CALL):
                for (index, _), outcome in zip(call, await asyncio.to_thread(self._put, call), strict=True):
                    outcomes[index] = outcome
        return [o if o is not None else Retry("target_error: no outcome") for o in outcomes]

    def _put(self, call: list[tuple[int, _Entry]]) -> list[Outcome]:
        """One PutLogEvents call (in a worker thread), the stream created first if need be."""
        try:
            with self._lock:
                if not self._stream_ready:
                    self._create_stream()
                    self._stream_ready = True
            response = self.client.put_log_events(
                logStreamName=self.options.log_stream_name, logEvents=[e for _, e in call], **self._where()
            )
        except Exception as exc:  # noqa: BLE001 - translated at the target's boundary
            return [self._failed(exc, len(call))] * len(call)
        rejected = response.get("rejectedLogEventsInfo") or {}
        too_new = rejected.get("tooNewLogEventStartIndex", len(call))
        too_old = rejected.get("tooOldLogEventEndIndex", 0)
        expired = rejected.get("expiredLogEventEndIndex", 0)
        outcomes: list[Outcome] = []
        for position in range(len(call)):
            if position < expired:
                outcomes.append(Permanent("EXPIRED: older than the log group's retention"))
            elif position < too_old:
                outcomes.append(_TOO_OLD)
            elif position >= too_new:
                outcomes.append(_TOO_NEW)
            else:
                outcomes.append(Delivered())
        return outcomes

    def _create_stream(self) -> None:
        try:
            self.client.create_log_stream(logStreamName=self.options.log_stream_name, **self._where())
        except Exception as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
