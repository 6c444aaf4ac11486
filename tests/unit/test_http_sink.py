"""The `http` sink against a real local HTTP server: what it sends (the stored entry,
signed the Standard Webhooks way, checked with the official `standardwebhooks` package),
the outcomes it reports, its configuration, and its deliveries through the dispatcher and
a real SQLite store (retried, backed off per `Retry-After`, dead-lettered)."""

from __future__ import annotations

import base64
import json
import random
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from standardwebhooks.webhooks import Webhook
from structlog.testing import capture_logs

from gateway.app import build_sinks, create_app
from gateway.cli import main
from gateway.config import DispatcherSettings, StoreSettings, parse_settings
from gateway.dispatcher import Dispatcher
from gateway.errors import ConfigError
from gateway.events import Event
from gateway.observability import Metrics
from gateway.router.targets import target_types
from gateway.sinks import Delivered, Permanent, Retry, sink_type
from gateway.sinks.http import HttpDestination, HttpSink, HttpSinkOptions
from gateway.store import DeliveryRecord, RetryPolicy, Store, open_store
from tests.helpers.http_server import HttpServer, url_of

from ._fakes import FakeClock, make_event

pytestmark = pytest.mark.anyio

SECRET = "whsec_" + base64.b64encode(b"a signing key of 32 bytes, fixed").decode()


def event(payload: dict[str, Any] | None = None, *, at: float = 1_700_000_000.0) -> Event:
    """A stored event whose provider payload is `payload` (`respond` scripts the server)."""
    made = make_event(at=at)
    entry = json.loads(made.entry)
    entry["detail"]["payload"] = payload or {}
    return replace(made, entry=json.dumps(entry))


def configured(table: dict[str, Any], env: dict[str, str] | None = None) -> HttpSink:
    """The sink `[sinks.app]` of a configuration, built as `serve` builds it."""
    settings = parse_settings({"sinks": {"app": {"type": "http", **table}}}, env=env or {})
    sink = build_sinks(settings)["app"]
    assert isinstance(sink, HttpSink)
    return sink


@pytest.fixture
async def opened() -> AsyncIterator[list[HttpSink]]:
    """Sinks a test appends are closed after it."""
    sinks: list[HttpSink] = []
    yield sinks
    for sink in sinks:
        await sink.close()


def test_the_type_is_registered_and_shares_the_targets_keys() -> None:
    assert sink_type("http") is HttpSink
    assert issubclass(HttpSinkOptions, HttpDestination)
    assert set(HttpSinkOptions.model_fields) == set(target_types()["http"].Options.model_fields)


async def test_sends_the_entry_signed_with_its_headers_query_and_key(
    http_server: HttpServer, opened: list[HttpSink]
) -> None:
    sink = configured(
        {
            "url": url_of(http_server, "/hooks?fixed=1"),
            "query": {"tenant": "acme"},
            "headers": {"X-Team": "billing"},
            "auth": {"type": "api_key", "header": "X-Api-Key", "value": "env:APP_KEY"},
            "signing_secret": "env:APP_SIGNING_SECRET",
        },
        env={"APP_KEY": "k-123", "APP_SIGNING_SECRET": SECRET},
    )
    opened.append(sink)
    events = [event({"id": "evt_1"}), event({"id": "evt_2"})]
    assert await sink.deliver(events) == [Delivered(), Delivered()]
    got = sorted(http_server.received, key=lambda r: r.headers["webhook-id"])
    for sent, received in zip(sorted(events, key=lambda e: e.id), got, strict=True):
        assert received.method == "POST"
        assert received.path == "/hooks?fixed=1&tenant=acme"
        assert received.body == sent.entry.encode()  # the stored entry, byte for byte
        assert received.headers["content-type"] == "application/json; charset=utf-8"
        assert received.headers["user-agent"].startswith("hookgate/")
        assert received.headers["x-team"] == "billing"
        assert received.headers["x-api-key"] == "k-123"
        assert received.headers["webhook-id"] == sent.id
        assert Webhook(SECRET).verify(received.body, received.headers) == json.loads(sent.entry)


