"""A local server answering AWS operations that moto cannot answer here, from botocore's own
service models (read with `botocore.loaders`): Lambda's `Invoke` (moto runs functions only in
a container engine; without one it accepts any invocation, even of a function that does not
exist, and records none), Step Functions' `StartSyncExecution` (not implemented by moto), and
the EventBridge schema registry's operations (moto has no `schemas` service at all).

Each operation is routed, read and answered as the model says (the JSON protocol by its
`X-Amz-Target`, REST-JSON by its method and `requestUri`, headers, query string, payload or
JSON body), so the real boto3 client talks to it unchanged. A request is checked against the
operation's input shape before its handler sees it (required members, no unknown ones,
types, enums, lengths): one that does not fit is answered with the model's validation error,
so a client sending a wrong shape fails as it would on AWS. A handler gets the request's
parameters and returns the output's, or raises `StubError(code)`, answered with the status
and shape the model gives that error (or one of AWS's common errors). Every request is
recorded with the service and Region of its SigV4 credential scope, which must name the
operation's service; `rejected` keeps the requests that did not fit, with why.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.loaders
import botocore.model

__all__ = ["AwsStub", "Call", "StubError", "serve_aws_stub", "service_model", "shape_problems"]

Handler = Callable[[dict[str, Any]], dict[str, Any]]
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


class StubError(Exception):
    """Answer with the model's error `code` (and its HTTP status)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.message = message or code


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    region: str
    params: dict[str, Any]


_LOADER = botocore.loaders.create_loader()


def service_model(service: str) -> botocore.model.ServiceModel:
    """botocore's model of `service`, as the installed botocore ships it."""
    return botocore.model.ServiceModel(_LOADER.load_service_model(service, "service-2"), service)


def shape_problems(shape: Any, value: Any, where: str = "") -> list[str]:
    """How `value` does not fit botocore's `shape` (none: it fits)."""
    kind = shape.type_name
    problems: list[str] = []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where or 'input'}: expected an object"]
        problems += [f"{where}{m}: missing" for m in shape.required_members if m not in value]
        problems += [f"{where}{k}: unknown member" for k in value if k not in shape.members]
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                problems += shape_problems(member, value[name], f"{where}{name}.")
        return problems
    label = where.rstrip(".") or "value"
    expected: dict[str, tuple[type, ...]] = {
        "string": (str,),
        "integer": (int,),
        "long": (int,),
        "boolean": (bool,),
        "double": (int, float),
        "float": (int, float),
        "blob": (bytes, str),
        "timestamp": (str, int, float),
        "list": (list,),
        "map": (dict,),
    }
    if kind in expected and not isinstance(value, expected[kind]):
        return [f"{label}: expected {kind}"]
    if kind in ("integer", "long") and isinstance(value, bool):
        return [f"{label}: expected {kind}"]
    if kind == "string":
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            problems.append(f"{label}: {value!r} is not one of {enum}")
    if kind in ("string", "list", "map", "blob"):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            problems.append(f"{label}: shorter than {low}")
        if high is not None and len(value) > high:
            problems.append(f"{label}: longer than {high}")
    if kind == "list":
        for i, item in enumerate(value):
            problems += shape_problems(shape.member, item, f"{where}{i}.")
    if kind == "map":
        for key, item in value.items():
            problems += shape_problems(shape.key, key, f"{where}{key}(key).")
            problems += shape_problems(shape.value, item, f"{where}{key}.")
    return problems


#: The errors a model may name for a request that does not fit, the first one it has wins.
_VALIDATION_ERRORS = (
    "BadRequestException",
    "ValidationException",
    "InvalidParameterValueException",
    "InvalidRequestContentException",
)


@dataclass
class _Operation:
    service: str
    signing_name: str
    protocol: str
    model: Any
    handler: Handler
    path: re.Pattern[str] | None = None


