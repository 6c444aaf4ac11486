"""The services on this machine: each serves its handler at `POST /events` (where the bus's
rule delivers, an `http` target) and lists the event ids it received at `GET /events`.
`run.py` starts them with uvicorn (`shop.local:payments`, `shop.local:support`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shop.bus import Entry, publish
from shop.payments import payment_processed
from shop.support import ticket_processed


def service_app(handle: Callable[[dict[str, Any]], Entry]) -> Starlette:
    """A service over HTTP: each event delivered to `POST /events` is handled once (a
    delivery tried again gets the first answer), and its entry published."""
    received: list[str] = []
    published: dict[str, str] = {}

    async def take(request: Request) -> JSONResponse:
        event = await request.json()
        received.append(event["id"])
        if event["id"] not in published:
            published[event["id"]] = await asyncio.to_thread(publish, handle(event))
        return JSONResponse({"published": published[event["id"]]})

    async def listing(request: Request) -> JSONResponse:
        return JSONResponse({"received": received})

    return Starlette(routes=[Route("/events", take, methods=["POST"]), Route("/events", listing)])


payments = service_app(payment_processed)
support = service_app(ticket_processed)
