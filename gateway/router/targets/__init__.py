"""Targets of the local router: where an event a rule matched is delivered.

    http          an API destination: a URL, auth, Standard Webhooks signature, rate limit
    callable      a Python function in this process ("package.module:function")
    jsonl         a file of JSON lines, fsynced before reporting
    eventbridge   another EventBridge bus (gets the event itself, never a transformed input)
    sqs           an SQS queue (standard or FIFO)
    sns           an SNS topic (standard or FIFO)
    kinesis       a Kinesis data stream (partition key from the event)
    stepfunctions a Step Functions state machine (an execution per event)
    lambda        a Lambda function, invoked asynchronously
    cloudwatch-logs  a CloudWatch Logs log group

A target looks like a sink: `send` takes a batch of `Delivery` (the stored event and the
body the rule rendered for this target) and reports one outcome per delivery, in order:
`Delivered`, `Retry(cause, retry_after, charge)` or `Permanent(cause)` (see
`gateway.sinks`). Each target type's `Options` are the keys of its `[[…targets]]` table;
secrets are `SecretStr` fields, so `env:` and `file:` references resolve as everywhere else.
A target translates its own errors into outcomes and never raises from `send`.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

from connectors import PluginRegistry
from gateway.errors import HookgateError
from gateway.events import Event
from gateway.sinks import Outcome

__all__ = [
    "TARGETS",
    "TARGET_ENTRY_POINT_GROUP",
    "Delivery",
    "PermanentError",
    "Target",
    "TargetOptions",
    "target_type",
    "target_types",
]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one target. `body` is what to send: the rule's input, rendered."""

    event: Event
    body: bytes

    def value(self) -> Any:
        """The body as a JSON value, or as text when it is not JSON (a text template)."""
        text = self.body.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            return text


class PermanentError(HookgateError):
    """Raised by the function of a `callable` target to refuse an event for good: the event
    is dead-lettered with the message as its cause. Any other exception means retry."""


class TargetOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(abc.ABC):
    """Base class of target types. `max_batch` bounds the batches `send` is handed;
    `in_flight`, the deliveries handed to it at once (see `gateway.sinks.Sink`)."""

    kind: ClassVar[str]
    Options: ClassVar[type[TargetOptions]] = TargetOptions
    #: Human summary shown by `hookgate targets`.
    summary: ClassVar[str] = ""
    max_batch: int = 10
    in_flight: int | None = None
    #: False: the target gets the event itself, never a transformed input (EventBridge bus targets)
    transforms_input: ClassVar[bool] = True

    def __init__(self, name: str, options: TargetOptions) -> None:
        self.name = name
        self.options = options

    @classmethod
    def from_config(cls, name: str, config: Mapping[str, Any]) -> Self:
        return cls(name, cls.Options.model_validate(dict(config)))

    async def open(self) -> None:
        """Acquire resources (clients, files) before the first batch."""

    async def close(self) -> None:
        """Release resources."""

    @abc.abstractmethod
    async def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        """Deliver a batch; return one outcome per delivery, in order."""


#: The entry-point group of target types, built-in or plugin (`type = "…"` in a rule's
#: `[[…targets]]` is the entry-point name). A type is imported only when a rule uses it.
TARGET_ENTRY_POINT_GROUP = "hookgate.targets"


TARGETS: PluginRegistry[Target] = PluginRegistry(
    TARGET_ENTRY_POINT_GROUP, Target, kind="target", options=TargetOptions, name_attribute="kind"
)


def target_type(kind: str) -> type[Target]:
    """The target class of `type = kind` (`connectors.PluginError` when there is none)."""
    return TARGETS.load(kind)


def target_types() -> dict[str, type[Target]]:
    """Every target type by its `type = "…"` name."""
    return {kind: target_type(kind) for kind in TARGETS.available()}
