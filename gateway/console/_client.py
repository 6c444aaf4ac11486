"""The console's only way to the data: the admin API, called in-process.

Each call goes through `httpx.ASGITransport` into the same ASGI app that answers
`/api/v1/` over the network, with the session's token and the browser's address (so the
API's authentication, roles, rate limit and audit lines apply to the console as to any
client). A stream (the live tail) is passed through chunk by chunk instead, since
`ASGITransport` reads an answer whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Answer", "ApiClient", "stream"]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str]
    #: The answer's bytes (a download's, when `body` is not JSON).
    content: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str:
        """The API's error message (`{"error": {"message": ...}}`), for the page."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("message", ""))
        return f"HTTP {self.status}"

    @property
    def missing(self) -> bool:
        """This API has no such endpoint (an older or newer gateway than the console)."""
        return (
            self.status == 404
            and isinstance(self.body, dict)
            and self.body.get("error", {}).get("message") == ("no such endpoint")
        )


def _client_address(request: Request) -> tuple[str, int]:
    client = request.client
    return (client.host, client.port) if client is not None else ("unknown", 0)


class ApiClient:
    """The admin API as one browser's session sees it."""

    def __init__(self, api: ASGIApp, token: str, request: Request) -> None:
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api, client=_client_address(request)),
            base_url="http://console.invalid",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Answer:
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        return _answer(await self._client.get(path, params=clean))

    async def post(self, path: str, body: Mapping[str, Any] | None = None) -> Answer:
        return _answer(await self._client.post(path, json=dict(body or {})))

    async def put(self, path: str, body: Mapping[str, Any] | None = None) -> Answer:
        return _answer(await self._client.put(path, json=dict(body or {})))


def _answer(response: httpx.Response) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = None
    return Answer(response.status_code, body, response.headers, response.content)


async def stream(
    api: ASGIApp, token: str, path: str, query: str, *, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer the browser's request with the API's answer to `GET path?query`, passed
    through as it is produced (a Server-Sent Events stream)."""
    inner: Scope = {
        "type": "http",
        "asgi": scope.get("asgi", {"version": "3.0"}),
        "http_version": scope.get("http_version", "1.1"),
        "method": "GET",
        "scheme": scope.get("scheme", "http"),
        "server": scope.get("server"),
        "client": scope.get("client"),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"accept", b"text/event-stream")],
        "state": {},
    }

    async def forward(message: Message) -> None:
        if message["type"] == "http.response.start":  # the API's status and media type, nothing else
            kept = [
                (k, v)
                for k, v in message.get("headers", [])
                if k.lower() in (b"content-type", b"cache-control")
            ]
            message = {**message, "headers": [*kept, (b"x-accel-buffering", b"no")]}
        await send(message)

    await api(inner, receive, forward)
