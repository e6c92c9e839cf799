"""SQL of mellomarbeid (interim work) and its reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def insert(conn: asyncpg.Connection, **row: Any) -> bool:
    """False when the id is taken (a retry, or another's id)."""
    inserted = await conn.fetchval(
        "INSERT INTO interim_work (id, round_id, region, after_gathering_id, title, description,"
        " due_on, set_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (id) DO NOTHING RETURNING true",
        row["id"],
        row["round_id"],
        row["region"],
        row["after_gathering_id"],
        row["title"],
        row["description"],
        row["due_on"],
        row["set_at"],
    )
    return bool(inserted)


async def get(db: Db, interim_work_id: UUID) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM interim_work WHERE id = $1", interim_work_id)


async def save_report(
    conn: asyncpg.Connection,
    interim_work_id: UUID,
    municipality_number: str,
    report: str,
    at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO interim_work_reports (interim_work_id, municipality_number, report,"
        " reported_at) VALUES ($1, $2, $3, $4) ON CONFLICT (interim_work_id, municipality_number)"
        " DO UPDATE SET report = EXCLUDED.report, reported_at = EXCLUDED.reported_at",
        interim_work_id,
        municipality_number,
        report,
        at,
    )


async def of_region(db: Db, round_id: str, region: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT w.*, a.starts_at AS after_starts_at FROM interim_work w"
        " JOIN gatherings a ON a.id = w.after_gathering_id"
        " WHERE w.round_id = $1 AND w.region = $2 ORDER BY w.due_on, a.starts_at, w.title",
        round_id,
        region,
    )
    return rows


async def reports_of_region(db: Db, round_id: str, region: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT r.* FROM interim_work_reports r JOIN interim_work w ON w.id = r.interim_work_id"
        " WHERE w.round_id = $1 AND w.region = $2",
        round_id,
        region,
    )
    return rows


async def admitted(db: Db, round_id: str, region: str) -> list[str]:
    return [
        r["municipality_number"]
        for r in await db.fetch(
            "SELECT municipality_number FROM participants"
            " WHERE round_id = $1 AND branch_id = $2 AND status = 'admitted'"
            " ORDER BY municipality_number",
            round_id,
            region,
        )
    ]


async def due_before(
    db: Db, round_id: str, region: str, starts_at: datetime
) -> list[tuple[UUID, str, date]]:
    """The work set after the samling before one starting at `starts_at` (none cancelled
    between them): what that samling's invitations list as due."""
    rows = await db.fetch(
        "SELECT w.id, w.title, w.due_on FROM interim_work w"
        " JOIN gatherings a ON a.id = w.after_gathering_id"
        " WHERE w.round_id = $1 AND w.region = $2 AND a.starts_at < $3"
        " AND NOT EXISTS (SELECT 1 FROM gatherings g WHERE g.round_id = w.round_id"
        "   AND g.region = w.region AND g.kind = 'samling' AND g.status <> 'cancelled'"
        "   AND g.starts_at > a.starts_at AND g.starts_at < $3)"
        " ORDER BY w.due_on, w.title",
        round_id,
        region,
        starts_at,
    )
    return [(r["id"], r["title"], r["due_on"]) for r in rows]
