"""Every built-in connector, end to end: one `hookgate serve` with one source per catalogue case.

For each connector (and each extra case of it in `tests/catalogue.py`): its fixture, signed
as the provider signs it (for the exact URL the gateway reconstructs, where the provider
signs the URL), is accepted with 200 and lands in the jsonl sink as the expected events.
The same delivery with one byte of the body changed (where the scheme protects the body),
signed with a wrong credential, or signed too long ago (where a timestamp is signed) gets
401 with a verification cause in the log, and stores nothing. Handshakes get their exact
answer and store nothing either.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.catalogue import CATALOGUE, Case, Delivery, builtin_connectors, cases_of
from tests.helpers.served import Served, free_port

pytestmark = pytest.mark.e2e

BUILTIN = builtin_connectors()
#: Causes logged for a stale delivery (a JWT past its `exp` counts as stale).
STALE_CAUSES = {"stale_timestamp", "expired_token"}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are TOML basic-string escapes (ASCII only)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


def catalogue_config(tmp: Path, port: int) -> str:
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f'public_url = "http://127.0.0.1:{port}"',
        "",
        "[store]",
        f'url = "sqlite:///{tmp / "hookgate.db"}"',
        "",
        "[dispatcher]",
        "poll_interval_seconds = 0.05",
        "base_delay_seconds = 0.05",
        "max_delay_seconds = 0.2",
        "",
        "[sinks.archive]",
        'type = "jsonl"',
        f'path = "{tmp / "events.jsonl"}"',
    ]
    for case in CATALOGUE.values():
        if case.connector not in BUILTIN:
            continue  # test_catalogue_names_only_builtin_connectors reports it
        lines += ["", f"[sources.{case.key}]", f"connector = {toml_value(case.connector)}"]
        lines += [f"{key} = {toml_value(value)}" for key, value in case.options.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("catalogue")
    port = free_port()
    config = tmp / "hookgate.toml"
    config.write_text(catalogue_config(tmp, port))
    served = Served(tmp, config, port)
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def client(gateway: Served) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as http:
        yield http


def stored(gateway: Served, source: str) -> int:
    with sqlite3.connect(gateway.db) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM events WHERE source = ?", (source,)).fetchone()
        return int(count)


def sunk(gateway: Served, source: str) -> list[dict[str, Any]]:
    return [e for e in gateway.sink_entries() if e["detail"]["metadata"]["source"] == source]


def send(client: httpx.Client, delivery: Delivery, url: str) -> httpx.Response:
    return client.request(
        delivery.method, delivery.target(url), content=delivery.body, headers=list(delivery.headers)
    )


def logged_causes(gateway: Served, request_ids: dict[str, str], timeout: float = 15) -> dict[str, str]:
    """The logged `cause_detail` of each request (by `x-request-id`); log lines come in batches."""
    deadline = time.monotonic() + timeout
    while True:
        records = {
            record.get("request_id"): record
            for record in gateway.log_records()
            if record.get("event") == "request"
        }
        found = {
            what: records[rid].get("cause_detail", "") for what, rid in request_ids.items() if rid in records
        }
        if len(found) == len(request_ids) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def check_case(gateway: Served, client: httpx.Client, case: Case) -> None:
    key = case.key
    url = f"{gateway.url}/webhooks/{key}"
    before = stored(gateway, key)
    assert before == 0, f"{key}: source not fresh"
    now = time.time()

    delivery = case.deliver(now, url)
    response = send(client, delivery, url)
    ids = response.headers["x-hookgate-event-ids"].split(",")
    expected = len(case.detail_types)
    if response.status_code == 204:  # a provider that wants no body (Discord's Webhook Events)
        assert response.content == b"", key
        answer = {"status": "accepted", "event_ids": ids}
    else:
        assert response.status_code == 200, f"{key}: delivery got {response.status_code} {response.text}"
        answer = response.json()
    assert answer["status"] == "accepted", f"{key}: {answer}"
    assert answer["event_ids"] == ids, key
    assert len(ids) == expected, f"{key}: {answer}"
    gateway.wait_for_sink(
        lambda entries: len([e for e in entries if e["source"] == f"hookgate.{key}"]) >= expected
    )
    events = sunk(gateway, key)
    assert sorted(e["detail-type"] for e in events) == sorted(case.detail_types), key
    assert {e["id"] for e in events} == set(answer["event_ids"]), key
    for event in events:
        assert event["source"] == f"hookgate.{key}"
        assert event["detail"]["metadata"]["connector"] == case.connector
        assert event["detail"]["metadata"]["dedup_key"], key
    assert stored(gateway, key) == expected, key

    rejected: dict[str, Delivery] = {"forged": case.deliver(now, url, forged=True)}
    if case.signs_body:
        rejected["tampered"] = case.tamper(delivery)
    if case.stale_by is not None:
        rejected["stale"] = case.deliver(now - case.stale_by, url)
    request_ids = {}
    for what, bad in rejected.items():
        response = send(client, bad, url)
        assert response.status_code == 401, (
            f"{key}: {what} delivery got {response.status_code} {response.text}"
        )
        request_ids[what] = response.headers["x-request-id"]

    if case.handshake is not None:
        shake = case.handshake(case.signer(), now, url)
        response = send(client, shake, url)
        assert response.status_code == 200, f"{key}: handshake got {response.status_code} {response.text}"
        assert response.content == case.handshake_reply, key

    causes = logged_causes(gateway, request_ids)
    assert set(causes) == set(rejected), f"{key}: no log line for {set(rejected) - set(causes)}"
    for what, cause in causes.items():
        assert cause, f"{key}: {what} delivery logged no cause"
        assert cause != "connector_error", (
            f"{key}: {what} delivery raised something else than VerificationError"
        )
    if "stale" in causes:
        assert causes["stale"] in STALE_CAUSES, f"{key}: stale delivery refused for {causes['stale']!r}"
    assert stored(gateway, key) == expected, f"{key}: a refused request stored events"
    assert len(sunk(gateway, key)) == expected, f"{key}: a refused request reached the sink"


@pytest.mark.parametrize("name", BUILTIN)
def test_every_connector_round_trips_through_hookgate_serve(
    gateway: Served, client: httpx.Client, name: str
) -> None:
    cases = cases_of(name)
    missing = (
        f"built-in connector {name!r} has no case in tests/catalogue.py: add a working configuration "
        "(options, fixture, expected detail-types, how to forge, tamper and age a delivery)"
    )
    assert cases, missing
    assert cases[0].key == name, missing
    for case in cases:
        check_case(gateway, client, case)


def test_catalogue_names_only_builtin_connectors() -> None:
    assert {case.connector for case in CATALOGUE.values()} <= set(BUILTIN)
    assert len(BUILTIN) >= 38
