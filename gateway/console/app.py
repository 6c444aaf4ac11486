"""The console's pages: each a Starlette endpoint that asks the admin API and renders a
template. `Console(api)` is the ASGI app mounted at `/console`.

A page needs a session (else: the login page). A write is a POST form carrying the
session's CSRF token, from this origin; it answers 303 back to its page with a notice, so
a reload never repeats it. A viewer sees no write buttons, and the API refuses a
viewer's write anyway (403).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import structlog
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.addresses import ClientAddress
from gateway.connections import BodyReader, BodyRefusedError, DisconnectedError
from gateway.console._charts import Bucket, bars, summary
from gateway.console._client import Answer, ApiClient, stream
from gateway.console._schemas import SchemaPages
from gateway.console._session import Session, Sessions
from gateway.console.hints import hint_for

__all__ = ["PREFIX", "Console"]

log = structlog.get_logger()

PREFIX = "/console"
_HERE = Path(__file__).parent
#: What a page may load: only this origin's files; no inline script, no framing.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: The pages in the navigation: (path, title).
NAV = (
    ("/", "Overview"),
    ("/sources", "Sources"),
    ("/events", "Events"),
    ("/requests", "Requests"),
    ("/dead-letters", "Dead letters"),
    ("/replays", "Replays"),
    ("/rules", "Rules"),
    ("/schemas", "Schemas"),
    ("/live", "Live tail"),
)
#: The events page's filters, passed to `GET /api/v1/events` as they are.
EVENT_FILTERS = (
    "source",
    "detail_type",
    "detail_type_prefix",
    "provider_event_id",
    "delivery_id",
    "dedup_key",
    "state",
    "since",
    "until",
    "q",
)
REQUEST_FILTERS = ("outcome", "source", "since", "until")
#: Rows a page of the events or the requests shows.
_PAGE = 50
DEAD_LETTER_FILTERS = ("source", "sink", "cause", "since", "until")
#: The overview's chart: the last hour in 12 buckets of 5 minutes, from at most this many requests.
_CHART_BUCKETS, _CHART_SECONDS, _CHART_REQUESTS, _CHART_PAGE = 12, 3600, 5000, 500
#: The largest form a page sends (the rules tester's event is the largest).
MAX_FORM_BYTES = 262_144

Page = Callable[[Request, Session, ApiClient], Awaitable[Response]]


def _when(value: Any) -> str:
    """A time the API gave (epoch seconds or ISO 8601) as `YYYY-MM-DD HH:MM:SS` UTC."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str):
        return value.replace("T", " ").removesuffix("Z").split(".")[0].split("+")[0]
    return ""


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _markdown_code(text: str) -> Markup:
    """A troubleshooting cell's `code` spans as <code> (everything else escaped)."""
    parts = str(escape(text)).split("`")
    return Markup(  # noqa: S704 - built from escaped text only
        "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    )


class Console:
    """The web console over one admin API app (`api`: what `/api/v1` serves)."""

    def __init__(
        self,
        api: ASGIApp,
        bodies: BodyReader,
        clients: ClientAddress | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        #: Says whether a request came over HTTPS behind a trusted proxy (`[server]
        #: trusted_proxies`): the session cookie is `Secure` then.
        self.clients = clients or ClientAddress()
        #: Reads the forms posted to the console, under the edge's time limits and budget.
        self.bodies = bodies
        self.clock = clock
        self.sessions = Sessions()
        self.templates = Jinja2Templates(directory=str(_HERE / "templates"))
        env = self.templates.env
        env.filters["when"] = _when
        env.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False)
        env.filters["code"] = _markdown_code
        env.globals["nav"] = NAV
        env.globals["hint_for"] = hint_for
        page = self._page
        schemas = SchemaPages(self)
        self.app = Starlette(
            routes=[
                Route("/", page(self.overview)),
                Route("/login", self.login, methods=["GET", "POST"]),
                Route("/logout", self.logout, methods=["POST"]),
                Route("/sources", page(self.sources)),
                Route("/sources/{name}/test", page(self.send_test), methods=["POST"]),
                Route("/events", page(self.events)),
                Route("/events/{id}", page(self.event)),
                Route("/events/{id}/redeliver", page(self.redeliver), methods=["POST"]),
                Route("/requests", page(self.requests)),
                Route("/dead-letters", page(self.dead_letters), methods=["GET", "POST"]),
                Route("/replays", page(self.replays), methods=["GET", "POST"]),
                Route("/rules", page(self.rules), methods=["GET", "POST"]),
                Route("/schemas", page(schemas.listing)),
                Route("/schemas/{name:path}/bindings", page(schemas.bindings)),
                Route("/schemas/{name:path}", page(schemas.detail), methods=["GET", "POST"]),
                Route("/live", page(self.live)),
                Route("/live/stream", self.live_stream),
                Mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static"),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope.get("scheme") == "http":
            peer = scope["client"][0] if scope.get("client") else None
            if self.clients.https("http", peer, scope["headers"]):
                scope = {**scope, "scheme": "https"}

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in _SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        if scope["method"] == "POST":  # the form, read once, here: every handler sees it
            try:
                body = await self.bodies.read(scope, receive, MAX_FORM_BYTES)
            except BodyRefusedError as exc:
                if exc.status != 413:
                    # The rest of a body cut short must not be read as the next request: close.
                    refused = PlainTextResponse(exc.message, exc.status, headers={"Connection": "close"})
                    await refused(scope, receive, with_headers)
                    return
                body = b""  # a form larger than any of the console's: an empty one
            except DisconnectedError:
                return
            form = Form(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            scope.setdefault("state", {})["form"] = form
        await self.app(scope, receive, with_headers)

    # -- plumbing ---------------------------------------------------------------------------
    def _page(self, handler: Page) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = self.sessions.of(request)
            if session is None:
                if request.method != "GET":
                    return PlainTextResponse("log in first", 401)
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{PREFIX}/login?{urlencode({'next': target})}", 303)
            if request.method == "POST":
                form = _form(request)
                if not self._same_origin(request) or not session.csrf_ok(_text(form, "csrf")):
                    log.warning("console_csrf_refused", who=session.name, path=request.url.path)
                    return PlainTextResponse("refused: stale or missing form token; reload the page", 403)
            async with ApiClient(self.api, session.token, request) as api:
                return await handler(request, session, api)

        return endpoint

    @staticmethod
    def _same_origin(request: Request) -> bool:
        """A POST from a page of this console (browsers send `Origin` with every POST)."""
        origin = request.headers.get("origin")
        if origin is None:
            return True  # not a browser's cross-site form: the CSRF token still applies
        return origin == f"{request.url.scheme}://{request.url.netloc}"

    def render(
        self, request: Request, session: Session | None, template: str, status: int = 200, **context: Any
    ) -> Response:
        context.update(
            session=session,
            prefix=PREFIX,
            path=request.url.path.removeprefix(PREFIX) or "/",
            notice=request.query_params.get("notice", ""),
        )
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    def failed(self, request: Request, session: Session, answer: Answer) -> Response:
        """The page for an API answer that is not a success."""
        if answer.status == 401:  # the token is no longer configured
            self.sessions.end(session)
            return RedirectResponse(f"{PREFIX}/login", 303)
        message = "this gateway's admin API has no such endpoint" if answer.missing else answer.error
        return self.render(request, session, "error.html", answer.status, message=message)

    @staticmethod
    def back(path: str, notice: str) -> Response:
        return RedirectResponse(f"{PREFIX}{path}?{urlencode({'notice': notice})}", 303)

    # -- login ------------------------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        target = request.query_params.get("next", "")
        if not target.startswith(f"{PREFIX}/") or target.startswith(f"{PREFIX}//"):
            target = f"{PREFIX}/"
        if request.method == "GET":
            return self.render(request, self.sessions.of(request), "login.html", next=target)
        if not self._same_origin(request):
            return PlainTextResponse("refused: cross-site login", 403)
        form = _form(request)
        token = (_text(form, "token") or "").strip()
        if not token:
            return self.render(request, None, "login.html", 400, next=target, error="Enter a token.")
        async with ApiClient(self.api, token, request) as api:
            answer = await api.get("/whoami")
        if not answer.ok:
            error = "That token is not valid." if answer.status == 401 else answer.error
            if answer.status == 429:
                error = (
                    f"Too many failed logins; retry in {answer.headers.get('retry-after', 'a few')} seconds."
                )
            return self.render(request, None, "login.html", answer.status, next=target, error=error)
        session = self.sessions.create(token, answer.body["name"], answer.body["role"])
        log.info("console_login", who=session.name, role=session.role)
        response = RedirectResponse(target, 303)
        self.sessions.set_cookie(response, request, session)
        return response

    async def logout(self, request: Request) -> Response:
        session = self.sessions.of(request)
        response = RedirectResponse(f"{PREFIX}/login", 303)
        if session is not None:
            form = _form(request)
            if not self._same_origin(request) or not session.csrf_ok(_text(form, "csrf")):
                return PlainTextResponse("refused: stale or missing form token; reload the page", 403)
            self.sessions.end(session)
            log.info("console_logout", who=session.name)
        self.sessions.set_cookie(response, request, None)
        return response

    # -- pages ------------------------------------------------------------------------------
    async def overview(self, request: Request, session: Session, api: ApiClient) -> Response:
        sources = await api.get("/sources")
        if not sources.ok and not sources.missing:
            return self.failed(request, session, sources)
        named = [s["name"] for s in sources.body["sources"]] if sources.ok else []
        now = self.clock()
        since = now - _CHART_SECONDS
        width = _CHART_SECONDS / _CHART_BUCKETS
        counts: dict[str, list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(_CHART_BUCKETS)])
        window = {"since": datetime.fromtimestamp(since, UTC).isoformat(), "limit": _CHART_PAGE}
        requests_answer = await api.get("/requests", window)
        seen, page = 0, requests_answer
        while page.ok and seen < _CHART_REQUESTS:
            for item in page.body["items"]:
                at = _epoch(item["received_at"])
                if at is None or at < since:
                    continue
                index = min(int((at - since) // width), _CHART_BUCKETS - 1)
                rejected = item["outcome"] == "rejected"
                counts[item["source"] or "(no source)"][index][int(rejected)] += 1
            seen += len(page.body["items"])
            cursor = page.body.get("next_cursor")
            if not cursor:
                break
            page = await api.get("/requests", {**window, "cursor": cursor})
        charts = []
        for name in sorted(set(counts) | set(named)):
            buckets = [
                Bucket(_when(since + i * width)[11:16], ok, bad) for i, (ok, bad) in enumerate(counts[name])
            ]
            charts.append((name, summary("last hour", buckets), bars(f"{name}, last hour", buckets)))
        queue = await api.get("/queue")
        return self.render(
            request,
            session,
            "overview.html",
            charts=charts,
            queue=queue.body if queue.ok else None,
            requests_available=requests_answer.ok,
        )

    async def sources(self, request: Request, session: Session, api: ApiClient) -> Response:
        answer = await api.get("/sources")
        if not answer.ok:
            return self.failed(request, session, answer)
        return self.render(request, session, "sources.html", sources=answer.body["sources"])

    async def send_test(self, request: Request, session: Session, api: ApiClient) -> Response:
        name = request.path_params["name"]
        answer = await api.post(f"/sources/{name}/test")
        if not answer.ok:
            return self.failed(request, session, answer)
        result = answer.body
        outcome = "accepted" if result["accepted"] else "refused"
        stored = ", ".join(result["event_ids"]) or "nothing"
        return self.back("/sources", f"Test webhook to {name}: {result['status']} {outcome}; stored {stored}")

    async def _list_page(
        self, request: Request, session: Session, api: ApiClient, endpoint: str, filters: Sequence[str]
    ) -> Response:
        """A paged list (`/events`, `/requests`): the API's `endpoint` with the `filters` the
        query gives, 50 a page, rendered by the template named after it; a filter the API
        refuses shows the page again with its message (400)."""
        shown = {k: request.query_params.get(k, "") for k in filters}
        cursor = request.query_params.get("cursor")
        answer = await api.get(endpoint, {**shown, "cursor": cursor, "limit": _PAGE})
        if not answer.ok and answer.status != 400:
            return self.failed(request, session, answer)
        more = {**{k: v for k, v in shown.items() if v}, "cursor": answer.body.get("next_cursor")}
        return self.render(
            request,
            session,
            f"{endpoint.strip('/')}.html",
            400 if not answer.ok else 200,
            filters=shown,
            items=answer.body["items"] if answer.ok else [],
            problem=None if answer.ok else answer.error,
            next_page=urlencode(more) if answer.ok and more["cursor"] else None,
        )

    async def events(self, request: Request, session: Session, api: ApiClient) -> Response:
        return await self._list_page(request, session, api, "/events", EVENT_FILTERS)

    async def event(self, request: Request, session: Session, api: ApiClient) -> Response:
        answer = await api.get(f"/events/{request.path_params['id']}")
        if not answer.ok:
            return self.failed(request, session, answer)
        return self.render(request, session, "event.html", event=answer.body)

    async def redeliver(self, request: Request, session: Session, api: ApiClient) -> Response:
        """The event sent again, whatever its state: to one destination, or to every one."""
        event_id = request.path_params["id"]
        sink = _text(_form(request), "sink")
        answer = await api.post(
            f"/events/{quote(event_id, safe='')}/redeliver", {"destination": sink or None}
        )
        if not answer.ok:
            return self.failed(request, session, answer)
        return self.back(f"/events/{event_id}", f"Queued again: {len(answer.body['redelivered'])} deliveries")

    async def requests(self, request: Request, session: Session, api: ApiClient) -> Response:
        return await self._list_page(request, session, api, "/requests", REQUEST_FILTERS)

    async def dead_letters(self, request: Request, session: Session, api: ApiClient) -> Response:
        if request.method == "POST":
            return await self._redrive(request, session, api)
        filters = {k: request.query_params.get(k, "") for k in DEAD_LETTER_FILTERS}
        answer = await api.get("/dead-letters", {**filters, "cursor": request.query_params.get("cursor")})
        if not answer.ok and answer.status != 400:
            return self.failed(request, session, answer)
        return self.render(
            request,
            session,
            "dead_letters.html",
            400 if not answer.ok else 200,
            filters=filters,
            items=answer.body["items"] if answer.ok else [],
            problem=None if answer.ok else answer.error,
        )

    async def _redrive(self, request: Request, session: Session, api: ApiClient) -> Response:
        form = _form(request)
        dry_run = _text(form, "action") == "dry-run"
        body: dict[str, Any] = {"dry_run": dry_run}
        kept = {k: v for k in DEAD_LETTER_FILTERS if (v := _text(form, k))}
        if _text(form, "scope") == "matching":
            body["filter"] = kept
        else:
            body["ids"] = form.getlist("delivery")
        answer = await api.post("/dead-letters/redrive", body)
        if not answer.ok:
            return self.failed(request, session, answer)
        matched, redriven = answer.body["matched"], answer.body["redriven"]
        notice = f"Redriven: {redriven} of {matched}"
        if dry_run:
            notice = f"{matched} dead letters would be redriven"
        return RedirectResponse(f"{PREFIX}/dead-letters?{urlencode({**kept, 'notice': notice})}", 303)

    async def replays(self, request: Request, session: Session, api: ApiClient) -> Response:
        if request.method == "POST":
            form = _form(request)
            body = {k: v for k in ("name", "source", "rule", "from", "to") if (v := _text(form, k))}
            answer = await api.post("/replays", body)
            if not answer.ok:
                return self.failed(request, session, answer)
            return self.back("/replays", f"Replay started: {answer.body['name'] or answer.body['id']}")
        answer = await api.get("/replays")
        if not answer.ok:
            return self.failed(request, session, answer)
        return self.render(request, session, "replays.html", items=answer.body["replays"])

    async def rules(self, request: Request, session: Session, api: ApiClient) -> Response:
        answer = await api.get("/rules")
        if not answer.ok:
            return self.failed(request, session, answer)
        tested, sample, problem = None, "", None
        if request.method == "POST":
            form = _form(request)
            sample = _text(form, "event") or ""
            try:
                event = json.loads(sample)
            except ValueError:
                problem = "The event is not JSON."
            else:
                result = await api.post("/rules/test", {"event": event})
                if result.ok:
                    tested = result.body["results"]
                else:
                    problem = result.error
        return self.render(
            request,
            session,
            "rules.html",
            400 if problem else 200,
            rules=answer.body["rules"],
            tested=tested,
            sample=sample,
            problem=problem,
        )

    async def live(self, request: Request, session: Session, api: ApiClient) -> Response:
        return self.render(request, session, "live.html")

    async def live_stream(self, request: Request) -> Response:
        session = self.sessions.of(request)
        if session is None:
            return PlainTextResponse("log in first", 401)
        token, query = session.token, request.url.query

        class Passthrough(Response):
            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                await stream(_api, token, "/stream", query, scope=scope, receive=receive, send=send)

        _api = self.api
        return Passthrough()


class Form:
    """A URL-encoded form (the only kind the console's pages send)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def get(self, key: str) -> str | None:
        return next((v for k, v in self._pairs if k == key), None)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._pairs if k == key]


def _form(request: Request) -> Form:
    """The request's form, as `Console` read it (at most `MAX_FORM_BYTES`: a larger one is
    empty)."""
    found: Form | None = getattr(request.state, "form", None)
    return Form([]) if found is None else found


def _text(form: Form, key: str) -> str | None:
    return form.get(key)
