"""The API's errors, in EventBridge's JSON shape: `{"__type": CODE, "message": …}`."""

from __future__ import annotations

import orjson

from gateway.errors import HookgateError

__all__ = ["ApiError"]


class ApiError(HookgateError):
    """An answer that is an error: EventBridge's code (boto3 raises the exception of that
    name), its message and HTTP status. The message never carries a secret or a body."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status

    def body(self) -> bytes:
        return orjson.dumps({"__type": self.code, "message": self.message})
