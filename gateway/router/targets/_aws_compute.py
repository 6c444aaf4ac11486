"""Targets that run code on AWS: a Step Functions state machine (`stepfunctions`) and a
Lambda function (`lambda`), on the AWS targets' base (`_aws.AwsTarget`, `call_outcome`).

`stepfunctions` starts one execution per delivery, with the input as the execution's input
(JSON; other text is dead-lettered as `INVALID_JSON`, over 256 KiB as `too_large`). The
execution is named after the event: its id, or a replay's own id (64 hex digits), so a
retried start of a Standard workflow is idempotent: Step Functions answers the same start
again while the execution runs, and `ExecutionAlreadyExists` once it has ended, which
counts as delivered (the event did start its execution). `start` chooses the call:

    async   StartExecution: Standard or Express, delivered once the execution started
    sync    StartSyncExecution (Express only): delivered once the workflow SUCCEEDED;
            FAILED is dead-lettered (`EXECUTION_FAILED: error: cause`), TIMED_OUT retried
    auto    DescribeStateMachine once, on first use: EXPRESS → sync, STANDARD → async
            (async when the credentials may not describe it, as EventBridge starts both)

`lambda` invokes the function asynchronously (`Invoke`, `InvocationType=Event`) with the
input as its payload (JSON, as Lambda requires; at most `max_payload_bytes`): delivered
when Lambda queued the invocation (202). What the function then does is Lambda's
business (its own retries and destinations), as on EventBridge.

Failed calls: `call_outcome` (throttling and 5xx retried; a missing state machine or
function, or a call not allowed, dead-lettered at once as `NO_RESOURCE` / `NO_PERMISSIONS`;
any other refusal dead-lettered with its code).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import structlog
from pydantic import Field

from gateway.router.targets import Delivery, TargetOptions
from gateway.router.targets._aws import AwsOptions, AwsTarget, deduplication_id, error_code, region_of_arn
from gateway.sinks import Delivered, Outcome, Permanent, Retry

__all__ = [
    "MAX_EXECUTION_INPUT_BYTES",
    "LambdaOptions",
    "LambdaTarget",
    "StepFunctionsOptions",
    "StepFunctionsTarget",
]

log = structlog.get_logger()

#: Step Functions' limit on an execution's input (UTF-8 bytes), not adjustable.
MAX_EXECUTION_INPUT_BYTES = 262_144
#: An Express workflow runs for 5 minutes at most; a synchronous start waits that long.
_SYNC_READ_TIMEOUT = 330.0
_STATE_MACHINE = (
    r"^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}(:[A-Za-z0-9_-]{1,128})?$"
)
# botocore's pattern for Invoke's FunctionName: a name, a partial ARN or an ARN, maybe qualified.
_FUNCTION = (
    r"^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$"
)


def _json_input(delivery: Delivery, limit: int, what: str) -> str | Permanent:
    """The delivery's input as the JSON text a service requires, or why it cannot be."""
    text = delivery.body.decode("utf-8", "replace")
    try:
        json.loads(text)
    except ValueError:
        return Permanent(f"INVALID_JSON: {what} must be JSON; this input is text")
    if len(delivery.body) > limit:
        return Permanent(f"too_large: {len(delivery.body)} bytes (limit {limit})")
    return text


class StepFunctionsOptions(AwsOptions):
    state_machine_arn: str = Field(
        pattern=_STATE_MACHINE, description="the state machine (or a version or alias)"
    )
    start: Literal["auto", "async", "sync"] = Field(
        "auto",
        description="async: StartExecution; sync: StartSyncExecution; auto: by the state machine's type",
    )

    def region_name(self) -> str | None:
        return self.region or region_of_arn(self.state_machine_arn)


