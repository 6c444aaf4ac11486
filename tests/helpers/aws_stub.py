"""A local server answering AWS operations that moto cannot answer here, from botocore's own
service models: Lambda's `Invoke` (moto runs functions only in a container engine; without
one it accepts any invocation, even of a function that does not exist, and records none) and
Step Functions' `StartSyncExecution` (not implemented by moto).

Each operation is routed, read and answered as the model says (the JSON protocol by its
`X-Amz-Target`, REST-JSON by its `requestUri`, headers, query string and payload), so the
real boto3 client talks to it unchanged; a handler gets the request's parameters and returns
the output's, or raises `StubError(code)`, answered with the status and shape the model gives
that error (or one of AWS's common errors). Every request is recorded with the service and
Region of its SigV4 credential scope, which must name the operation's service.
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

import botocore.session

__all__ = ["AwsStub", "Call", "StubError", "serve_aws_stub"]

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
    _json: dict[str, _Operation] = field(default_factory=dict)
    _rest: list[_Operation] = field(default_factory=list)

    def serve(self, service: str, operation: str, handler: Handler) -> None:
        model = botocore.session.get_session().get_service_model(service)
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
    return status, headers, body


#: Errors every operation may answer (AWS's common errors), which the models do not list.
_COMMON_ERRORS = {
    "AccessDeniedException": 400,
    "ThrottlingException": 400,
    "UnrecognizedClientException": 400,
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
        params = _read(op, labels, url.query, headers, body)
        self.server.stub.calls.append(Call(op.service, op.model.name, region, params))
        try:
            self._answer(*_written(op, op.handler(params)))
        except StubError as error:
            self._answer(*_error(op, error))

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
