"""The `http` target: an EventBridge API destination and its connection, in one table.

Its keys, its requests and its outcomes are those of the `http` sink (`gateway.sinks.http`,
whose `HttpSender` sends for both); the body is the rule's rendered input, and the
`webhook-id` of a signed request is the event id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from gateway.router.targets import Delivery, Target, TargetOptions
from gateway.sinks import Outcome
from gateway.sinks.http import HttpDestination, HttpSender

__all__ = ["HttpOptions", "HttpTarget"]


class HttpOptions(HttpDestination, TargetOptions):
    """The keys of a target of `type = "http"`."""


class HttpTarget(Target):
    """Sends each delivery's input in an HTTP request; see `gateway.sinks.http`."""

    kind = "http"
    summary = "an API destination: POSTs the rule's input to a URL"
    Options: ClassVar[type[TargetOptions]] = HttpOptions
    options: HttpOptions

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        self.sender = HttpSender(self.options)
        # Batches are sent side by side, up to `concurrency` requests: a slow request holds
        # up only the batch it is in, never the next claims.
        self.in_flight = self.options.concurrency

    async def open(self) -> None:
        await self.sender.open()

    async def close(self) -> None:
        await self.sender.close()

    async def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        return await self.sender.send([(d.event.id, d.body) for d in deliveries])