class StepFunctionsTarget(AwsTarget):
    """Starts one execution per delivery; see the module docstring."""

    kind = "stepfunctions"
    summary = "starts a Step Functions execution with the rule's input"
    service = "stepfunctions"
    Options: ClassVar[type[TargetOptions]] = StepFunctionsOptions
    options: StepFunctionsOptions
    max_batch = 10

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        self._sync: bool | None = {"auto": None, "async": False, "sync": True}[self.options.start]

    def _client_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.options.start != "async":
            config["read_timeout"] = _SYNC_READ_TIMEOUT
        if self.options.endpoint_url is not None:
            config["inject_host_prefix"] = False  # `sync-` before a local server's host cannot resolve
        return config

    async def _send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        if self._sync is None:
            try:
                described = await asyncio.to_thread(
                    self.client.describe_state_machine, stateMachineArn=self.options.state_machine_arn
                )
            except Exception as exc:  # noqa: BLE001 - translated at the target's boundary
                outcome = self._failed(exc, len(deliveries), call="DescribeStateMachine")
                if not (isinstance(outcome, Permanent) and outcome.cause.startswith("NO_PERMISSIONS")):
                    return [outcome] * len(deliveries)
                log.warning("stepfunctions_starts_async", target=self.name, reason="type unknown")
                described = {}
            self._sync = described.get("type") == "EXPRESS"
        return list(await asyncio.gather(*(asyncio.to_thread(self._start, d) for d in deliveries)))

    def _start(self, delivery: Delivery) -> Outcome:
        """One start (in a worker thread)."""
        text = _json_input(delivery, MAX_EXECUTION_INPUT_BYTES, "an execution's input")
        if isinstance(text, Permanent):
            return text
        arguments = {
            "stateMachineArn": self.options.state_machine_arn,
            "name": deduplication_id(delivery),
            "input": text,
        }
        try:
            if self._sync:
                return self._finished(self.client.start_sync_execution(**arguments))
            self.client.start_execution(**arguments)
        except Exception as exc:  # noqa: BLE001 - translated at the target's boundary
            if error_code(exc) == "ExecutionAlreadyExists":
                log.info("stepfunctions_execution_exists", target=self.name, event_id=delivery.event.id)
                return Delivered()
            return self._failed(exc, 1, event_id=delivery.event.id)
        return Delivered()

    def _finished(self, result: dict[str, Any]) -> Outcome:
        status = result.get("status")
        if status == "SUCCEEDED":
            return Delivered()
        detail = f"{result.get('error') or ''}: {result.get('cause') or ''}".strip(": ")
        if status == "FAILED":
            return Permanent(f"EXECUTION_FAILED: {detail}".rstrip(": ")[:500])
        return Retry(f"EXECUTION_{status}: {detail}".rstrip(": ")[:500])


class LambdaOptions(AwsOptions):
    function_name: str = Field(
        min_length=1, max_length=170, pattern=_FUNCTION, description="the function: a name or an ARN"
    )
    qualifier: str | None = Field(
        None, pattern=r"^(|[a-zA-Z0-9$_-]{1,129})$", description="a version or an alias of the function"
    )
    max_payload_bytes: int = Field(
        262_144,
        ge=1024,
        le=1_048_576,
        description="limit on a payload (Lambda allows up to 1 MiB where raised)",
    )

    def region_name(self) -> str | None:
        return self.region or region_of_arn(self.function_name)


class LambdaTarget(AwsTarget):
    """Invokes a function asynchronously with each delivery's input; see the module docstring."""

    kind = "lambda"
    summary = "invokes a Lambda function asynchronously with the rule's input"
    service = "lambda"
    Options: ClassVar[type[TargetOptions]] = LambdaOptions
    options: LambdaOptions
    max_batch = 10

    async def _send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        return list(await asyncio.gather(*(asyncio.to_thread(self._invoke, d) for d in deliveries)))

    def _invoke(self, delivery: Delivery) -> Outcome:
        """One invocation (in a worker thread)."""
        opts = self.options
        text = _json_input(delivery, opts.max_payload_bytes, "a Lambda payload")
        if isinstance(text, Permanent):
            return text
        arguments: dict[str, Any] = {
            "FunctionName": opts.function_name,
            "InvocationType": "Event",
            "Payload": text.encode(),
        }
        if opts.qualifier:
            arguments["Qualifier"] = opts.qualifier
        try:
            response = self.client.invoke(**arguments)
        except Exception as exc:  # noqa: BLE001 - translated at the target's boundary
            return self._failed(exc, 1, event_id=delivery.event.id)
        status = response.get("StatusCode")
        if status == 202:
            return Delivered()
        return Retry(f"bad_response: Invoke answered {status}, not 202")