async def test_basic_auth_and_unsigned_requests(http_server: HttpServer, opened: list[HttpSink]) -> None:
    sink = configured(
        {
            "url": url_of(http_server),
            "method": "PUT",
            "auth": {"type": "basic", "username": "u", "password": "p"},
        }
    )
    opened.append(sink)
    assert await sink.deliver([event()]) == [Delivered()]
    [got] = http_server.received
    assert got.method == "PUT"
    assert got.headers["authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert "webhook-signature" not in got.headers


async def test_outcomes_follow_the_http_target(http_server: HttpServer, opened: list[HttpSink]) -> None:
    sink = configured({"url": url_of(http_server)})
    opened.append(sink)
    scripts: list[dict[str, Any]] = [
        {"status": 200},
        {"status": 429, "headers": {"Retry-After": "7"}},
        {"status": 503},
        {"status": 500, "headers": {"Retry-After": "-1"}},
        {"status": 400},
        {"status": 410},
        {"status": 302, "headers": {"Location": "/elsewhere"}},
    ]
    outcomes = await sink.deliver([event({"respond": s}) for s in scripts])
    assert outcomes == [
        Delivered(),
        Retry("http_429", retry_after=7.0),
        Retry("http_503"),
        Permanent("http_500: negative Retry-After"),
        Permanent("http_400"),
        Permanent("http_410"),
        Permanent("http_302"),
    ]


async def test_timeouts_and_refused_connections_are_retried(
    http_server: HttpServer, opened: list[HttpSink]
) -> None:
    slow = configured({"url": url_of(http_server), "timeout_seconds": 0.2})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    refused = configured({"url": f"http://127.0.0.1:{closed_port}/"})
    opened.extend([slow, refused])
    [timed_out] = await slow.deliver([event({"respond": {"sleep": 0.6}})])
    assert isinstance(timed_out, Retry)
    assert timed_out.cause.startswith("timeout: ")
    assert await refused.deliver([event()]) == [Retry("connection_error: ConnectError")]


async def test_a_batch_is_one_round_of_concurrent_requests(
    http_server: HttpServer, opened: list[HttpSink]
) -> None:
    sink = configured({"url": url_of(http_server), "concurrency": 4})
    opened.append(sink)
    assert sink.max_batch == 4
    started = time.monotonic()
    outcomes = await sink.deliver([event({"respond": {"sleep": 0.5}}) for _ in range(4)])
    assert outcomes == [Delivered()] * 4
    assert time.monotonic() - started < 1.5  # together, not one after another (2 s)


async def test_rate_limit_spaces_requests(http_server: HttpServer, opened: list[HttpSink]) -> None:
    sink = configured({"url": url_of(http_server), "rate_limit_per_second": 25})
    opened.append(sink)
    assert await sink.deliver([event() for _ in range(5)]) == [Delivered()] * 5
    times = sorted(r.at for r in http_server.received)
    assert times[-1] - times[0] >= 0.12, times  # slots 40 ms apart


async def test_never_logs_bodies_or_secrets(http_server: HttpServer, opened: list[HttpSink]) -> None:
    sink = configured(
        {
            "url": f"{url_of(http_server)}?token=q-secret",
            "auth": {"type": "api_key", "header": "Authorization", "value": "Bearer b-secret"},
            "signing_secret": SECRET,
        }
    )
    opened.append(sink)
    with capture_logs() as logs:
        await sink.deliver([event({"respond": {"status": 500}, "card": "4242"})])
    text = repr(logs)
    for secret in ("q-secret", "b-secret", SECRET, "4242"):
        assert secret not in text


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ({}, "sinks.app.url", "Field required"),
        ({"url": "ftp://example.com/"}, "sinks.app.url", "http:// or https://"),
        ({"url": "http://x/", "method": "TRACE"}, "sinks.app.method", "'POST'"),
        ({"url": "http://x/", "headers": {"Bad Name": "v"}}, "sinks.app.headers", "not a valid header name"),
        ({"url": "http://x/", "timeout_seconds": 0}, "sinks.app.timeout_seconds", "greater than 0"),
        ({"url": "http://x/", "signing_secret": "whpk_" + "A" * 43}, "sinks.app.signing_secret", "whsec_"),
        ({"url": "http://x/", "auth": {"type": "oauth"}}, "sinks.app.auth.type", "'basic', 'api_key'"),
        (
            {"url": "http://x/", "auth": {"type": "basic", "username": "u"}},
            "sinks.app.auth.password",
            "required",
        ),
        (
            {"url": "http://x/", "auth": {"type": "basic", "username": "u", "password": "env:MISSING"}},
            "sinks.app.auth.password",
            "MISSING",
        ),
        (
            {"url": "http://x/", "auth": {"type": "api_key", "value": "v"}},
            "sinks.app.auth.header",
            "required",
        ),
        ({"url": "http://x/", "retries": 3}, "sinks.app.retries", "unknown key"),
    ],
)
def test_configuration_errors_name_the_key(table: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"sinks": {"app": {"type": "http", **table}}}, env={})
    assert caught.value.key == key
    assert message in str(caught.value)


