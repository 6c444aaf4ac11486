"""The registry in a PostgreSQL store, shared by every replica.

`record` is one transaction under an advisory lock per source: replicas recording the
same schema at once take turns, so each version number is made once, from the versions
committed before it, and a source's schema count never passes its limit.
"""

from __future__ import annotations

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
from gateway.store.postgres import Conn, PostgresStore

__all__ = ["PostgresSchemaRegistry"]

_INFO = """
SELECT s.name, s.source, s.event_source, s.detail_type, s.compatibility, s.created_at, s.updated_at,
       COALESCE((SELECT max(version) FROM schema_versions v WHERE v.name = s.name), 0), s.overflow,
       ARRAY(SELECT version FROM schema_versions v
             WHERE v.name = s.name AND NOT v.compatible ORDER BY version),
       s.pinned_version
FROM schemas s
"""


def _info(row: Any) -> SchemaInfo:
    return SchemaInfo(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], tuple(row[9]), row[10]
    )


class PostgresSchemaRegistry(SchemaRegistry):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    async def record(
        self, observation: Observation, now: float, *, max_versions: int, max_schemas: int, limits: Limits
    ) -> Recorded:
        obs, name = observation, observation.name

        async def run(conn: Conn) -> Recorded:
            async with conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    [f"hookgate-schemas:{obs.source}"],
                )
                cur = await conn.execute("SELECT compatibility FROM schemas WHERE name = %s", [name])
                row = await cur.fetchone()
                mode: Mode
                if row is None:
                    cur = await conn.execute("SELECT count(*) FROM schemas WHERE source = %s", [obs.source])
                    counted = await cur.fetchone()
                    if counted is not None and counted[0] >= max_schemas:
                        return Recorded(name, None, overflow="schemas")
                    await conn.execute(
                        "INSERT INTO schemas (name, source, event_source, detail_type, compatibility, "
                        "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [name, obs.source, obs.event_source, obs.detail_type, obs.compatibility, now, now],
                    )
                    mode = obs.compatibility
                else:
                    mode = row[0]
                cur = await conn.execute(
                    "SELECT content FROM schema_versions WHERE name = %s ORDER BY version", [name]
                )
                versions = [orjson.loads(r[0]) for r in await cur.fetchall()]
                decision = decide(versions, mode, obs.schema, max_versions=max_versions, limits=limits)
                if decision.overflow:
                    await conn.execute(
                        "UPDATE schemas SET overflow = overflow + %s, updated_at = %s WHERE name = %s",
                        [obs.count, now, name],
                    )
                    return Recorded(name, None, overflow="versions")
                if decision.content is not None and decision.verdict is not None:
                    await conn.execute(
                        "INSERT INTO schema_versions (name, version, content, created_at, event_count, "
                        "sample_event_id, compatible, verdict) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        [
                            name,
                            decision.version,
                            orjson.dumps(decision.content).decode(),
                            now,
                            obs.count,
                            obs.sample_event_id,
                            decision.verdict.compatible,
                            decision.verdict.describe(),
                        ],
                    )
                else:
                    await conn.execute(
                        "UPDATE schema_versions SET event_count = event_count + %s "
                        "WHERE name = %s AND version = %s",
                        [obs.count, name, decision.version],
                    )
                await conn.execute("UPDATE schemas SET updated_at = %s WHERE name = %s", [now, name])
                content = decision.content if decision.content is not None else versions[-1]
                return Recorded(name, decision.version, decision.creates, decision.verdict, content=content)

        return await self.store._run(run)

    async def schemas(self, source: str | None = None) -> list[SchemaInfo]:
        async def run(conn: Conn) -> list[SchemaInfo]:
            if source is None:
                cur = await conn.execute(_INFO + " ORDER BY s.name")
            else:
                cur = await conn.execute(_INFO + " WHERE s.source = %s ORDER BY s.name", [source])
            return [_info(r) for r in await cur.fetchall()]

        return await self.store._run(run)

    async def versions(self, name: str) -> list[SchemaVersion]:
        async def run(conn: Conn) -> list[SchemaVersion]:
            cur = await conn.execute(
                "SELECT name, version, content, created_at, event_count, sample_event_id, compatible, "
                "verdict "
                "FROM schema_versions WHERE name = %s ORDER BY version",
                [name],
            )
            return [
                SchemaVersion(r[0], r[1], orjson.loads(r[2]), r[3], r[4], r[5], bool(r[6]), r[7])
                for r in await cur.fetchall()
            ]

        return await self.store._run(run)

    async def pin(self, name: str, version: int | None) -> bool:
        async def run(conn: Conn) -> bool:
            cur = await conn.execute(
                "UPDATE schemas SET pinned_version = %s WHERE name = %s AND (%s::integer IS NULL OR EXISTS "
                "(SELECT 1 FROM schema_versions v WHERE v.name = %s AND v.version = %s))",
                [version, name, version, name, version],
            )
            return cur.rowcount > 0

        return await self.store._run(run)

    async def set_compatibility(self, name: str, mode: Mode) -> bool:
        async def run(conn: Conn) -> bool:
            cur = await conn.execute("UPDATE schemas SET compatibility = %s WHERE name = %s", [mode, name])
            return cur.rowcount > 0

        return await self.store._run(run)
