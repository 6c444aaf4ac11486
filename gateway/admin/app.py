"""The admin API's routes, as the composition root mounts them.

Every endpoint module is listed once in `ENDPOINTS`; a new resource adds its module's
`routes` there. Whatever else the admin side serves (a web console under `/console`) is
one more route in `admin_routes`, so it shares the API's listener and is off with it.
With `[admin] port` the routes go on their own listener (`GatewayApp.admin_app`), else
on the webhook port; without tokens there are none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Mount

from gateway.admin import dead_letters, events, queue, replays, rules, schemas, sources, stream
from gateway.admin.api import API_PREFIX, Api, Routes
from gateway.console import PREFIX as CONSOLE_PREFIX
from gateway.console import Console

if TYPE_CHECKING:
    from gateway.app import Gateway

__all__ = ["ENDPOINTS", "admin_routes"]

#: The endpoint modules' routes, in the order openapi.json lists them.
ENDPOINTS: tuple[Routes, ...] = (
    sources.routes,
    events.routes,
    dead_letters.routes,
    queue.routes,
    replays.routes,
    rules.routes,
    schemas.routes,
    stream.routes,
)


def admin_routes(gateway: Gateway) -> list[BaseRoute]:
    """`/api/v1` over `gateway`, and the web console over it at `/console` (none when no
    token is configured: the API is off)."""
    settings = gateway.settings.admin
    if not settings.enabled:
        return []
    api = Api(gateway, settings, ENDPOINTS)
    return [
        Mount(API_PREFIX, app=api),
        Mount(CONSOLE_PREFIX, app=Console(api, gateway.bodies, gateway.clients)),
    ]
