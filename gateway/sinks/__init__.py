"""Sinks: where stored events go. They look like httpx transports.

A sink takes a batch of events and reports one outcome per event:

    Delivered()                          done
    Retry(cause, retry_after=None)       may succeed later; the dispatcher backs off
    Retry(cause, charge=False)           ...and the attempt does not count against
                                         `max_attempts` (credentials, permissions: the
                                         fault is ours to fix, not the event's)
    Permanent(cause)                     will never succeed; dead-lettered with the cause

A sink may also raise: the whole batch is then retried with the exception as cause.
`MemorySink` ships here so tests use the same seam production uses.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, TypeVar

from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ConfigDict

from connectors import PluginRegistry
from gateway.events import Event

__all__ = [
    "SINKS",
    "SINK_ENTRY_POINT_GROUP",
    "Delivered",
    "MemorySink",
    "Outcome",
    "Permanent",
    "Retry",
    "Sink",
    "SinkOptions",
    "Validate",
    "sink_type",
    "sink_types",
]


@dataclass(frozen=True, slots=True)
class Delivered:
    pass


@dataclass(frozen=True, slots=True)
class Retry:
    cause: str
    retry_after: float | None = None
    charge: bool = True


@dataclass(frozen=True, slots=True)
class Permanent:
    cause: str


Outcome = Delivered | Retry | Permanent


class SinkOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_M = TypeVar("_M", bound=BaseModel)


class Validate(Protocol):
    """Validates `data` as `model`, resolving its secret references; a `ConfigError`
    names the offending key under `key`."""

    def __call__(self, model: type[_M], data: Mapping[str, Any], key: str) -> _M: ...


class Sink(abc.ABC):
    """Base class of sinks. `max_batch` bounds the batches the dispatcher hands over;
    `in_flight`, the events it hands over at once (in as many batches as that takes)."""

    kind: ClassVar[str]
    Options: ClassVar[type[SinkOptions]] = SinkOptions
    #: Human summary shown by `hookgate sinks`.
    summary: ClassVar[str] = ""
    max_batch: int = 100
    #: Events in delivery at once; None: one batch at a time (the next waits for the last).
    in_flight: int | None = None

    def __init__(self, name: str, options: SinkOptions | None = None) -> None:
        self.name = name
        self.options = options if options is not None else self.Options()

    @classmethod
    def from_config(cls, name: str, config: Mapping[str, Any]) -> Self:
        return cls(name, cls.Options.model_validate(dict(config)))

    @classmethod
    def configure(cls, key: str, table: Mapping[str, Any], validate: Validate) -> SinkOptions:
        """The options of a `[sinks.NAME]` table (without `type`), checked at load time."""
        return validate(cls.Options, table, key)

    def instrument(self, registry: CollectorRegistry) -> None:
        """Register the sink's own metrics in the gateway's registry (called once, early)."""

    async def open(self) -> None:
        """Acquire resources (files, clients) before the first batch."""

    async def close(self) -> None:
        """Release resources."""

    @abc.abstractmethod
    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        """Deliver a batch; return one outcome per event, in order."""


class MemorySink(Sink):
    """Keeps delivered events in memory. `script` may decide each event's outcome."""

    kind = "memory"
    summary = "keeps delivered events in memory (tests)"

    def __init__(
        self,
        name: str = "memory",
        options: SinkOptions | None = None,
        *,
        script: Callable[[Event], Outcome] | None = None,
    ) -> None:
        super().__init__(name, options)
        self.events: list[Event] = []
        self.attempts: list[Event] = []
        self.script = script

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for event in events:
            self.attempts.append(event)
            outcome = self.script(event) if self.script is not None else Delivered()
            if isinstance(outcome, Delivered):
                self.events.append(event)
            outcomes.append(outcome)
        return outcomes


#: The entry-point group of sink types, built-in or plugin (`[sinks.NAME] type = "…"` is
#: the entry-point name). A type is imported only when a configuration uses it.
#: (`type = "router"` configures a local event bus, `gateway.router.bus`: not a sink.)
SINK_ENTRY_POINT_GROUP = "hookgate.sinks"


SINKS: PluginRegistry[Sink] = PluginRegistry(
    SINK_ENTRY_POINT_GROUP, Sink, kind="sink", options=SinkOptions, name_attribute="kind"
)


def sink_type(kind: str) -> type[Sink]:
    """The sink class of `type = kind` (`connectors.PluginError` when there is none)."""
    return SINKS.load(kind)


def sink_types() -> dict[str, type[Sink]]:
    """Every sink type by its `type = "…"` name."""
    return {kind: sink_type(kind) for kind in SINKS.available()}
