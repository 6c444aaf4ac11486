"""Replays: start one, list them with their progress.

    POST /replays  {"from": TIME, "to": TIME, "source": …, "rule": …, "sinks": [...], "name": …}
    GET  /replays             every replay this process started, newest first
    GET  /replays/{id}        one of them

A replay queues stored events again, as `hookgate replay` does (`plan_replay` chooses the
sinks and rule targets, `StoreAdmin.replay` requeues): it runs in the background of the
process that was asked, and its record (`Replays`) says how far it got. The records are
kept in that process's memory only (the latest `_KEPT`): another replica, or the same one
after a restart, does not list them; what a replay queued is in the store, and is
delivered whatever happens to the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from pydantic import ConfigDict, Field

from gateway import views
from gateway.admin.api import ApiError, Call, Document, NoBody, NoParams, Params, Routes, Time
from gateway.errors import StoreError

__all__ = ["Replay", "Replays", "routes"]

log = structlog.get_logger()

routes = Routes("replays")

#: Replay records kept (the oldest finished ones are forgotten first).
_KEPT = 100

ReplayState = Literal["running", "done", "failed"]


@dataclass
class Replay:
    """One replay: what it replays, who started it, how far it got."""

    id: str
    name: str | None
    source: str | None
    since: float
    until: float | None
    sinks: tuple[str, ...]
    rules: list[str]
    started_by: str
    started_at: float
    state: ReplayState = "running"
    done: int = 0
    total: int | None = None
    finished_at: float | None = None
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "from": views.timestamp(self.since),
            "to": None if self.until is None else views.timestamp(self.until),
            "sinks": list(self.sinks),
            "rules": self.rules,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "started_by": self.started_by,
            "started_at": views.timestamp(self.started_at),
            "finished_at": None if self.finished_at is None else views.timestamp(self.finished_at),
            "error": self.error,
        }


@dataclass
class Replays:
    """The replays this process started, and their running tasks."""

    records: dict[str, Replay] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def add(self, replay: Replay) -> None:
        self.records[replay.id] = replay
        finished = [r.id for r in self.records.values() if r.state != "running"]
        for old in finished[: max(0, len(self.records) - _KEPT)]:
            del self.records[old]

    def run(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel the replays still running (what they queued stays queued)."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class ReplayRequest(Params):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    since: Time = Field(alias="from", description="Events received at or after this time.")
    until: Time | None = Field(None, alias="to", description="Events received before this time.")
    source: str | None = Field(None, description="Only the events of this source.")
    sinks: list[str] = Field(
        default_factory=list, description="Only to these sinks (default: the source's, or every source's)."
    )
    rule: str | None = Field(
        None, description="Only to the targets of this router rule (`RULE` or `BUS/RULE`)."
    )
    name: str | None = Field(
        None, max_length=256, description="Set as `replay-name` on what router targets receive."
    )


class ReplayView(Document):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    name: str | None
    source: str | None
    since: str = Field(alias="from")
    until: str | None = Field(alias="to")
    sinks: list[str]
    rules: list[str]
    state: ReplayState
    done: int
    total: int | None
    started_by: str
    started_at: str
    finished_at: str | None
    error: str | None


class ReplayList(Document):
    replays: list[ReplayView]


@routes.post("/replays", body=ReplayRequest, response=ReplayView, status=202)
async def start_replay(call: Call[NoParams, ReplayRequest]) -> dict[str, Any]:
    """Start a replay: deliver stored events again, in the background.

    Answers at once (202) with the replay's record; `GET /replays/{id}` follows it.
    """
    from gateway.router.bus import plan_replay  # noqa: PLC0415 - loaded with the first replay

    body, store, gateway = call.body, call.store, call.gateway
    try:
        plan = plan_replay(gateway.settings, source=body.source, sinks=body.sinks, rule=body.rule)
    except ValueError as exc:
        raise ApiError(400, "invalid_body", str(exc)) from None
    name = body.name
    if plan.buses and name is None:
        name = f"replay-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    replay = Replay(
        id=uuid.uuid4().hex[:12],
        name=name,
        source=body.source,
        since=body.since,
        until=body.until,
        sinks=plan.sinks,
        rules=plan.rules,
        started_by=call.principal.name,
        started_at=time.time(),
    )
    gateway.replays.add(replay)

    def progress(done: int, total: int) -> None:
        replay.done, replay.total = done, total

    async def run() -> None:
        try:
            count = await store.replay(
                plan.sinks,
                route=plan.route,
                name=name,
                source=body.source,
                since=body.since,
                until=body.until,
                progress=progress,
            )
        except StoreError as exc:
            replay.state, replay.error = "failed", str(exc)
            log.error("replay_failed", replay=replay.id, error=str(exc))
        else:
            replay.state, replay.done = "done", count
            replay.total = count if replay.total is None else replay.total
        finally:
            replay.finished_at = time.time()
            call.audit(
                "replays.start",
                replay.done,
                replay=replay.id,
                name=name,
                state=replay.state,
                source=body.source,
                sinks=list(plan.sinks),
                rules=plan.rules,
            )
            if gateway.dispatcher is not None:  # what was queued is due now
                gateway.dispatcher.notify()

    gateway.replays.run(asyncio.create_task(run(), name=f"replay-{replay.id}"))
    return replay.view()


@routes.get("/replays", response=ReplayList)
async def list_replays(call: Call[NoParams, NoBody]) -> dict[str, Any]:
    """The replays this process started, newest first, with their progress."""
    records = sorted(call.gateway.replays.records.values(), key=lambda r: r.started_at, reverse=True)
    return {"replays": [r.view() for r in records]}


@routes.get("/replays/{id}", response=ReplayView)
async def get_replay(call: Call[NoParams, NoBody]) -> dict[str, Any]:
    """One replay and its progress."""
    found = call.gateway.replays.records.get(call.params["id"])
    if found is None:
        raise ApiError(404, "not_found", "no replay with this id in this process")
    return found.view()
