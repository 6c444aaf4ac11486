"""Sources: each with its webhook URL and last hour's counts, and a test webhook.

    GET  /sources                  every configured source
    POST /sources/{name}/test      a correctly signed sample, through the real edge

The test is `hookgate send-test` run inside the gateway: the source's connector signs its
sample body (`sample_delivery`), and the delivery goes through the same edge a provider's
does (verify, normalize, store, dispatch), in process. It stores a real event, delivered
to the source's sinks like any other.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from gateway.admin.api import ApiError, Call, Document, NoBody, NoParams, Routes
from gateway.app import sample_delivery, webhook_url
from gateway.http import WebhookHandler

__all__ = ["routes"]

routes = Routes("sources")

_HOUR = 3600.0


class LastHour(Document):
    #: Events stored from this source in the last hour.
    events: int


class SourceView(Document):
    name: str
    connector: str
    webhook_url: str
    event_source: str
    detail_format: str
    sinks: list[str]
    last_hour: LastHour


class SourceList(Document):
    sources: list[SourceView]


class SourceTest(Document):
    #: The edge's answer to the sample delivery.
    status: int
    accepted: bool
    #: The events it stored.
    event_ids: list[str]
    #: The edge's answer body (JSON when it is JSON).
    answer: Any


@routes.get("/sources", response=SourceList)
async def list_sources(call: Call[NoParams, NoBody]) -> dict[str, Any]:
    """Every source: its webhook URL, connector, routing, and the events it stored in the last hour."""
    gateway = call.gateway
    since = gateway.clock() - _HOUR
    items = []
    for name, source in gateway.sources.items():
        stored = await call.store.count_events(source=name, since=since)
        items.append(
            {
                "name": name,
                "connector": source.connector_name,
                "webhook_url": webhook_url(gateway.settings, name),
                "event_source": source.event_source,
                "detail_format": source.detail_format,
                "sinks": list(source.sinks),
                "last_hour": {"events": stored},
            }
        )
    return {"sources": items}


@routes.post("/sources/{name}/test", response=SourceTest)
async def test_source(call: Call[NoParams, NoBody]) -> dict[str, Any]:
    """Send the source a correctly signed sample webhook through the real edge.

    The sample is stored and delivered like any other event; the answer is the edge's.
    """
    gateway = call.gateway
    name = call.params["name"]
    source = gateway.sources.get(name)
    if source is None:
        raise ApiError(404, "not_found", f"no source {name!r}")
    delivery = sample_delivery(source, gateway.clock())
    url = webhook_url(gateway.settings, name)
    transport = httpx.ASGITransport(app=WebhookHandler(gateway), client=("127.0.0.1", 0))
    async with httpx.AsyncClient(transport=transport) as client:
        # its own task: the edge's request context must not replace this request's
        response = await asyncio.create_task(
            client.request(
                delivery.method, url, content=delivery.body, headers=delivery.headers, params=delivery.query
            )
        )
    ids = [i for i in response.headers.get("x-hookgate-event-ids", "").split(",") if i]
    try:
        answer: Any = json.loads(response.content)
    except ValueError:
        answer = response.text
    call.audit("sources.test", len(ids), source=name, status=response.status_code)
    return {
        "status": response.status_code,
        "accepted": response.is_success,
        "event_ids": ids,
        "answer": answer,
    }
