"""The API's HTTP side: pure ASGI for `POST PATH` (EventBridge's JSON 1.1 protocol).

    read the body (413 past four times the largest `max_request_bytes`) → SigV4 against the
    access keys of the buses served at PATH → `X-Amz-Target: AWSEvents.OPERATION` and the
    content type → the operation → `{"__type", "message"}` on error, with its status

`PutEvents` stores the accepted entries (`gateway.http.store_events`: one durable commit
per bus, routed by that bus's rules, handed to the dispatcher) before it answers; an
entry whose commit failed is answered `InternalFailure`, which EventBridge's clients
retry. One log line per request (operation, access key id, entries, failures, cause);
never a secret or a body. Each request and each `PutEvents` entry is counted by outcome
(`_metrics`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from starlette.types import Receive, Scope, Send

from gateway.connections import BodyRefusedError, DisconnectedError
from gateway.errors import StoreError
from gateway.http import _begin_request, _end_request, store_events
from gateway.router.eventbridge_api._errors import ApiError
from gateway.router.eventbridge_api._metrics import ApiMetrics, operation_label
from gateway.router.eventbridge_api._put_events import Accepted, BusView, Refused, plan_put_events
from gateway.router.eventbridge_api._read import READ_OPERATIONS
from gateway.router.eventbridge_api._read import Scope as ReadScope
from gateway.router.eventbridge_api._sigv4 import SignedRequest, verify
from gateway.router.rules import BusSettings

if TYPE_CHECKING:
    from gateway.app import Gateway

__all__ = ["CONTENT_TYPE", "TARGET_PREFIX", "EventBridgeApi", "api_endpoints"]

log = structlog.get_logger()

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "AWSEvents."
_OPERATIONS = frozenset({"PutEvents", *READ_OPERATIONS})
#: The codes of a body the edge's limits refused (its connection is closed: not read to its end).
_REFUSED_CODES = {
    408: "RequestTimeoutException",
    413: "RequestEntityTooLargeException",
    503: "ServiceUnavailableException",
}


def api_endpoints(gateway: Gateway) -> dict[str, EventBridgeApi]:
    """One endpoint per API path of the gateway's buses (none when no bus has `api`)."""
    by_path: dict[str, dict[str, BusSettings]] = {}
    for name, bus in gateway.settings.buses.items():
        if bus.api is not None:
            by_path.setdefault(bus.api.path, {})[name] = bus
    return {path: EventBridgeApi(gateway, path, buses) for path, buses in by_path.items()}


