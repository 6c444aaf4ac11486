"""hookgate's exceptions, one root:

    HookgateError
    ├── ConfigError          an invalid configuration; `.key` points at the offending key
    ├── MissingExtraError    (also an ImportError) a feature whose optional dependencies, an
    │                        extra such as `hookgate[postgres]`, are not installed
    ├── StoreError           the inbox/outbox could not do its job (sqlite3/psycopg translated here)
    ├── SinkError            a sink failed as a whole (its own errors translated at its boundary)
    ├── InvalidEventPatternError   (gateway.router; also a ValueError) an event pattern EventBridge
    │                              would refuse, with the reason and its location
    ├── InvalidTargetInputError    (gateway.router; also a ValueError) an input transformation
    │                              EventBridge would refuse, with its key
    │   └── InputRenderError       one event for which a transformation yields no valid input
    ├── ApiError                   (gateway.router.eventbridge_api) an error answer of the
    │                              EventBridge API: its code, message and HTTP status
    └── PermanentError             (gateway.router.targets) raised by a `callable` target to
                                   refuse an event for good (dead-lettered, not retried)

Connector-level errors live in `connectors` (`VerificationError`, `MalformedPayloadError`),
since connectors do not depend on the gateway.
"""

from __future__ import annotations

__all__ = ["ConfigError", "HookgateError", "MissingExtraError", "SinkError", "StoreError"]


class HookgateError(Exception):
    """Root of every error hookgate raises on purpose."""


class ConfigError(HookgateError):
    """An invalid configuration. `key` is the dotted path of the offending key; `variable`
    the environment override it came from, if any (`NAME=value`, or `NAME` alone when the
    value may be a secret), which the message starts with."""

    def __init__(self, key: str, message: str, *, variable: str = "") -> None:
        text = f"{key}: {message}" if key else message
        super().__init__(f"{variable}: {text}" if variable else text)
        self.key = key
        self.message = message
        self.variable = variable


class MissingExtraError(HookgateError, ImportError):
    """`feature` needs the optional dependencies of `extra`, which are not installed.

    An ImportError too, so that whatever imports a module needing it (the AWS Lambda
    runtime) reports the one-line message instead of the missing module's name.
    """

    def __init__(self, extra: str, feature: str) -> None:
        super().__init__(f"{feature} needs the {extra} extra: pip install 'hookgate[{extra}]'")
        self.extra = extra
        self.feature = feature


class StoreError(HookgateError):
    """The store failed (disk full, database down, ...)."""


class SinkError(HookgateError):
    """A sink failed as a whole; the dispatcher retries the batch."""
