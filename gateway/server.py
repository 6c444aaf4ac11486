"""`hookgate serve`: the gateway's ASGI app under uvicorn.

Once it listens, the server logs one `started` line (the version, each source's webhook
URL, the store without its password, the sinks); when it stops, one `stopped` line (how
long the drain took: in-flight requests answered, the dispatcher stopped, the store
closed; and how many deliveries were left pending, to resume on the next start).

With `[server] metrics_port`, a second listener on that port (same host) serves
`/metrics` and nothing else, and the webhook port no longer serves it: the metrics can
stay inside a private network while the webhook port faces the providers. `[admin] port`
(and `host`) does the same for the admin API.

`listen()` binds every port before anything starts or prints: an address already in use
is one `ListenError` (`cannot listen on 127.0.0.1:8080: address already in use`), not a
gateway that starts and then stops.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
import uvicorn

from gateway.config import BUS_TYPE, ServerSettings
from gateway.connections import ConnectionLimits, protocol_class
from gateway.errors import HookgateError
from gateway.observability import version

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from gateway.app import GatewayApp
    from gateway.observability import LogStream

__all__ = ["GatewayServer", "ListenError", "bind"]

log = structlog.get_logger()


class ListenError(HookgateError):
    """The server cannot listen on its address (in use, not an address of this host, ...)."""


def bind(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to `port` on every address of `host`, as asyncio's `create_server`
    binds them (not yet listening); a `ListenError` if any cannot be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            if os.name == "posix":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in bound:
            sock.close()
        reason = (exc.strerror or str(exc)).lower()
        raise ListenError(f"cannot listen on {host}:{port}: {reason}") from None
    return bound


class GatewayServer(uvicorn.Server):
    """uvicorn's server for one gateway app, with the `started` and `stopped` lines and
    the optional metrics listener."""

    def __init__(self, app: GatewayApp, host: str, port: int, log_stream: LogStream | None = None) -> None:
        settings = app.gateway.settings.server
        refused = app.gateway.metrics.refused
        super().__init__(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                http=_protocol(settings, lambda reason: refused.labels(reason).inc()),
                h11_max_incomplete_event_size=settings.max_header_bytes,
                log_config=None,
                access_log=False,
                lifespan="on",
                server_header=False,
                # The client's address is hookgate's to find (`[server] trusted_proxies`):
                # uvicorn's own reading would trust any X-Forwarded-For from loopback.
                proxy_headers=False,
                timeout_graceful_shutdown=settings.shutdown_grace_seconds,
            )
        )
        self.gateway_app = app
        #: Flushed after the last line: uvicorn ends a process stopped by a signal by
        #: raising the signal again, which leaves no time for the log thread.
        self.log_stream = log_stream
        self.metrics_url: str | None = None
        self._sockets: list[socket.socket] | None = None
        self._metrics_sockets: list[socket.socket] | None = None
        self.admin_url: str | None = None
        self._admin_sockets: list[socket.socket] | None = None

    def listen(self) -> None:
        """Bind the webhook port, and the metrics and admin ports if any, now (`run` serves
        on them); a `ListenError` names the address that cannot be bound."""
        sockets = bind(self.config.host, self.config.port)
        try:
            metrics_port = self.gateway_app.gateway.settings.server.metrics_port
            if self.gateway_app.metrics_app is not None and metrics_port is not None:
                self._metrics_sockets = bind(self.config.host, metrics_port)
            admin = self.gateway_app.gateway.settings.admin
            if self.gateway_app.admin_app is not None and admin.port is not None:
                self._admin_sockets = bind(admin.host or self.config.host, admin.port)
        except ListenError:
            for sock in [*sockets, *(self._metrics_sockets or ())]:
                sock.close()
            raise
        self._sockets = sockets

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        super().run(sockets if sockets is not None else self._sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        settings = self.gateway_app.gateway.settings
        if self.gateway_app.metrics_app is not None:
            self.metrics_url = await self._listen_also(
                "metrics",
                self.gateway_app.metrics_app,
                self.config.host,
                settings.server.metrics_port or 0,
                self._metrics_sockets,
            )
        if self.gateway_app.admin_app is not None:
            self.admin_url = await self._listen_also(
                "admin",
                self.gateway_app.admin_app,
                settings.admin.host or self.config.host,
                settings.admin.port or 0,
                self._admin_sockets,
            )
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

    async def _listen_also(
        self, name: str, app: ASGIApp, host: str, port: int, bound: list[socket.socket] | None
    ) -> str:
        """Serve `app` on a second listener (`name`: metrics, admin); its URL."""
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            http=self.config.http,  # the same limits as the webhook port
            h11_max_incomplete_event_size=self.gateway_app.gateway.settings.server.max_header_bytes,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
        )
        config.load()
        state = self.server_state  # shared: a shutdown waits for these connections too

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state=self.lifespan.state
            )

        loop = asyncio.get_running_loop()
        try:
            sockets = bound or bind(config.host, config.port)
            listeners = [
                await loop.create_server(protocol, sock=sock, backlog=config.backlog) for sock in sockets
            ]
        except (ListenError, OSError) as exc:
            # metrics_listener_failed, admin_listener_failed
            log.error(f"{name}_listener_failed", port=config.port, error=str(exc))
            await self.lifespan.shutdown()
            sys.exit(1)
        self.servers.extend(listeners)
        return _url(listeners[0])

    def _log_started(self) -> None:
        settings = self.gateway_app.gateway.settings
        listening = _url(self.servers[0])
        base = settings.server.public_url or listening
        log.info(
            "started",
            version=version(),
            url=listening,
            metrics_url=(self.metrics_url or listening) + "/metrics",
            **({"admin_url": (self.admin_url or listening) + "/api/v1/"} if settings.admin.enabled else {}),
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


def _protocol(settings: ServerSettings, on_refused: Callable[[str], None]) -> type[asyncio.Protocol]:
    """uvicorn's protocol class for the parser `settings` name, under their limits."""
    limits = ConnectionLimits(
        max_header_bytes=settings.max_header_bytes,
        max_header_count=settings.max_header_count,
        header_timeout_seconds=settings.header_timeout_seconds,
        max_connections=settings.max_connections,
        on_refused=on_refused,
    )
    return protocol_class(limits, settings.http_parser)


def _url(server: asyncio.Server) -> str:
    """`http://HOST:PORT` of the first socket a listener bound."""
    host, port = server.sockets[0].getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
