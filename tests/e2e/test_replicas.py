"""Three `hookgate serve` replicas on one PostgreSQL schema under concurrent load, one of
them killed with SIGKILL mid-load.

Each replica has a `jsonl` sink of its own, so each line says which replica delivered the
event. Distinct Stripe events go to one replica each; a delivery that gets no answer is
sent again to the next replica, as a provider retries. Some deliveries go to all three
replicas at the same moment (one dedup key). The leases are short, so the survivors take
over the dead replica's leases within seconds. Afterwards:

- every dedup key is stored once, under the event id that every answer for it named;
- every acknowledged event, and every stored one, was delivered;
- an event reached the sinks twice only if the dead replica held its lease when it died
  (it may have written the line and died before settling): no survivor delivered an event
  twice, and each delivery was claimed once, or twice when it was taken over;
- nothing is left pending, forwarding or scheduled for retry.

A healthy replica settles its deliveries within milliseconds, so it holds few leases at
any moment. In the `hung-sink` case the replica to be killed writes into a pipe nobody
reads (without fsync, which a pipe refuses): once the pipe is full its sink hangs, and it
dies mid-load holding the leases of what it was delivering (what it accepted meanwhile
waits in the store, unleased, for any replica).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.helpers.served import Served, free_port, stripe_event, stripe_headers
from tests.unit._postgres import postgres_schema

pytestmark = pytest.mark.e2e

REPLICAS = 3
#: Events each sent to one replica, and deliveries sent to every replica at once.
DISTINCT = 900
SHARED = 45
CONCURRENCY = 24
#: The doomed replica is killed once this many events were acknowledged; with a hung sink,
#: once it also holds this many leases (a sink that is behind makes new events wait in the
#: store unleased: it holds the leases of what it was delivering, and of its hand-offs).
KILL_AFTER = DISTINCT // 2
HUNG_LEASES = 1
LEASE_SECONDS = 3.0
DOOMED = 0


@dataclass
class Replica(Served):
    """A `hookgate serve` whose PostgreSQL sessions carry its name (`application_name`)."""

    name: str = ""
    pid: int = 0
    #: The read end of the pipe its sink writes into, when it writes into one.
    pipe: int | None = None

    def env(self) -> dict[str, str]:
        return {**super().env(), "PGAPPNAME": self.name}

    def start(self) -> None:
        super().start()
        assert self.process is not None
        self.pid = self.process.pid

    @property
    def owner(self) -> str:
        """The name its leases are recorded under (`claimed_by`)."""
        return f"{socket.gethostname()}:{self.pid}"

    def deliveries(self) -> tuple[list[dict[str, Any]], str]:
        """The sink's entries, and a last line cut short by a kill (empty if none)."""
        if self.pipe is not None:
            assert self.process is None, "a pipe is read once its writer is gone"
            chunks = []
            while chunk := os.read(self.pipe, 65536):
                chunks.append(chunk)
            text = b"".join(chunks).decode()
        elif self.sink.exists():
            text = self.sink.read_text()
        else:
            text = ""
        *lines, tail = text.split("\n")
        return [json.loads(line) for line in lines], tail


