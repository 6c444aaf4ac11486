"""Targets in this process: a Python function (`callable`) and a file of JSON lines (`jsonl`).

`callable` imports `package.module:function` when the configuration is checked, so a
typo fails `hookgate check-config`, not the first delivery. The function receives the
rendered input parsed as JSON (the text itself when it is not JSON); it may be a plain
function (run in a worker thread, one delivery after the other) or a coroutine function.
Returning means delivered; raising `PermanentError` dead-letters the event with the
message as cause; any other exception is retried, with the exception's type as cause.

`jsonl` appends one line per delivery with the `jsonl` sink's file handling (same keys):
a JSON body as it is, without its line breaks (insignificant whitespace in JSON, so every
value is kept exactly); any other text as a JSON string.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import structlog
from pydantic import Field, field_validator

from gateway.router.targets import Delivery, PermanentError, Target, TargetOptions
from gateway.sinks import Delivered, Outcome, Permanent, Retry
from gateway.sinks.files import JsonlFile, JsonlOptions

__all__ = ["CallableOptions", "CallableTarget", "JsonlTarget", "JsonlTargetOptions", "resolve_callable"]

log = structlog.get_logger()


def resolve_callable(reference: str) -> Callable[[Any], Any]:
    """The object `package.module:attribute` (the attribute may be dotted) names.

    Raises ValueError saying what is wrong: the form, the import, the attribute.
    """
    module_name, sep, attribute = reference.partition(":")
    if not (sep and module_name and attribute):
        raise ValueError(f"{reference!r} is not of the form 'package.module:function'")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r}: {exc}") from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ValueError(f"{module_name!r} has no attribute {attribute!r}") from None
    if callable(found):
        return found  # type: ignore[no-any-return]
    raise ValueError(f"{reference!r} is not callable")


class CallableOptions(TargetOptions):
    callable: str = Field(description='the function to call: "package.module:function"')

    @field_validator("callable")
    @classmethod
    def _importable(cls, value: str) -> str:
        resolve_callable(value)
        return value


class CallableTarget(Target):
    """Calls a function with each delivery's input; see the module docstring."""

    kind = "callable"
    summary = "calls a Python function in this process"
    Options: ClassVar[type[TargetOptions]] = CallableOptions
    options: CallableOptions

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        self.function = resolve_callable(self.options.callable)

    async def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        return [await self._call(delivery) for delivery in deliveries]

    async def _call(self, delivery: Delivery) -> Outcome:
        argument = delivery.value()
        try:
            if inspect.iscoroutinefunction(self.function):
                await self.function(argument)
            else:
                result = await asyncio.to_thread(self.function, argument)
                if inspect.isawaitable(result):
                    await result
        except PermanentError as exc:
            return Permanent(f"callable_refused: {exc}"[:500])
        except Exception as exc:  # noqa: BLE001 - the function's failure is the event's retry
            cause = f"callable_error: {type(exc).__name__}"
            log.warning("callable_target_failed", target=self.name, event_id=delivery.event.id, cause=cause)
            return Retry(cause)
        return Delivered()


class JsonlTargetOptions(JsonlOptions, TargetOptions):
    """The `jsonl` sink's keys: `path`, `fsync`, `timeout_seconds`."""


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _line(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        json.loads(text, parse_constant=_not_json)
    except ValueError:
        return json.dumps(text, ensure_ascii=False)
    return text.replace("\r", "").replace("\n", "")


class JsonlTarget(Target):
    """Appends each delivery's input as one line of JSON; see the module docstring."""

    kind = "jsonl"
    summary = "appends the rule's input as a JSON line to a file"
    Options: ClassVar[type[TargetOptions]] = JsonlTargetOptions
    options: JsonlTargetOptions
    max_batch = 500

    def __init__(self, name: str, options: TargetOptions) -> None:
        super().__init__(name, options)
        self._file = JsonlFile(
            self.options.path, fsync=self.options.fsync, timeout_seconds=self.options.timeout_seconds
        )

    async def open(self) -> None:
        await self._file.open()

    async def close(self) -> None:
        await self._file.close()

    async def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        return [await self._file.append([_line(d.body) for d in deliveries])] * len(deliveries)
