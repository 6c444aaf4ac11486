"""`/readyz` says whether the store can commit, not only whether it answers: on a full
disk (a small tmpfs), every write answers 503 and readiness says unavailable until a
write commits again; once space is back, a probe commits and the gateway is ready."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import httpx
import pytest

from gateway.app import RECHECK_SECONDS, create_app
from gateway.config import Settings, StoreSettings
from gateway.sinks import MemorySink
from tests.helpers.edge import Edge, stripe_body
from tests.helpers.volumes import small_tmpfs
from tests.unit._fakes import FakeClock

pytestmark = pytest.mark.anyio


def fill(path: Path) -> None:
    """Write `path` until the volume holds no more."""
    with path.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
        os.fsync(out.fileno())


async def test_readiness_follows_whether_the_store_can_commit(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    with small_tmpfs(tmp_path, "4m") as mount:
        store = StoreSettings(url=f"sqlite:///{mount / 'hookgate.db'}")
        settings = dataclasses.replace(settings, store=store)
        sink = MemorySink("mem")
        app = create_app(settings, sinks={"mem": sink}, clock=clock)
        await app.gateway.start(dispatch=False)
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="https://hooks.example.com") as client:
                edge = Edge(app, client, clock, sink)
                body = stripe_body("evt_before")
                assert (await edge.post("stripe", body, edge.sign(body))).status_code == 200
                assert (await client.get("/readyz")).status_code == 200

                filler = mount / "filler"
                fill(filler)
                answers = []
                for i in range(50):  # until a write needs space the volume no longer has
                    body = stripe_body(f"evt_full_{i}", padding="x" * 6000)
                    answers.append((await edge.post("stripe", body, edge.sign(body))).status_code)
                    if answers[-1] == 503:
                        break
                assert answers[-1] == 503, answers
                ready = await client.get("/readyz")
                assert (ready.status_code, ready.json()) == (503, {"status": "unavailable"})
                clock.advance(RECHECK_SECONDS + 1)  # the probe's own commit fails too
                assert (await client.get("/readyz")).status_code == 503

                filler.unlink()  # space comes back
                assert (await client.get("/readyz")).status_code == 503  # a write failed just now
                clock.advance(RECHECK_SECONDS + 1)
                assert (await client.get("/readyz")).status_code == 200  # a probe committed
                body = stripe_body("evt_after")
                assert (await edge.post("stripe", body, edge.sign(body))).status_code == 200
                assert (await client.get("/readyz")).status_code == 200
        finally:
            await app.gateway.stop()