@dataclass
class Cluster:
    url: str
    schema: str
    replicas: list[Replica]

    def query(self, statement: LiteralString, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            return conn.execute(statement, params).fetchall()

    def wait_until_none(
        self, statement: LiteralString, params: list[Any], what: str, timeout: float = 60.0
    ) -> None:
        """Polls until the count `statement` selects is zero."""
        deadline = time.monotonic() + timeout
        while (left := self.query(statement, params)[0][0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert left == 0, f"{what}: {left} left after {timeout} s"


def config(tmp: Path, port: int, url: str, schema: str, sink: str) -> str:
    return f"""
[server]
host = "127.0.0.1"
port = {port}

[store]
url = "{url}"
schema_name = "{schema}"
pool_min_size = 1
pool_max_size = 6

[dispatcher]
poll_interval_seconds = 0.2
lease_seconds = {LEASE_SECONDS}
base_delay_seconds = 0.05
max_delay_seconds = 0.2

[sources.stripe]
connector = "stripe"
secrets = ["env:E2E_STRIPE_SECRET"]
tolerance_seconds = 300

[sinks.archive]
type = "jsonl"
{sink}
"""


@pytest.fixture(params=["busy", "hung-sink"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    with postgres_schema() as store:
        replicas = []
        for index in range(REPLICAS):
            tmp = tmp_path / f"replica-{index}"
            tmp.mkdir()
            port = free_port()
            replica = Replica(tmp, tmp / "hookgate.toml", port, name=f"{store['schema_name']}-{index}")
            sink = f'path = "{replica.sink}"'
            if index == DOOMED and request.param == "hung-sink":
                os.mkfifo(replica.sink)
                replica.pipe = os.open(replica.sink, os.O_RDONLY | os.O_NONBLOCK)
                sink += "\nfsync = false"
            replica.config.write_text(config(tmp, port, store["url"], store["schema_name"], sink))
            replicas.append(replica)
        try:
            # Together, as a rollout starts them: one of them migrates the fresh schema.
            with ThreadPoolExecutor(REPLICAS) as pool:
                list(pool.map(Replica.start, replicas))
            yield Cluster(store["url"], store["schema_name"], replicas)
        finally:
            for replica in replicas:
                replica.stop()
                if replica.pipe is not None:
                    os.close(replica.pipe)


@dataclass(frozen=True, slots=True)
class Answer:
    replica: int
    code: int
    body: dict[str, Any]


@dataclass
class Load:
    """What the senders saw, by dedup key (the Stripe event id)."""

    answers: dict[str, list[Answer]] = field(default_factory=dict)
    #: Keys whose delivery to a replica got no answer (connection lost or refused).
    unanswered: dict[str, list[int]] = field(default_factory=dict)
    acked: set[str] = field(default_factory=set)
    acked_at_kill: int = 0
    #: The deliveries the dead replica held leases on, once its sessions were gone.
    held: set[str] = field(default_factory=set)

    def record(self, key: str, replica: int, response: httpx.Response | None) -> bool:
        if response is None:
            self.unanswered.setdefault(key, []).append(replica)
            return False
        self.answers.setdefault(key, []).append(Answer(replica, response.status_code, response.json()))
        if response.status_code != 200:
            return False
        self.acked.add(key)
        return True


async def post(client: httpx.AsyncClient, replica: Replica, body: bytes) -> httpx.Response | None:
    try:
        return await client.post(f"{replica.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    except httpx.TransportError:
        return None  # the replica died mid-request, or is dead: no acknowledgement


async def drive(cluster: Cluster, load: Load) -> None:
    """Sends every delivery; kills the doomed replica once `KILL_AFTER` were acknowledged."""
    replicas = cluster.replicas
    jobs: asyncio.Queue[tuple[bytes, int | None]] = asyncio.Queue()
    shared_every = DISTINCT // SHARED
    targets = itertools.cycle(range(REPLICAS))
    for n in range(DISTINCT):
        jobs.put_nowait((stripe_event(), next(targets)))
        if n % shared_every == shared_every // 2:
            jobs.put_nowait((stripe_event(), None))  # None: to every replica at once
    trigger = asyncio.Event()

    async def worker(client: httpx.AsyncClient) -> None:
        while not jobs.empty():
            body, target = jobs.get_nowait()
            key = json.loads(body)["id"]
            if target is None:
                responses = await asyncio.gather(*(post(client, r, body) for r in replicas))
                for index, response in enumerate(responses):
                    load.record(key, index, response)
            else:
                for index in [(target + step) % REPLICAS for step in range(REPLICAS)]:
                    if load.record(key, index, await post(client, replicas[index], body)):
                        break
            if len(load.acked) >= KILL_AFTER:
                trigger.set()

    async def killer() -> None:
        doomed = replicas[DOOMED]
        await trigger.wait()
        if doomed.pipe is not None:
            await asyncio.to_thread(wait_for_leases, cluster, doomed)
        load.acked_at_kill = len(load.acked)
        doomed.kill9()
        load.held = await asyncio.to_thread(held_leases, cluster, doomed)

    limits = httpx.Limits(max_connections=CONCURRENCY * REPLICAS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        kill = asyncio.create_task(killer())
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
        await kill


def held_leases(cluster: Cluster, doomed: Replica) -> set[str]:
    """The deliveries the dead replica held leases on. Read once its sessions are gone (a
    statement it sent may commit until then), before the leases run out."""
    cluster.wait_until_none(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
        [doomed.name],
        "sessions of the killed replica",
        timeout=LEASE_SECONDS / 2,
    )
    return leases(cluster, replica=doomed)


def wait_for_leases(cluster: Cluster, replica: Replica, timeout: float = 30.0) -> None:
    """Polls until `replica` holds `HUNG_LEASES` leases."""
    deadline = time.monotonic() + timeout
    while len(held := leases(cluster, replica)) < HUNG_LEASES and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(held) >= HUNG_LEASES, f"the replica with a hung sink holds {len(held)} leases"


def leases(cluster: Cluster, replica: Replica) -> set[str]:
    """The deliveries `replica` holds leases on."""
    rows = cluster.query(
        "SELECT event_id FROM deliveries WHERE state = 'forwarding' AND claimed_by = %s", [replica.owner]
    )
    return {row[0] for row in rows}


def test_replicas_lose_and_repeat_nothing_when_one_is_killed_mid_load(cluster: Cluster) -> None:
    load = Load()
    asyncio.run(drive(cluster, load))
    doomed = cluster.replicas[DOOMED]
    survivors = [r for r in cluster.replicas if r is not doomed]
    assert all(r.process is not None and r.process.poll() is None for r in survivors)
    assert len(load.answers.keys() | load.unanswered.keys()) == DISTINCT + SHARED
    assert len(load.acked) - load.acked_at_kill >= DISTINCT // 4, "the kill came mid-load"
    assert load.unanswered, "requests to the dead replica went unanswered"
    codes = Counter(a.code for answers in load.answers.values() for a in answers)
    assert set(codes) == {200}, codes
    assert load.acked == load.answers.keys()
    if doomed.pipe is None:
        assert load.acked_at_kill >= KILL_AFTER
    else:
        assert len(load.held) >= HUNG_LEASES, "the replica with a hung sink died holding leases"

    # Dedup: per key one stored event, the one every answer named; one answer accepted it.
    stored = dict(cluster.query("SELECT dedup_key, id FROM events"))
    assert len(stored) == cluster.query("SELECT count(*) FROM events")[0][0], "a dedup key stored twice"
    assert load.acked <= stored.keys()
    for key, answers in load.answers.items():
        assert {tuple(a.body["event_ids"]) for a in answers} == {(stored[key],)}, key
        accepted = [a for a in answers if a.body["status"] == "accepted"]
        assert len(accepted) <= 1, answers
        if len(answers) == REPLICAS:  # sent to all three, and all three answered
            assert len(accepted) == 1, answers
    answered_by_all = [key for key, answers in load.answers.items() if len(answers) == REPLICAS]
    assert len(answered_by_all) >= SHARED // 4, "keys were sent to every replica while all three lived"

    # The survivors take over the dead replica's leases and deliver everything.
    cluster.wait_until_none(
        "SELECT count(*) FROM deliveries WHERE state <> 'delivered'", [], "deliveries not delivered"
    )
    for replica in survivors:
        replica.stop()  # their sinks are closed: the files are final
    lines: Counter[str] = Counter()
    by_survivors: Counter[str] = Counter()
    doomed_ids = set()
    for replica in cluster.replicas:
        entries, tail = replica.deliveries()
        assert replica is doomed or tail == "", "only a killed sink may leave a line cut short"
        for entry in entries:
            assert stored[entry["detail"]["metadata"]["dedup_key"]] == entry["id"]
            lines[entry["id"]] += 1
            if replica is doomed:
                doomed_ids.add(entry["id"])
            else:
                by_survivors[entry["id"]] += 1
    assert set(lines) == set(stored.values()), "every stored event delivered, nothing else"
    assert max(by_survivors.values()) == 1, "a survivor delivered an event twice"

    attempts = dict(cluster.query("SELECT event_id, attempts FROM deliveries WHERE state = 'delivered'"))
    assert attempts.keys() == lines.keys()
    taken_over = {event_id for event_id, n in attempts.items() if n > 1}
    assert taken_over == load.held, "exactly the dead replica's leases were claimed again"
    assert all(attempts[event_id] == 2 and by_survivors[event_id] == 1 for event_id in taken_over)
    twice = {event_id for event_id, n in lines.items() if n > 1}
    assert max(lines.values()) <= 2
    assert twice == doomed_ids & taken_over, "delivered twice: written by the dead replica, not settled"