class EventBridgeApi:
    """The EventBridge API of the buses served at one path; see the module docstring."""

    def __init__(self, gateway: Gateway, path: str, buses: Mapping[str, BusSettings]) -> None:
        self.gateway, self.path, self.buses = gateway, path, dict(buses)
        self._secrets: dict[str, str] = {}
        self._key_buses: dict[str, set[str]] = {}
        self.default: str | None = None
        for name, bus in self.buses.items():
            api = bus.api
            assert api is not None
            if api.default or name == "default":
                self.default = name
            for credential in api.credentials:
                self._secrets[credential.access_key_id] = credential.secret_access_key.get_secret_value()
                self._key_buses.setdefault(credential.access_key_id, set()).add(name)
        regions = {bus.api.region for bus in self.buses.values() if bus.api is not None}
        #: The Region every request must be signed for, when all buses here name the same one.
        self.region = regions.pop() if len(regions) == 1 else None
        self.read_limit = 4 * max(b.api.max_request_bytes for b in self.buses.values() if b.api) + 65_536
        self.metrics = ApiMetrics.of(gateway.metrics.registry)

    def views(self, key_id: str, signed_region: str) -> dict[str, BusView]:
        """How a request signed by `key_id` for `signed_region` sees each bus."""
        views = {}
        for name, bus in self.buses.items():
            api = bus.api
            assert api is not None
            region = api.region or signed_region
            allowed = name in self._key_buses.get(key_id, ()) and region == signed_region
            views[name] = BusView(api.account, region, allowed, api.max_request_bytes)
        return views

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, request_id = _begin_request()
        fields: dict[str, Any] = {"api": "eventbridge"}
        status, body, outcome = 200, b"", "success"
        try:
            status, body = await self._handle(scope, receive, fields)
        except DisconnectedError:
            fields["cause"] = "client_disconnected"
            self._count(scope, "client_disconnected")
            _end_request(scope, 499, started, fields)
            return
        except ApiError as exc:
            fields["cause"] = outcome = exc.code
            status, body = exc.status, exc.body()
        except Exception as exc:  # a bug must not leak a traceback to the caller
            log.exception("internal_error", error=type(exc).__name__)
            error = ApiError("InternalException", "An internal error occurred.", 500)
            status, body, outcome = error.status, error.body(), error.code
        self._count(scope, outcome)
        headers = [
            (b"content-type", CONTENT_TYPE.encode()),
            (b"content-length", b"%d" % len(body)),
            (b"x-amzn-requestid", request_id.encode()),
            (b"x-request-id", request_id.encode()),
        ]
        if status >= 400 and "cause" in fields:
            headers.append((b"x-amzn-errortype", str(fields["cause"]).encode()))
            if _REFUSED_CODES.get(status) == fields["cause"]:
                headers.append((b"connection", b"close"))
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            level = "warning" if fields.get("cause") in _AUTH_ERRORS else "info"
            _end_request(scope, status, started, fields, level)

    def _count(self, scope: Scope, outcome: str) -> None:
        target = next((v for k, v in scope["headers"] if k.lower() == b"x-amz-target"), b"")
        operation = operation_label(target.decode("latin-1"), TARGET_PREFIX, _OPERATIONS)
        self.metrics.requests.labels(operation, outcome).inc()

    async def _handle(self, scope: Scope, receive: Receive, fields: dict[str, Any]) -> tuple[int, bytes]:
        try:
            raw = await self.gateway.bodies.read(scope, receive, self.read_limit)
        except BodyRefusedError as refused:  # the edge's limits (`gateway.connections`)
            raise ApiError(_REFUSED_CODES[refused.status], refused.message, refused.status) from None
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        request = SignedRequest(
            scope["method"], path, scope.get("query_string", b"").decode("latin-1"), headers, raw
        )
        now = self.gateway.clock()
        key_id, signed_region = verify(request, self._secrets, now, region=self.region)
        fields["access_key_id"] = key_id
        target = request.header("x-amz-target") or ""
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        fields["operation"] = operation or target[:64]
        if operation not in _OPERATIONS:
            raise ApiError("UnknownOperationException", "")
        content_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
        if content_type != CONTENT_TYPE:
            raise ApiError("UnknownOperationException", f"Unsupported content type: {content_type[:64]}")
        try:
            payload = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            raise ApiError("SerializationException", "The request body is not valid JSON.") from None
        if not isinstance(payload, dict):
            raise ApiError("SerializationException", "The request body must be a JSON object.")
        views = self.views(key_id, signed_region)
        if operation == "PutEvents":
            answer = await self._put_events(payload, views, now, fields)
        else:
            answer = READ_OPERATIONS[operation](ReadScope(self.buses, views, self.default), payload)
        return 200, orjson.dumps(answer)

    async def _put_events(
        self, payload: dict[str, Any], views: Mapping[str, BusView], now: float, fields: dict[str, Any]
    ) -> dict[str, Any]:
        plans = plan_put_events(payload, buses=views, default=self.default, now=now)
        by_bus: dict[str, list[Accepted]] = {}
        for plan in plans:
            if isinstance(plan, Accepted):
                by_bus.setdefault(plan.bus, []).append(plan)
        failed_buses: set[str] = set()
        for bus, accepted in by_bus.items():
            try:
                await store_events(self.gateway, [a.event for a in accepted], (bus,))
            except StoreError as exc:
                log.error("store_unavailable", error=str(exc))
                failed_buses.add(bus)
        entries: list[dict[str, str]] = []
        for plan in plans:
            if isinstance(plan, Refused):
                entries.append({"ErrorCode": plan.code, "ErrorMessage": plan.message})
            elif plan.bus in failed_buses:
                entries.append(
                    {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal failure; retry the entry."}
                )
            else:
                entries.append({"EventId": plan.event.id})
        failed = sum(1 for e in entries if "ErrorCode" in e)
        for entry in entries:
            self.metrics.entries.labels(entry.get("ErrorCode", "accepted")).inc()
        fields.update(
            entries=len(entries), failed=failed, event_ids=[e["EventId"] for e in entries if "EventId" in e]
        )
        return {"FailedEntryCount": failed, "Entries": entries}


_AUTH_ERRORS = frozenset(
    {
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
    }
)
