"""The baselines of `bench/ingest.py`: a bare Starlette endpoint that reads the body and says 200.

It is served by uvicorn with the settings `hookgate serve` uses (uvloop and httptools when
installed, no access log, lifespan on), so the difference between the two measures what
hookgate itself adds: verification, normalization, the durable write and the log line.

With `--durable DB`, the endpoint also stores each body in a SQLite file before it
answers, durably (WAL, `synchronous=FULL`), through hookgate's own group-commit writer:
the price of "a 2xx means stored" alone, without verification, events, logs or forwarding.

    python bench/bare_app.py --port 8091
    python bench/bare_app.py --port 8092 --durable /tmp/bodies.db
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ACCEPTED = b'{"status":"accepted"}'


async def webhook(request: Request) -> Response:
    await request.body()
    return Response(ACCEPTED, media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/webhooks/{source}", webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)


def durable_app(path: str) -> Starlette:
    """The endpoint, storing each body durably before it answers."""
    from gateway.store._groupcommit import Writer  # noqa: PLC0415 - only this baseline needs it

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS bodies (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        return conn

    writer = Writer(connect)

    async def store(request: Request) -> Response:
        body = await request.body()
        await writer.submit(lambda conn: conn.execute("INSERT INTO bodies (body) VALUES (?)", (body,)))
        return Response(ACCEPTED, media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        writer.start()
        try:
            yield
        finally:
            writer.stop()

    return Starlette(
        routes=[
            Route("/webhooks/{source}", store, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--durable", metavar="DB", help="store each body durably in this SQLite file first")
    args = parser.parse_args()
    config = uvicorn.Config(
        durable_app(args.durable) if args.durable else app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