def test_secrets_may_be_references_and_stay_secret(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("hunter2\n")
    sink = configured(
        {
            "url": "https://app.example.com/hooks",
            "auth": {"type": "basic", "username": "u", "password": f"file:{tmp_path / 'password'}"},
            "signing_secret": "env:APP_SIGNING_SECRET",
        },
        env={"APP_SIGNING_SECRET": SECRET},
    )
    options = sink.options
    assert isinstance(options, HttpSinkOptions)
    assert options.signing_secret is not None
    assert options.signing_secret.get_secret_value() == SECRET
    assert options.auth is not None
    assert options.auth.type == "basic"
    assert "hunter2" not in repr(options)
    assert SECRET not in repr(options)


def test_check_config_shows_the_sink(tmp_path: Path) -> None:
    config = tmp_path / "hookgate.toml"
    config.write_text(
        '[sources.stripe]\nconnector = "stripe"\nsecrets = ["whsec_x"]\n\n'
        '[sinks.app]\ntype = "http"\nurl = "https://app.example.com/hooks"\n'
    )
    checked = CliRunner().invoke(main, ["check-config", "--config", str(config)])
    assert checked.exit_code == 0, checked.output
    assert "source stripe: connector stripe → sinks app" in checked.output
    assert "sink app: http" in checked.output
    config.write_text(
        '[sinks.app]\ntype = "http"\nurl = "https://app.example.com/hooks"\nauth = {type = "basic"}\n'
    )
    bad = CliRunner().invoke(main, ["check-config", "--config", str(config)])
    assert bad.exit_code != 0
    assert "sinks.app.auth.username" in bad.output


# -- through the dispatcher and a real store ----------------------------------------------------

POLICY = DispatcherSettings(
    max_attempts=3,
    base_delay_seconds=1.0,
    max_delay_seconds=60.0,
    poll_interval_seconds=3600.0,
    lease_seconds=60.0,
)


@pytest.fixture
async def store(sqlite_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    store = open_store(StoreSettings(url=sqlite_url), POLICY, clock)
    store.rng = random.Random(7)  # noqa: S311 - retry jitter, not cryptography
    await store.open()
    yield store
    await store.close()


async def test_dispatched_events_are_delivered_retried_and_dead_lettered(
    http_server: HttpServer, opened: list[HttpSink], store: Store, clock: FakeClock
) -> None:
    sink = configured({"url": url_of(http_server), "signing_secret": SECRET})
    opened.append(sink)
    dispatcher = Dispatcher(store, {"app": sink}, POLICY, Metrics())
    events = [
        event({"respond": {"status": 204}}, at=clock.now),
        event({"respond": {"status": 503, "headers": {"Retry-After": "30"}}}, at=clock.now),
        event({"respond": {"status": 400}}, at=clock.now),
        event({"respond": {"status": 500}}, at=clock.now),
    ]
    ok, later, refused, failing = (e.id for e in events)
    await store.persist(events, ["app"])

    assert await dispatcher.drain("app") == 4
    states = {e.id: await delivery_of(store, e.id) for e in events}
    assert states[ok].state == "delivered"
    assert (states[later].state, states[later].last_cause) == ("retry", "http_503")
    assert states[later].due_at >= clock.now + 30  # never sooner than Retry-After
    assert (states[refused].state, states[refused].last_cause) == ("dead", "http_400")
    assert states[failing].state == "retry"

    for _ in range(POLICY.max_attempts):  # the dispatcher's policy: 3 attempts, then dead
        clock.advance(60)
        await dispatcher.drain("app")
    dead = {d.event_id: d.last_cause for d in await store.list_dead(sink="app")}
    assert dead[refused] == "http_400"
    assert dead[failing] == "max_attempts: http_500"
    assert dead[later] == "max_attempts: http_503"
    assert [r.headers["webhook-id"] for r in http_server.received].count(failing) == 3


async def delivery_of(store: Store, event_id: str) -> DeliveryRecord:
    found = await store.get_event(event_id)
    assert found is not None
    [delivery] = found[1]
    return delivery


async def test_a_sinks_own_retry_policy_dead_letters_on_its_own_budget(
    http_server: HttpServer, opened: list[HttpSink], store: Store, clock: FakeClock
) -> None:
    table = {"url": url_of(http_server), "retry_policy": {"max_attempts": 2}}
    settings = parse_settings({"sinks": {"app": {"type": "http", **table}}}, env={})
    sink = configured(table)
    opened.append(sink)
    app = create_app(settings, store=store, sinks={"app": sink}, clock=clock, dispatch=False)
    # The sink's own attempts; its age limit, left out, follows [dispatcher].
    assert store.policy("app") == RetryPolicy(2, float(settings.dispatcher.max_age_seconds))
    assert store.policy("other") == RetryPolicy(POLICY.max_attempts, float(POLICY.max_age_seconds))
    dispatcher = app.gateway.dispatcher
    assert dispatcher is not None
    failing = event({"respond": {"status": 500}}, at=clock.now)
    await store.persist([failing], ["app"])
    await dispatcher.drain("app")
    clock.advance(60)
    await dispatcher.drain("app")
    [dead] = await store.list_dead(sink="app")
    assert (dead.event_id, dead.attempts, dead.last_cause) == (failing.id, 2, "max_attempts: http_500")


def test_a_retry_policy_is_checked_and_a_bus_has_none() -> None:
    with pytest.raises(ConfigError) as bad:
        parse_settings(
            {"sinks": {"app": {"type": "jsonl", "path": "x.jsonl", "retry_policy": {"max_attempts": 0}}}},
            env={},
        )
    assert bad.value.key == "sinks.app.retry_policy.max_attempts"
    with pytest.raises(ConfigError) as bus:
        parse_settings({"sinks": {"bus": {"type": "router", "retry_policy": {"max_attempts": 3}}}}, env={})
    assert bus.value.key == "sinks.bus.retry_policy"
