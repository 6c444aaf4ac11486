"""AWS for the tests that talk to it: a moto server on this machine, an environment in
which boto3 finds fake credentials and nothing of the user's own AWS setup, and Lambda
invocations (the recorded events of tests/fixtures/aws_lambda carrying a delivery).

moto keeps its accounts per process, not per server: `moto_server` empties them when it
starts, and `LocalAws.reset` empties them again where tests share one server. What each test
module builds on the account (a bus, queues, a table) stays in that module.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from connectors import WebhookRequest
from gateway.aws_lambda import LambdaHandler

__all__ = [
    "REGION",
    "Context",
    "LocalAws",
    "aws_event",
    "invoke",
    "moto_server",
    "offline_env",
    "use_offline_env",
]

REGION = "us-east-1"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass
class LocalAws:
    """The moto server at `endpoint`, with boto3 clients for it (one per service)."""

    endpoint: str
    region: str = REGION
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, endpoint_url=self.endpoint, region_name=self.region
            )
        return self._clients[service]

    def reset(self) -> None:
        """Every account back to empty."""
        httpx.post(f"{self.endpoint}/moto-api/reset").raise_for_status()


def offline_env(home: Path, region: str = REGION) -> dict[str, str]:
    """Fake credentials and `region`; the config and credentials files under `home`, where
    none need exist; no instance metadata: boto3 never reaches beyond this machine for them."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def use_offline_env(
    patch: pytest.MonkeyPatch, home: Path, *, region: str = REGION, endpoint: str | None = None
) -> None:
    """`offline_env` in the environment, without `AWS_PROFILE`, for this process and those it
    starts. With `endpoint`, every boto3 client not given one goes there (`AWS_ENDPOINT_URL`)."""
    env = offline_env(home, region)
    if endpoint is not None:
        env["AWS_ENDPOINT_URL"] = endpoint
    for name, value in env.items():
        patch.setenv(name, value)
    patch.delenv("AWS_PROFILE", raising=False)


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free local port, its accounts empty; its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        LocalAws(endpoint).reset()
        yield endpoint
    finally:
        server.stop()


@dataclass
class Context:
    """The parts of a Lambda context the handler reads."""

    remaining_ms: int = 10_000
    function_name: str = "hookgate"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _set_header(headers: dict[str, Any], name: str, value: Any) -> None:
    for key in [k for k in headers if k.lower() == name.lower()]:
        del headers[key]
    headers[name] = value


def aws_event(
    kind: str, source: str, request: WebhookRequest, *, encode: bool = False, method: str = "POST"
) -> dict[str, Any]:
    """The recorded `kind` of event, carrying `request` to `/webhooks/{source}`."""
    event: dict[str, Any] = json.loads((FIXTURES / "aws_lambda" / f"{kind}.json").read_text())
    path = f"/webhooks/{source}"
    body = base64.b64encode(request.body).decode() if encode else request.body.decode()
    event.update(body=body, isBase64Encoded=encode)
    if "pathParameters" in event:
        event["pathParameters"] = {"source": source}
    context = event["requestContext"]
    headers = dict(request.headers.items())
    if event.get("version") == "2.0":
        event["rawPath"] = context["http"]["path"] = path
        context["http"]["method"] = method
        targets = [event["headers"]]
    else:
        event["path"] = path
        event["httpMethod"] = context["httpMethod"] = method
        context["path"] = path if context["stage"] == "$default" else f"/{context['stage']}{path}"
        targets = [event["headers"], event["multiValueHeaders"]]
        if "Content-Length" in event["headers"]:
            headers["Content-Length"] = str(len(request.body))
    if "content-length" in event["headers"]:
        headers["content-length"] = str(len(request.body))
    for target in targets:
        for name, value in headers.items():
            _set_header(target, name, value if target is event["headers"] else [value])
    return event


def invoke(handler: LambdaHandler, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handler(event, Context())
    body = base64.b64decode(response["body"]) if response.get("isBase64Encoded") else response["body"]
    return response["statusCode"], json.loads(body)
