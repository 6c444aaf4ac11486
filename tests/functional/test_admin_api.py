"""The admin API in-process: auth matrix, role checks, the JSON error shape, the rate
limit on failed logins, and openapi.json validated as OpenAPI 3.1."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from pydantic import Field
from structlog.testing import capture_logs

from gateway.admin.api import Api, Call, Document, NoBody, NoParams, Params, Routes
from gateway.admin.auth import FAILURE_BURST, FailureLimiter
from gateway.admin.config import AdminSettings
from gateway.app import create_app
from gateway.config import Settings, parse_settings
from gateway.sinks import MemorySink
from tests.unit._fakes import FakeClock

pytestmark = pytest.mark.anyio

ADMIN = "admin-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"

routes = Routes("test")


class EchoQuery(Params):
    word: str = "hello"
    times: int = Field(1, ge=1, le=5)
    tag: list[str] = Field(default_factory=list)


class EchoBody(Params):
    words: list[str]


class Echo(Document):
    said: str
    tags: list[str]


@routes.get("/echo", query=EchoQuery, response=Echo)
async def echo(call: Call[EchoQuery, NoBody]) -> dict[str, Any]:
    """Say a word."""
    return {"said": " ".join([call.query.word] * call.query.times), "tags": call.query.tag}


@routes.post("/echo/{name}", body=EchoBody, response=Echo)
async def shout(call: Call[NoParams, EchoBody]) -> dict[str, Any]:
    """Say words, and audit it."""
    call.audit("echo.shout", len(call.body.words), name=call.params["name"])
    return {"said": " ".join(call.body.words).upper(), "tags": [call.params["name"]]}


@routes.get("/broken", response=Echo)
async def broken(call: Call[NoParams, NoBody]) -> dict[str, Any]:
    """Fail."""
    raise RuntimeError("a bug")


def admin_settings(**extra: Any) -> dict[str, Any]:
    return {
        "tokens": [{"name": "ops", "token": ADMIN, "role": "admin"}, {"name": "support", "token": VIEWER}],
        **extra,
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return parse_settings(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'hookgate.db'}"},
            "sources": {"stripe": {"connector": "stripe", "secrets": ["whsec_0123456789"]}},
            "sinks": {"mem": {"type": "memory"}},
            "admin": admin_settings(),
        },
        env={},
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, sinks={"mem": MemorySink("mem")}, dispatch=False)
    api = Api(app.gateway, settings.admin, [routes])
    await app.gateway.start(dispatch=False)
    try:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
            yield client
    finally:
        await app.gateway.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_viewer_reads_and_query_parameters_are_validated(client: httpx.AsyncClient) -> None:
    answer = await client.get("/echo?word=hi&times=3&tag=a&tag=b", headers=bearer(VIEWER))
    assert answer.status_code == 200
    assert answer.json() == {"said": "hi hi hi", "tags": ["a", "b"]}
    answer = await client.get("/echo?times=9", headers=bearer(VIEWER))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_query"
    assert "times" in answer.json()["error"]["message"]
    answer = await client.get("/echo?wrod=hi", headers=bearer(VIEWER))
    assert answer.json() == {"error": {"code": "invalid_query", "message": "wrod: unknown parameter"}}


async def test_without_or_with_a_wrong_token_401_and_the_token_is_never_logged(
    client: httpx.AsyncClient,
) -> None:
    wrong = "not-the-token-but-a-guess-0123"
    with capture_logs() as logs:
        for headers in ({}, bearer(wrong), {"Authorization": f"Basic {ADMIN}"}, bearer(ADMIN[:-1])):
            answer = await client.get("/echo", headers=headers)
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert answer.json()["error"]["code"] == "unauthorized"
        unknown = await client.get("/nowhere")
        assert unknown.status_code == 401  # an unknown path tells a stranger nothing either
    failures = [entry for entry in logs if entry["event"] == "admin_login_failed"]
    assert [f["reason"] for f in failures] == ["missing", "invalid", "malformed", "invalid", "missing"]
    assert wrong not in repr(logs)
    assert ADMIN[:-1] not in repr(logs)


async def test_a_viewer_may_not_write_an_admin_may_and_is_audited(client: httpx.AsyncClient) -> None:
    body = {"words": ["a", "b"]}
    answer = await client.post("/echo/x", json=body, headers=bearer(VIEWER))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    with capture_logs() as logs:
        answer = await client.post("/echo/x", json=body, headers=bearer(ADMIN))
    assert answer.status_code == 200
    assert answer.json() == {"said": "A B", "tags": ["x"]}
    audits = [entry for entry in logs if entry["event"] == "audit"]
    assert audits == [
        {"event": "audit", "log_level": "info", "who": "ops", "action": "echo.shout", "count": 2, "name": "x"}
    ]
    assert ADMIN not in repr(logs)


async def test_errors_share_one_shape(client: httpx.AsyncClient) -> None:
    admin = bearer(ADMIN)
    cases = [
        (await client.get("/nowhere", headers=admin), 404, "not_found"),
        (await client.delete("/echo", headers=admin), 405, "method_not_allowed"),
        (await client.post("/echo/x", content=b"{not json", headers=admin), 400, "invalid_body"),
        (await client.post("/echo/x", json={"words": "x", "more": 1}, headers=admin), 400, "invalid_body"),
        (await client.post("/echo/x", content=b"x" * 1_100_000, headers=admin), 413, "too_large"),
    ]
    for answer, status, code in cases:
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["code"] == code
        assert set(answer.json()["error"]) == {"code", "message"}
    assert cases[1][0].headers["allow"] == "GET"
    with capture_logs():
        answer = await client.get("/broken", headers=admin)
    assert answer.status_code == 500
    assert answer.json() == {"error": {"code": "internal", "message": "internal error"}}
    assert "Traceback" not in answer.text


async def test_failed_logins_are_limited_per_address(settings: Settings) -> None:
    clock = FakeClock(1000.0)
    app = create_app(settings, sinks={"mem": MemorySink("mem")}, dispatch=False)
    api = Api(app.gateway, settings.admin, [routes])
    api.authenticator.limiter = FailureLimiter(clock=clock)
    transport = httpx.ASGITransport(app=api, client=("203.0.113.7", 5000))
    other = httpx.ASGITransport(app=api, client=("203.0.113.8", 5000))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://admin") as client,
        httpx.AsyncClient(transport=other, base_url="http://admin") as neighbour,
    ):
        for _ in range(FAILURE_BURST):
            assert (await client.get("/echo", headers=bearer("wrong-token-xxxxxxxxxxxx"))).status_code == 401
        with capture_logs() as logs:
            limited = await client.get("/echo", headers=bearer(ADMIN))
        assert limited.status_code == 429  # even the right token: the limit is no oracle
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) == 6
        assert logs[0]["event"] == "admin_login_limited"
        assert logs[0]["client"] == "203.0.113.7"
        assert (await neighbour.get("/echo", headers=bearer(ADMIN))).status_code == 200
        clock.advance(6.0)
        assert (await client.get("/echo", headers=bearer(ADMIN))).status_code == 200


async def test_openapi_is_valid_31_and_describes_the_routes(client: httpx.AsyncClient) -> None:
    answer = await client.get("/openapi.json", headers=bearer(VIEWER))
    assert answer.status_code == 200
    document = answer.json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    get = document["paths"]["/echo"]["get"]
    assert get["summary"] == "Say a word."
    assert {p["name"] for p in get["parameters"]} == {"word", "times", "tag"}
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Echo"
    }
    post = document["paths"]["/echo/{name}"]["post"]
    assert post["x-hookgate-role"] == "admin"
    assert "403" in post["responses"]
    assert {p["name"]: p["in"] for p in post["parameters"]} == {"name": "path"}
    assert "EchoBody" in document["components"]["schemas"]
    whoami = await client.get("/whoami", headers=bearer(VIEWER))
    assert whoami.json() == {"name": "support", "role": "viewer"}


async def test_mounted_on_the_webhook_port_only_with_tokens(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings, sinks={"mem": MemorySink("mem")}, dispatch=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        assert (await client.get("/api/v1/whoami", headers=bearer(ADMIN))).json()["name"] == "ops"
        assert (await client.get("/api/v1/whoami")).status_code == 401
    off = dataclasses.replace(settings, admin=AdminSettings())
    app = create_app(off, sinks={"mem": MemorySink("mem")}, dispatch=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        for path in ("/api/v1/whoami", "/api/v1/openapi.json", "/api/", "/console/"):
            assert (await client.get(path, headers=bearer(ADMIN))).status_code == 404
    apart = dataclasses.replace(settings, admin=settings.admin.model_copy(update={"port": 0}))
    app = create_app(apart, sinks={"mem": MemorySink("mem")}, dispatch=False)
    assert app.admin_app is not None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        assert (await client.get("/api/v1/whoami", headers=bearer(ADMIN))).status_code == 404
    transport = httpx.ASGITransport(app=app.admin_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        assert (await client.get("/api/v1/whoami", headers=bearer(ADMIN))).status_code == 200
