"""A hookgate router target that publishes a rule's input to NATS JetStream.

Each delivery is published to `subject` with the `Nats-Msg-Id` header set to hookgate's
event id, so JetStream's duplicate window drops the redeliveries that at-least-once
delivery allows. The publish waits for JetStream's acknowledgement: a delivery is
`Delivered` only once the stream has stored it. No server, a timeout, or no stream bound
to the subject (yet) is retried with backoff; hookgate dead-letters after the rule
target's retry policy runs out.
"""

from __future__ import annotations

from collections.abc import Sequence

import nats
from gateway.router.targets import Delivery, Target, TargetOptions
from gateway.sinks import Delivered, Outcome, Retry
from nats.aio.client import Client
from nats.errors import Error as NatsError
from pydantic import Field

__all__ = ["NatsTarget", "NatsTargetOptions"]


class NatsTargetOptions(TargetOptions):
    servers: list[str] = Field(["nats://127.0.0.1:4222"], min_length=1, description="NATS servers")
    subject: str = Field(min_length=1, description="the subject a JetStream stream listens on")
    timeout_seconds: float = Field(5.0, gt=0, le=60, description="wait for the stream's ack")


class NatsTarget(Target):
    kind = "nats"  # must equal the entry-point name
    summary = "publishes the rule's input to NATS JetStream (acknowledged, deduplicated)"
    Options = NatsTargetOptions
    options: NatsTargetOptions

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        self._client: Client | None = None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.drain()
            self._client = None

    async def _connected(self) -> Client:
        if self._client is None or not self._client.is_connected:
            self._client = await nats.connect(
                servers=self.options.servers,
                connect_timeout=self.options.timeout_seconds,
                allow_reconnect=False,
            )
        return self._client

    async def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        try:
            client = await self._connected()
        except (OSError, NatsError, TimeoutError) as exc:
            return [Retry(f"nats_unavailable: {type(exc).__name__}")] * len(deliveries)
        stream = client.jetstream(timeout=self.options.timeout_seconds)
        outcomes: list[Outcome] = []
        for delivery in deliveries:
            try:
                await stream.publish(
                    self.options.subject, delivery.body, headers={"Nats-Msg-Id": delivery.event.id}
                )
            except (NatsError, TimeoutError) as exc:
                outcomes.append(Retry(f"nats_publish_failed: {type(exc).__name__}"))
            else:
                outcomes.append(Delivered())
        return outcomes
