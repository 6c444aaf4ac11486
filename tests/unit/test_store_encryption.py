"""Encryption at rest on every whole store (SQLite, PostgreSQL): what the store writes holds
no payload or header in clear, every reader gets them back, a key is rotated by putting a
new one first and resealing, and a sealed value neither opens under another key nor in
another row. The database is read directly, as an intruder with a copy of it would."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from gateway.config import DispatcherSettings, StoreSettings
from gateway.errors import StoreError
from gateway.events import Event, new_event_id
from gateway.store import (
    EventQuery,
    PayloadCipher,
    RequestRecord,
    Settlement,
    Store,
    TextSearchUnavailableError,
    open_store,
)
from gateway.store._cipher import decode_key, new_key

from ._fakes import FakeClock, make_event
from .test_store_contract import BACKENDS, POLICY, WHOLE_STORES

pytestmark = pytest.mark.anyio

#: Marks that must never be found in the database in clear.
SECRET_PAYLOAD = "cus_SECRETPAYLOAD42"
SECRET_HEADER = "ua-SECRETHEADER42"
SECRET_BODY = b"rejected-SECRETBODY42"


def payload_event(at: float) -> Event:
    event = make_event(at=at)
    entry = json.loads(event.entry)
    entry["detail"]["payload"] = {"customer": SECRET_PAYLOAD, "emoji": "\U0001f600"}
    return dataclasses.replace(event, entry=json.dumps(entry))


def request_record(at: float, *, body: bytes | None = None, status: int = 200) -> RequestRecord:
    return RequestRecord(
        id=new_event_id(at),
        received_at=at,
        source="stripe",
        status=status,
        cause=None if status < 400 else "bad_signature",
        size=123,
        client="203.0.113.9",
        headers=(("user-agent", SECRET_HEADER), ("stripe-signature", "[redacted]")),
        body=body,
    )


class Stores:
    """Opens stores of one backend over one database, each with its own keys."""

    def __init__(self, table: dict[str, Any], clock: FakeClock) -> None:
        self.table, self.clock = table, clock
        self.opened: list[Store] = []

    async def __call__(self, keys: Sequence[str] = ()) -> Store:
        settings = StoreSettings.model_validate({**self.table, "encryption_keys": list(keys)})
        store = open_store(settings, DispatcherSettings.model_validate(POLICY), self.clock)
        await store.open()
        self.opened.append(store)
        return store

    def raw_text(self) -> str:
        """Everything the database holds in its events and requests tables, as text."""
        if self.table["url"].startswith("sqlite:///"):
            path = Path(self.table["url"].removeprefix("sqlite:///"))
            files = [p for p in (path, Path(f"{path}-wal")) if p.exists()]
            return "".join(p.read_bytes().decode("latin-1") for p in files)
        with psycopg.connect(self.table["url"]) as conn:
            schema = sql.Identifier(self.table["schema_name"])
            rows = conn.execute(sql.SQL("SELECT id, entry FROM {}.events").format(schema)).fetchall()
            rows += conn.execute(sql.SQL("SELECT headers, body FROM {}.requests").format(schema)).fetchall()
        return repr(rows)


@pytest.fixture(params=WHOLE_STORES)
async def stores(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Stores]:
    with BACKENDS[request.param](tmp_path) as table:
        factory = Stores(table, clock)
        yield factory
        for store in factory.opened:
            await store.close()


async def test_nothing_is_stored_in_clear_and_every_reader_gets_it_back(
    stores: Stores, clock: FakeClock
) -> None:
    store = await stores([new_key()])
    event = payload_event(clock.now)
    accepted = request_record(clock.now)
    await store.persist([event], ["a"], request=accepted)
    rejected = request_record(clock.now + 1, body=SECRET_BODY, status=401)
    await store.record_requests([rejected])

    raw = stores.raw_text()
    for mark in (SECRET_PAYLOAD, SECRET_HEADER, SECRET_BODY.decode()):
        assert mark not in raw
    assert event.id in raw  # ids, sources and types stay clear for queries

    [claimed] = await store.claim("a", 10)
    assert claimed.event.entry == event.entry
    found = await store.get_event(event.id)
    assert found is not None
    assert found[0].entry == event.entry
    assert [e.entry for e in await store.load_events([event.id])] == [event.entry]
    page = await store.list_requests()
    assert [(r.id, r.headers, r.body) for r in page.items] == [
        (rejected.id, rejected.headers, SECRET_BODY),
        (accepted.id, accepted.headers, None),
    ]
    shown = await store.get_request(rejected.id)
    assert shown is not None
    assert (shown.headers, shown.body) == (rejected.headers, SECRET_BODY)
    await store.settle("a", [claimed], [Settlement(event.id, "delivered")])


async def test_an_enriched_entry_is_sealed_too(stores: Stores, clock: FakeClock) -> None:
    store = await stores([new_key()])
    event = payload_event(clock.now)
    await store.persist([event], ["a"])
    enriched = event.entry.replace(SECRET_PAYLOAD, SECRET_PAYLOAD + "-ENRICHED")
    assert await store.save_enriched(event.id, enriched) == enriched
    assert "ENRICHED" not in stores.raw_text()
    [claimed] = await store.claim("a", 10)
    assert claimed.event.entry == enriched


async def test_a_text_search_over_sealed_payloads_is_refused(stores: Stores, clock: FakeClock) -> None:
    store = await stores([new_key()])
    await store.persist([payload_event(clock.now)], ["a"])
    with pytest.raises(TextSearchUnavailableError):
        await store.search_events(EventQuery(text=SECRET_PAYLOAD))
    assert len((await store.search_events(EventQuery(source="stripe"))).items) == 1


async def test_rotation_reseals_clear_and_old_rows_under_the_new_key(
    stores: Stores, clock: FakeClock
) -> None:
    clear_store = await stores()
    clear = payload_event(clock.now)
    await clear_store.persist([clear], ["a"], request=request_record(clock.now))
    assert SECRET_PAYLOAD in stores.raw_text()  # stored before encryption was turned on

    old, new = new_key(), new_key()
    with_old = await stores([old])
    sealed_old = payload_event(clock.now + 1)
    await with_old.persist([sealed_old], ["a"])
    assert (await with_old.get_event(clear.id)) is not None  # a row in clear still reads

    rotating = await stores([new, old])
    changed = await rotating.reseal()
    assert changed == 3  # the clear event, the event under the old key, the clear request
    assert SECRET_PAYLOAD not in stores.raw_text()
    assert await rotating.reseal() == 0  # nothing left to reseal

    only_new = await stores([new])
    for event in (clear, sealed_old):
        found = await only_new.get_event(event.id)
        assert found is not None
        assert found[0].entry == event.entry
    assert [r.headers for r in (await only_new.list_requests()).items] == [request_record(0).headers]

    only_old = await stores([old])
    with pytest.raises(StoreError, match="not among"):
        await only_old.get_event(clear.id)


async def test_resealing_needs_a_key(stores: Stores) -> None:
    store = await stores()
    with pytest.raises(StoreError, match="encryption_keys"):
        await store.reseal()


# -- the cipher ---------------------------------------------------------------------------


@pytest.fixture
def cipher() -> PayloadCipher:
    return PayloadCipher([os.urandom(32)])


def test_a_value_opens_only_in_its_own_row(cipher: PayloadCipher) -> None:
    sealed = cipher.seal('{"a": "\\ud800 lone surrogate escape, and \ud800 itself"}', "row-1")
    assert cipher.open(sealed, "row-1") == '{"a": "\\ud800 lone surrogate escape, and \ud800 itself"}'
    with pytest.raises(StoreError, match="does not open"):
        cipher.open(sealed, "row-2")


def test_an_altered_value_does_not_open(cipher: PayloadCipher) -> None:
    sealed = cipher.seal("text", "row")
    head, _, body = sealed.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-1] ^= 1
    altered = f"{head}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    with pytest.raises(StoreError, match="does not open"):
        cipher.open(altered, "row")


def test_each_seal_differs_and_names_its_key(cipher: PayloadCipher) -> None:
    first, second = cipher.seal("same", "row"), cipher.seal("same", "row")
    assert first != second
    assert cipher.current(first)
    assert not PayloadCipher([os.urandom(32)]).current(first)


@pytest.mark.parametrize(
    ("text", "message"),
    [("not base64!", "not base64"), (base64.b64encode(b"short").decode(), "must be 32 bytes")],
)
def test_a_bad_key_is_refused_with_the_way_to_make_one(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_key(text)
    assert len(decode_key(new_key())) == 32
