"""How an admin API endpoint is declared, and the ASGI app that serves the declared ones.

An endpoint is an async function over one `Call`, declared on a module's `Routes` with
its role and its models; the models give both the validation and the OpenAPI schemas:

    routes = Routes("dead letters")          # one per module; the tag in openapi.json

    class DeadLetterFilter(Params):          # query parameters (Params: unknown keys are a 400)
        sink: str | None = None
        limit: int = Field(100, ge=1, le=1000)

    class DeadLetterPage(Document):          # the answer (Document: exactly these keys)
        items: list[dict[str, Any]]
        next_cursor: str | None

    @routes.get("/dead-letters", query=DeadLetterFilter, response=DeadLetterPage)
    async def list_dead_letters(call: Call[DeadLetterFilter, NoBody]) -> dict[str, Any]:
        \"\"\"Dead-lettered deliveries, newest first.\"\"\"   # the summary in openapi.json
        ...
        return {"items": [...], "next_cursor": None}

    @routes.post("/dead-letters/redrive", body=RedriveBody, response=RedriveResult)  # role="admin"
    async def redrive(call: Call[NoParams, RedriveBody]) -> dict[str, Any]:
        ...
        call.audit("dead_letters.redrive", count)   # one audit line: who, what, how many

and `gateway.admin.app` lists the module's `routes`. `get` defaults to `role="viewer"`,
`post` to `role="admin"` (pass `role="viewer"` for a POST that changes nothing; `route`
takes any method). A path may hold `{name}` parameters (`call.params["name"]`). A handler
returns what `response` validates (a dict or the model), or a Starlette `Response` of its
own (a stream: declare `response=None` and `media_type`). `call.store` is the store,
`call.gateway` everything else, `call.principal` who calls. Times in a query or a body
are `Time` (RFC 3339 or an age like `2h`); a page's position is `encode_cursor(...)`,
read back with `decode_cursor(cursor, *types)` (a 400 when it is not one). A list that
pages answers `{"items": [...], "next_cursor": ...}`.

Every failure is one JSON shape, `{"error": {"code": ..., "message": ...}}`:

    400 invalid_query / invalid_body · 401 unauthorized · 403 forbidden · 404 not_found
    405 method_not_allowed · 413 too_large · 429 rate_limited · 503 store_unavailable

A handler raises `ApiError(status, code, message)` for its own (404 for an unknown name).
Nothing a caller sends produces a 500 or a stack trace. `GET /openapi.json` (OpenAPI 3.1)
is generated from the declared endpoints.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import re
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

import structlog
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, WithJsonSchema
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from gateway.admin._errors import ApiError, error_response
from gateway.admin.auth import Authenticator, Principal
from gateway.admin.config import ROLES, AdminSettings, Role
from gateway.connections import BodyReader, BodyRefusedError, DisconnectedError
from gateway.errors import StoreError
from gateway.observability import version

if TYPE_CHECKING:
    from gateway.app import Gateway
    from gateway.store import Store

__all__ = [
    "API_PREFIX",
    "Api",
    "ApiError",
    "Call",
    "Document",
    "Endpoint",
    "NoBody",
    "NoParams",
    "Params",
    "Routes",
    "Time",
    "decode_cursor",
    "encode_cursor",
]

log = structlog.get_logger()

#: Where the admin API is mounted.
API_PREFIX = "/api/v1"
#: The largest request body an endpoint reads (413 above).
MAX_BODY_BYTES = 1_048_576

Method = Literal["GET", "POST", "PUT", "DELETE"]
#: What each path's dispatcher sees (it answers 405 itself, in the JSON error shape).
_EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class Params(BaseModel):
    """Query parameters or a request body: unknown keys are refused (a 400 naming them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """No query parameters."""


class NoBody(Params):
    """No request body (an empty one, or `{}`)."""


class Document(BaseModel):
    """An answer's shape: what a handler returns is validated against it, so the OpenAPI
    schema says exactly what is sent."""

    model_config = ConfigDict(extra="forbid")


def _time(value: Any) -> float:
    import click  # noqa: PLC0415 - the command line's parser, loaded on use

    from gateway.store.cli import parse_time  # noqa: PLC0415

    if isinstance(value, int | float):
        return float(value)
    try:
        return parse_time(str(value))
    except click.BadParameter:
        raise ValueError("neither an RFC 3339 time (2026-11-28T10:00:00Z) nor an age like 2h") from None


#: A time in a query or a body: RFC 3339 (`2026-11-28T10:00:00Z`) or an age (`90s`, `30m`,
#: `2h`, `7d`: that long ago), as the command line takes it.
Time = Annotated[
    float,
    BeforeValidator(_time),
    WithJsonSchema({"type": "string", "examples": ["2026-11-28T10:00:00Z", "2h"]}),
]


def encode_cursor(*values: str | float) -> str:
    """An opaque page cursor holding `values` (where the page ended)."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *kinds: type) -> tuple[Any, ...]:
    """The values `encode_cursor` put in `cursor`, of `kinds`; a 400 when it is not one."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        values = None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise ApiError(400, "invalid_query", "cursor: not a cursor this API gave")
    if not all(
        isinstance(v, k) or (k is float and isinstance(v, int)) for v, k in zip(values, kinds, strict=True)
    ):
        raise ApiError(400, "invalid_query", "cursor: not a cursor this API gave")
    return tuple(values)


Q = TypeVar("Q", bound=Params)
B = TypeVar("B", bound=Params)


@dataclass
class Call(Generic[Q, B]):
    """One call of an endpoint: who makes it, with what, on which gateway."""

    gateway: Gateway
    request: Request
    principal: Principal
    query: Q
    body: B
    #: The path's `{name}` parameters.
    params: dict[str, str]

    @property
    def store(self) -> Store:
        """The gateway's store (a gateway without one serves no admin API)."""
        store = self.gateway.store
        if store is None:
            raise ApiError(404, "not_found", "this gateway keeps no store")
        return store

    def audit(self, action: str, count: int, **details: Any) -> None:
        """The one audit line of a change an admin made: who (the token's name), what, how
        many, and `details` (names and filters, never a secret or a payload)."""
        log.info("audit", who=self.principal.name, action=action, count=count, **details)


Handler = Callable[[Call[Any, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: Method
    path: str
    handler: Handler
    role: Role
    query: type[Params]
    body: type[Params]
    response: type[BaseModel] | None
    status: int
    tag: str
    #: The media type of a handler's own `Response` (`response=None`); several when it
    #: answers one of them.
    media_type: str | tuple[str, ...] = "application/json"

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.handler) or self.handler.__name__.replace("_", " ")
        return doc.split("\n\n", 1)[0].replace("\n", " ")

    @property
    def description(self) -> str:
        doc = inspect.getdoc(self.handler) or ""
        return doc.split("\n\n", 1)[1] if "\n\n" in doc else ""


class Routes:
    """The endpoints of one module, under one OpenAPI tag."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: Method,
        path: str,
        *,
        role: Role,
        response: type[BaseModel] | None,
        query: type[Params] = NoParams,
        body: type[Params] = NoBody,
        status: int = 200,
        media_type: str | tuple[str, ...] = "application/json",
    ) -> Callable[[Callable[[Call[Q, B]], Awaitable[Any]]], Callable[[Call[Q, B]], Awaitable[Any]]]:
        """Declare the decorated function as the endpoint `method path` (path relative to
        `/api/v1`, `{name}` for a path parameter, `{name:path}` for one that takes the
        rest of the path, slashes included: declare the paths going on after it first)."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")

        def register(
            handler: Callable[[Call[Q, B]], Awaitable[Any]],
        ) -> Callable[[Call[Q, B]], Awaitable[Any]]:
            self.endpoints.append(
                Endpoint(method, path, handler, role, query, body, response, status, self.tag, media_type)
            )
            return handler

        return register

    def get(
        self,
        path: str,
        *,
        response: type[BaseModel] | None,
        query: type[Params] = NoParams,
        role: Role = "viewer",
        media_type: str = "application/json",
    ) -> Callable[[Callable[[Call[Q, B]], Awaitable[Any]]], Callable[[Call[Q, B]], Awaitable[Any]]]:
        return self.route("GET", path, role=role, response=response, query=query, media_type=media_type)

    def post(
        self,
        path: str,
        *,
        response: type[BaseModel],
        body: type[Params] = NoBody,
        query: type[Params] = NoParams,
        role: Role = "admin",
        status: int = 200,
    ) -> Callable[[Callable[[Call[Q, B]], Awaitable[Any]]], Callable[[Call[Q, B]], Awaitable[Any]]]:
        return self.route("POST", path, role=role, response=response, query=query, body=body, status=status)


# -- the app ---------------------------------------------------------------------------------


class Api:
    """The admin API over one gateway: authentication, then the declared endpoints."""

    def __init__(
        self,
        gateway: Gateway,
        settings: AdminSettings,
        routes: Iterable[Routes],
        *,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.gateway = gateway
        self.authenticator = authenticator or Authenticator(settings.tokens)
        self.endpoints: list[Endpoint] = [e for r in routes for e in r.endpoints]
        own = Routes("meta")
        own.get("/openapi.json", response=None)(self._openapi_endpoint)
        own.get("/whoami", response=Identity)(_whoami)
        self.endpoints.extend(own.endpoints)
        by_path: dict[str, dict[str, Endpoint]] = {}
        for endpoint in self.endpoints:
            methods = by_path.setdefault(endpoint.path, {})
            if endpoint.method in methods:
                raise ValueError(f"two endpoints for {endpoint.method} {endpoint.path}")
            methods[endpoint.method] = endpoint
        self._router = Router(
            routes=[
                Route(path, self._dispatcher(methods), methods=_EVERY_METHOD)
                for path, methods in by_path.items()
            ],
            default=self._not_found,
        )
        self._openapi: dict[str, Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        headers = dict(scope["headers"])
        outcome = self.authenticator.authenticate(headers.get(b"authorization"), client)
        if not isinstance(outcome, Principal):
            await outcome(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = outcome
        await self._router(scope, receive, send)

    @staticmethod
    async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(404, "not_found", "no such endpoint")(scope, receive, send)

    def _dispatcher(self, methods: Mapping[str, Endpoint]) -> Callable[[Request], Awaitable[Response]]:
        async def dispatch(request: Request) -> Response:
            endpoint = methods.get(request.method) or (
                methods.get("GET") if request.method == "HEAD" else None
            )
            if endpoint is None:
                allow = ", ".join(sorted(methods))
                return error_response(405, "method_not_allowed", f"allowed: {allow}", {"Allow": allow})
            try:
                return await self._run(endpoint, request)
            except ApiError as exc:
                return exc.response()
            except StoreError as exc:
                log.error("store_unavailable", error=str(exc))
                return error_response(503, "store_unavailable", "the store is unavailable, retry later")
            except Exception as exc:  # a bug must not leak a traceback to the caller
                log.exception("internal_error", error=type(exc).__name__)
                return error_response(500, "internal", "internal error")

        return dispatch

    async def _run(self, endpoint: Endpoint, request: Request) -> Response:
        principal: Principal = request.state.principal
        if ROLES.index(principal.role) < ROLES.index(endpoint.role):
            raise ApiError(403, "forbidden", f"this needs the {endpoint.role} role")
        query = _validate(endpoint.query, _query_data(endpoint.query, request), "invalid_query")
        body: Params = NoBody()
        if endpoint.method not in ("GET", "HEAD"):
            body = _validate(endpoint.body, await _read_json(self.gateway.bodies, request), "invalid_body")
        call: Call[Any, Any] = Call(
            self.gateway, request, principal, query, body, {k: str(v) for k, v in request.path_params.items()}
        )
        result = await endpoint.handler(call)
        if isinstance(result, Response):
            return result
        if endpoint.response is None:
            media_type = (
                endpoint.media_type if isinstance(endpoint.media_type, str) else endpoint.media_type[0]
            )
            return Response(json.dumps(result), status_code=endpoint.status, media_type=media_type)
        document = endpoint.response.model_validate(result)
        return Response(
            document.model_dump_json(by_alias=True),
            status_code=endpoint.status,
            media_type="application/json",
        )

    # -- OpenAPI ----------------------------------------------------------------------------
    async def _openapi_endpoint(self, call: Call[NoParams, NoBody]) -> dict[str, Any]:
        """This API's OpenAPI 3.1 description."""
        return self.openapi()

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the declared endpoints."""
        if self._openapi is None:
            self._openapi = openapi_document(self.endpoints)
        return self._openapi


class Identity(Document):
    name: str
    role: Role


async def _whoami(call: Call[NoParams, NoBody]) -> dict[str, Any]:
    """The token's name and role (a console checks a token with it)."""
    return {"name": call.principal.name, "role": call.principal.role}


def _query_data(model: type[Params], request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in request.query_params:
        field = model.model_fields.get(key)
        many = field is not None and _is_list(field.annotation)
        data[key] = request.query_params.getlist(key) if many else request.query_params[key]
    return data


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (list, Sequence, tuple):
        return True
    return any(_is_list(a) for a in typing.get_args(annotation))


async def _read_json(bodies: BodyReader, request: Request) -> Any:
    """The body, read as the edge reads webhooks (`bodies`: its time limits and the budget
    shared by every body being read), at most `MAX_BODY_BYTES`, parsed as JSON."""
    try:
        raw = await bodies.read(request.scope, request.receive, MAX_BODY_BYTES)
    except BodyRefusedError as exc:
        if exc.status == 413:
            raise ApiError(413, "too_large", f"the body is larger than {MAX_BODY_BYTES} bytes") from None
        # The rest of a body cut short must not be read as the next request: close.
        raise ApiError(exc.status, exc.cause, exc.message, headers={"Connection": "close"}) from None
    except DisconnectedError:
        raise ApiError(400, "invalid_body", "the client went away before its body was read") from None
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "invalid_body", "the body is not JSON") from None


P = TypeVar("P", bound=Params)


def _validate(model: type[P], data: Any, code: str) -> P:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in err["loc"]) or "(body)"
            message = "unknown parameter" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{where}: {message}")
        raise ApiError(400, code, "; ".join(problems)) from None


# -- the OpenAPI document --------------------------------------------------------------------

_ERRORS = {
    400: "The query or the body is not valid.",
    401: "No token, or a wrong one.",
    403: "The token's role may not do this.",
    404: "Not found.",
    413: "The body is too large.",
    503: "The store is unavailable; retry later.",
    429: "Too many failed logins from this address; retry after `Retry-After` seconds.",
}
_REF = "#/components/schemas/{model}"


class _ErrorDetail(Document):
    code: str
    message: str


class Error(Document):
    error: _ErrorDetail


def openapi_document(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """OpenAPI 3.1 for `endpoints`: their query parameters, bodies and answers, from their
    models; every failure is an `Error`."""
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [(Error, "serialization")]
    for endpoint in endpoints:
        if endpoint.method != "GET" and endpoint.body is not NoBody:
            models.append((endpoint.body, "validation"))
        if endpoint.response is not None:
            models.append((endpoint.response, "serialization"))
    refs, schema = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)(?::\w+)?}", endpoint.path)
        ]
        query_schema = endpoint.query.model_json_schema(ref_template=_REF)
        for name, prop in query_schema.get("properties", {}).items():
            description = prop.pop("description", None)
            parameter = {
                "name": name,
                "in": "query",
                "required": name in query_schema.get("required", []),
                "schema": prop,
            }
            if description:
                parameter["description"] = description
            parameters.append(parameter)
        for name, found in query_schema.get("$defs", {}).items():
            schema.setdefault("$defs", {}).setdefault(name, found)
        if endpoint.response is None:
            types = (endpoint.media_type,) if isinstance(endpoint.media_type, str) else endpoint.media_type
            success: dict[str, Any] = {"description": "OK", "content": {t: {"schema": {}} for t in types}}
        else:
            ref = refs[(endpoint.response, "serialization")]
            success = {"description": "OK", "content": {"application/json": {"schema": ref}}}
        responses: dict[str, Any] = {str(endpoint.status): success}
        errors = (
            [401, 429, 400] + ([403] if endpoint.role != "viewer" else []) + ([404] if parameters else [])
        )
        for status in sorted(set(errors)):
            responses[str(status)] = {
                "description": _ERRORS[status],
                "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}},
            }
        operation: dict[str, Any] = {
            "operationId": endpoint.handler.__name__.strip("_"),
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "responses": responses,
            "x-hookgate-role": endpoint.role,
        }
        if endpoint.description:
            operation["description"] = endpoint.description
        if parameters:
            operation["parameters"] = parameters
        if endpoint.method != "GET" and endpoint.body is not NoBody:
            operation["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": refs[(endpoint.body, "validation")]}},
            }
        path = re.sub(r"{(\w+):\w+}", r"{\1}", endpoint.path)
        paths.setdefault(path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hookgate admin API",
            "version": version(),
            "description": "Every request needs `Authorization: Bearer TOKEN`; a `viewer` token "
            "may read, an `admin` token may also change (redrive, replay, send tests).",
        },
        "servers": [{"url": API_PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