@dataclass
class AwsStub:
    """The operations served at `endpoint`; `calls` as they arrived."""

    endpoint: str = ""
    calls: list[Call] = field(default_factory=list)
    #: (operation, why) of each request that did not fit its input shape.
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)
    _json: dict[str, _Operation] = field(default_factory=dict)
    _rest: list[_Operation] = field(default_factory=list)

    def serve(self, service: str, operation: str, handler: Handler) -> None:
        model = service_model(service)
        op = model.operation_model(operation)
        served = _Operation(service, model.signing_name, model.protocol, op, handler)
        if model.protocol == "json":
            self._json[f"{model.metadata['targetPrefix']}.{operation}"] = served
        elif model.protocol == "rest-json":
            uri = urlsplit(op.http["requestUri"]).path
            served.path = re.compile("^" + re.sub(r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", uri) + "$")
            self._rest.append(served)
        else:
            raise ValueError(f"{service}: protocol {model.protocol} is not served")

    def route(
        self, method: str, path: str, headers: dict[str, str]
    ) -> tuple[_Operation, dict[str, Any]] | None:
        target = headers.get("x-amz-target")
        if target is not None:
            found = self._json.get(target)
            return (found, {}) if found is not None else None
        for op in self._rest:
            assert op.path is not None
            matched = op.path.match(path)
            if matched and op.model.http["method"] == method:
                return op, {k: unquote(v) for k, v in matched.groupdict().items()}
        return None


def _read(
    op: _Operation, labels: dict[str, Any], query: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    if op.protocol == "json":
        return json.loads(body or b"{}")  # type: ignore[no-any-return]
    shape = op.model.input_shape
    params: dict[str, Any] = {}
    queries = parse_qs(query)
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        key = member.serialization.get("name", name)
        if where == "uri" and key in labels:
            params[name] = labels[key]
        elif where == "header" and key.lower() in headers:
            params[name] = headers[key.lower()]
        elif where == "querystring" and key in queries:
            params[name] = queries[key][0]
    payload = shape.serialization.get("payload")
    if payload is not None:
        params[payload] = body
        return params
    located = {n for n, m in shape.members.items() if m.serialization.get("location")}
    names = {m.serialization.get("name", n): n for n, m in shape.members.items() if n not in located}
    document = json.loads(body) if body.strip() else {}
    if not isinstance(document, dict):
        raise ValueError("the body is not a JSON object")  # noqa: TRY004 - a bad request, read as one
    for key, value in document.items():
        params[names.get(key, key)] = value  # an unknown key stays, for the check to refuse
    return params


def _written(op: _Operation, output: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    if op.protocol == "json":
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(output, default=str).encode()
    shape = op.model.output_shape
    status, headers, body = int(op.model.http.get("responseCode", 200)), {}, b""
    for name, member in shape.members.items():
        if name not in output:
            continue
        where = member.serialization.get("location")
        if where == "statusCode":
            status = int(output[name])
        elif where == "header":
            headers[member.serialization["name"]] = str(output[name])
    payload = shape.serialization.get("payload")
    if payload is not None and payload in output:
        body = output[payload]
    elif payload is None:
        document = {
            member.serialization.get("name", name): output[name]
            for name, member in shape.members.items()
            if name in output and not member.serialization.get("location")
        }
        headers["Content-Type"] = "application/json"
        body = json.dumps(document, default=str).encode()
    return status, headers, body


#: Errors every operation may answer (AWS's common errors), which the models do not list.
_COMMON_ERRORS = {
    "AccessDeniedException": 400,
    "ThrottlingException": 400,
    "UnrecognizedClientException": 400,
    "ValidationException": 400,
}


def _error(op: _Operation, error: StubError) -> tuple[int, dict[str, str], bytes]:
    shapes = {shape.name: shape for shape in op.model.error_shapes}
    if error.code in _COMMON_ERRORS:
        status = _COMMON_ERRORS[error.code]
    elif error.code in shapes:
        status = shapes[error.code].metadata.get("error", {}).get("httpStatusCode", 400)
    else:
        status, error = 500, StubError("InternalFailure", f"{op.model.name} has no error {error.code}")
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    return status, {"Content-Type": "application/json", "X-Amzn-ErrorType": error.code}, body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: AwsStub


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        url = urlsplit(self.path)
        routed = self.server.stub.route(self.command, url.path, headers)
        scope = _SCOPE.search(headers.get("authorization", ""))
        if routed is None or scope is None or scope.group(2) != routed[0].signing_name:
            self._answer(404 if routed is None else 403, {}, b'{"message": "not served or not signed"}')
            return
        op, labels = routed
        region = scope.group(1)
        try:
            params = _read(op, labels, url.query, headers, body)
        except ValueError as exc:
            problems = [f"body: {exc}"]
        else:
            problems = shape_problems(op.model.input_shape, params)
        if problems:
            self.server.stub.rejected.append((op.model.name, problems))
            names = {shape.name for shape in op.model.error_shapes}
            code = next((c for c in _VALIDATION_ERRORS if c in names), "ValidationException")
            self._answer(*_error(op, StubError(code, "; ".join(problems))))
            return
        self.server.stub.calls.append(Call(op.service, op.model.name, region, params))
        try:
            self._answer(*_written(op, op.handler(params)))
        except StubError as error:
            self._answer(*_error(op, error))

    do_GET = do_PUT = do_DELETE = do_POST  # noqa: N815 - the names http.server calls

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextmanager
def serve_aws_stub() -> Iterator[AwsStub]:
    """A stub on a free local port for the duration of the block; `serve` what it answers."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.stub = AwsStub()
    host, port = server.server_address[:2]
    server.stub.endpoint = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
