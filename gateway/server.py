"""`hookgate serve`: the gateway's ASGI app under uvicorn.

Once it listens, the server logs one `started` line (the version, each source's webhook
URL, the store without its password, the sinks); when it stops, one `stopped` line (how
long the drain took: in-flight requests answered, the dispatcher stopped, the store
closed; and how many deliveries were left pending, to resume on the next start).

With `[server] metrics_port`, a second listener on that port (same host) serves
`/metrics` and nothing else, and the webhook port no longer serves it: the metrics can
stay inside a private network while the webhook port faces the providers.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING

import structlog
import uvicorn

from gateway.config import BUS_TYPE
from gateway.observability import version

if TYPE_CHECKING:
    import socket

    from starlette.types import ASGIApp

    from gateway.app import GatewayApp
    from gateway.observability import LogStream

__all__ = ["GatewayServer"]

log = structlog.get_logger()

#: How long in-flight requests have to finish once a shutdown begins.
GRACEFUL_SHUTDOWN_SECONDS = 10


class GatewayServer(uvicorn.Server):
    """uvicorn's server for one gateway app, with the `started` and `stopped` lines and
    the optional metrics listener."""

    def __init__(self, app: GatewayApp, host: str, port: int, log_stream: LogStream | None = None) -> None:
        super().__init__(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_config=None,
                access_log=False,
                lifespan="on",
                server_header=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            )
        )
        self.gateway_app = app
        #: Flushed after the last line: uvicorn ends a process stopped by a signal by
        #: raising the signal again, which leaves no time for the log thread.
        self.log_stream = log_stream
        self.metrics_url: str | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        if self.gateway_app.metrics_app is not None:
            await self._listen_for_metrics(self.gateway_app.metrics_app)
        self._log_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        began = time.monotonic()
        await super().shutdown(sockets)
        log.info(
            "stopped",
            drain_seconds=round(time.monotonic() - began, 3),
            pending=self.gateway_app.gateway.left_pending,
        )
        if self.log_stream is not None:
            self.log_stream.flush()

    async def _listen_for_metrics(self, metrics_app: ASGIApp) -> None:
        settings = self.gateway_app.gateway.settings.server
        config = uvicorn.Config(
            metrics_app,
            host=self.config.host,
            port=settings.metrics_port or 0,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
        )
        config.load()
        state = self.server_state  # shared: a shutdown waits for these connections too

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state=self.lifespan.state
            )

        try:
            listener = await asyncio.get_running_loop().create_server(
                protocol, host=config.host, port=config.port, backlog=config.backlog
            )
        except OSError as exc:
            log.error("metrics_listener_failed", port=config.port, error=str(exc))
            await self.lifespan.shutdown()
            sys.exit(1)
        self.servers.append(listener)
        self.metrics_url = _url(listener)

    def _log_started(self) -> None:
        settings = self.gateway_app.gateway.settings
        listening = _url(self.servers[0])
        base = settings.server.public_url or listening
        log.info(
            "started",
            version=version(),
            url=listening,
            metrics_url=(self.metrics_url or listening) + "/metrics",
            sources={
                name: f"{source.public_url or base}/webhooks/{name}"
                for name, source in settings.sources.items()
            },
            store=settings.store.display_url,
            sinks={
                **{name: spec.cls.kind for name, spec in settings.sinks.items()},
                **dict.fromkeys(settings.buses, BUS_TYPE),
            },
        )


def _url(server: asyncio.Server) -> str:
    """`http://HOST:PORT` of the first socket a listener bound."""
    host, port = server.sockets[0].getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
