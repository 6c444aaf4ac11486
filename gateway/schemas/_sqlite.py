"""The registry in a SQLite store: its writes are jobs of the store's one writer thread, so
they are serialized with everything else written there."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from gateway.schemas._compat import Mode
from gateway.schemas._infer import Limits
from gateway.schemas._registry import (
    Observation,
    Recorded,
    SchemaInfo,
    SchemaRegistry,
    SchemaVersion,
    decide,
)
from gateway.store.sqlite import SQLiteStore

__all__ = ["SQLiteSchemaRegistry"]

_INFO = (
    "SELECT s.name, s.source, s.event_source, s.detail_type, s.compatibility, s.created_at, s.updated_at, "
    "COALESCE((SELECT MAX(version) FROM schema_versions v WHERE v.name = s.name), 0), s.overflow, "
    "(SELECT GROUP_CONCAT(version) FROM schema_versions v WHERE v.name = s.name AND v.compatible = 0), "
    "s.pinned_version "
    "FROM schemas s"
)


def _info(row: Any) -> SchemaInfo:
    drifted = tuple(sorted(int(v) for v in str(row[9]).split(","))) if row[9] else ()
    return SchemaInfo(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], drifted, row[10]
    )


def record(  # noqa: PLR0917 - the arguments of `SchemaRegistry.record`, and the connection
    conn: sqlite3.Connection,
    obs: Observation,
    now: float,
    max_versions: int,
    max_schemas: int,
    limits: Limits,
) -> Recorded:
    """`SchemaRegistry.record` inside the writer's transaction (shared with the PostgreSQL
    registry's statements in spirit; the SQL differs only in placeholders)."""
    name = obs.name
    row = conn.execute("SELECT compatibility FROM schemas WHERE name = ?", (name,)).fetchone()
    if row is None:
        (count,) = conn.execute("SELECT COUNT(*) FROM schemas WHERE source = ?", (obs.source,)).fetchone()
        if count >= max_schemas:
            return Recorded(name, None, overflow="schemas")
        conn.execute(
            "INSERT INTO schemas (name, source, event_source, detail_type, compatibility, created_at, "
            "updated_at, overflow) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
            (name, obs.source, obs.event_source, obs.detail_type, obs.compatibility, now, now),
        )
        mode: Mode = obs.compatibility
    else:
        mode = row[0]
    versions = [
        orjson.loads(c)
        for (c,) in conn.execute(
            "SELECT content FROM schema_versions WHERE name = ? ORDER BY version", (name,)
        )
    ]
    decision = decide(versions, mode, obs.schema, max_versions=max_versions, limits=limits)
    if decision.overflow:
        conn.execute(
            "UPDATE schemas SET overflow = overflow + ?, updated_at = ? WHERE name = ?",
            (obs.count, now, name),
        )
        return Recorded(name, None, overflow="versions")
    if decision.content is not None and decision.verdict is not None:
        conn.execute(
            "INSERT INTO schema_versions (name, version, content, created_at, event_count, sample_event_id, "
            "compatible, verdict) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                decision.version,
                orjson.dumps(decision.content).decode(),
                now,
                obs.count,
                obs.sample_event_id,
                int(decision.verdict.compatible),
                decision.verdict.describe(),
            ),
        )
    else:
        conn.execute(
            "UPDATE schema_versions SET event_count = event_count + ? WHERE name = ? AND version = ?",
            (obs.count, name, decision.version),
        )
    conn.execute("UPDATE schemas SET updated_at = ? WHERE name = ?", (now, name))
    content = decision.content if decision.content is not None else versions[-1]
    return Recorded(name, decision.version, decision.creates, decision.verdict, content=content)


class SQLiteSchemaRegistry(SchemaRegistry):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    async def record(
        self, observation: Observation, now: float, *, max_versions: int, max_schemas: int, limits: Limits
    ) -> Recorded:
        return await self.store._run(
            lambda conn: record(conn, observation, now, max_versions, max_schemas, limits)
        )

    async def schemas(self, source: str | None = None) -> list[SchemaInfo]:
        def run(conn: sqlite3.Connection) -> list[SchemaInfo]:
            if source is None:
                rows = conn.execute(_INFO + " ORDER BY s.name")
            else:
                rows = conn.execute(_INFO + " WHERE s.source = ? ORDER BY s.name", (source,))
            return [_info(r) for r in rows.fetchall()]

        return await self.store._read(run)

    async def versions(self, name: str) -> list[SchemaVersion]:
        def run(conn: sqlite3.Connection) -> list[SchemaVersion]:
            rows = conn.execute(
                "SELECT name, version, content, created_at, event_count, sample_event_id, compatible, "
                "verdict "
                "FROM schema_versions WHERE name = ? ORDER BY version",
                (name,),
            )
            return [
                SchemaVersion(r[0], r[1], orjson.loads(r[2]), r[3], r[4], r[5], bool(r[6]), r[7])
                for r in rows.fetchall()
            ]

        return await self.store._read(run)

    async def pin(self, name: str, version: int | None) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            if (
                version is not None
                and not conn.execute(
                    "SELECT 1 FROM schema_versions WHERE name = ? AND version = ?", (name, version)
                ).fetchone()
            ):
                return False
            return (
                conn.execute("UPDATE schemas SET pinned_version = ? WHERE name = ?", (version, name)).rowcount
                > 0
            )

        return await self.store._run(run)

    async def set_compatibility(self, name: str, mode: Mode) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute("UPDATE schemas SET compatibility = ? WHERE name = ?", (mode, name)).rowcount > 0
            )

        return await self.store._run(run)
