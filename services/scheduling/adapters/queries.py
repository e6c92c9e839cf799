"""The reads the HTTP API, the answer pages and the feeds make, on the pool: rows as the
answers show them. The handlers do not use these; they load and save whole aggregates
through adapters/unit.py. `region_state` is shared: the SQL unit reads it the same way."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

from services.scheduling.domain.invitations import Member, RegionState
from shared.contracts.events.scheduling import InviteeRole

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def round_states(db: Db) -> dict[str, str]:
    return {r["round_id"]: r["state"] for r in await db.fetch("SELECT * FROM rounds")}


async def round_state(db: Db, round_id: str) -> str | None:
    state: str | None = await db.fetchval("SELECT state FROM rounds WHERE round_id = $1", round_id)
    return state


async def semesters(db: Db, round_id: str, region: str) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT number, starts_on, ends_on FROM semesters"
            " WHERE round_id = $1 AND region = $2 ORDER BY number",
            round_id,
            region,
        )
    )


async def get_gathering(db: Db, gathering_id: UUID) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM gatherings WHERE id = $1", gathering_id)


def venue_of(row: asyncpg.Record) -> dict[str, Any]:
    venue = row["venue"]
    found: dict[str, Any] = json.loads(venue) if isinstance(venue, str) else dict(venue)
    return found


async def region_days(conn: Db, round_id: str, region: str) -> list[date]:
    rows = await conn.fetch(
        "SELECT DISTINCT (starts_at AT TIME ZONE 'Europe/Oslo')::date AS day FROM gatherings"
        " WHERE round_id = $1 AND region = $2 AND status = 'scheduled'"
        " AND kind IN ('samling', 'presamling', 'delingsarena')",
        round_id,
        region,
    )
    return [r["day"] for r in rows]


async def invitations(
    db: Db, gathering_id: UUID, *, active_only: bool = True
) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT * FROM invitations WHERE gathering_id = $1"
            + (" AND active" if active_only else "")
            + " ORDER BY invitee_key",
            gathering_id,
        )
    )


async def invitation_by_id(conn: Db, invitation_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM invitations WHERE id = $1", invitation_id)


async def region_state(conn: Db, round_id: str, region: str) -> RegionState:
    interests = await conn.fetch(
        "SELECT contact_person_id, municipality_numbers FROM interests"
        " WHERE round_id = $1 AND branch_id = $2",
        round_id,
        region,
    )
    contacts = await conn.fetch(
        "SELECT municipality_number, person_id FROM interest_municipality_contacts"
        " WHERE round_id = $1 AND branch_id = $2",
        round_id,
        region,
    )
    members = await conn.fetch(
        "SELECT m.municipality_number, m.person_id, m.role FROM group_members m"
        " JOIN participants p USING (round_id, municipality_number)"
        " WHERE p.round_id = $1 AND p.branch_id = $2 AND p.status = 'admitted'"
        " ORDER BY m.municipality_number, m.person_id",
        round_id,
        region,
    )
    gone = await conn.fetch(
        "SELECT municipality_number FROM participants WHERE round_id = $1 AND branch_id = $2"
        " AND status IN ('withdrawn', 'revoked')",
        round_id,
        region,
    )
    groups: dict[str, list[Member]] = {}
    for row in members:
        groups.setdefault(row["municipality_number"], []).append(
            Member(row["person_id"], InviteeRole(row["role"]))
        )
    return RegionState(
        region=region,
        interested=frozenset(n for r in interests for n in r["municipality_numbers"]),
        board_contacts=frozenset(
            r["contact_person_id"] for r in interests if r["contact_person_id"] is not None
        ),
        groups=groups,
        left=frozenset(r["municipality_number"] for r in gone),
        municipality_contacts={r["municipality_number"]: r["person_id"] for r in contacts},
    )


async def delingsarena_proposals(db: Db, round_id: str, region: str | None) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT * FROM delingsarena_proposals WHERE round_id = $1"
            " AND ($2::text IS NULL OR region = $2) ORDER BY proposed_at, id",
            round_id,
            region,
        )
    )


async def calendar(
    db: Db, *, round_id: str | None, region: str | None, municipality: str | None = None
) -> list[asyncpg.Record]:
    """Gatherings (cancelled ones too: a feed must say CANCELLED), oldest first.

    For a municipality: the gatherings that invite it or any of its people."""
    return list(
        await db.fetch(
            "SELECT g.* FROM gatherings g"
            " WHERE ($1::text IS NULL OR g.round_id = $1) AND ($2::text IS NULL OR g.region = $2)"
            " AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM invitations i"
            "      WHERE i.gathering_id = g.id AND i.municipality_number = $3"
            "      AND (i.active OR g.status = 'cancelled')))"
            " ORDER BY g.starts_at, g.id",
            round_id,
            region,
            municipality,
        )
    )


async def dialogue_requests(db: Db, round_id: str, region: str | None) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT * FROM dialogue_requests WHERE round_id = $1"
            " AND ($2::text IS NULL OR region = $2) ORDER BY requested_at, id",
            round_id,
            region,
        )
    )


async def recorded_attendance(db: Db, round_id: str, region: str | None) -> list[tuple[str, bool]]:
    rows = await db.fetch(
        "SELECT i.municipality_number, i.attended FROM invitations i"
        " JOIN gatherings g ON g.id = i.gathering_id"
        " WHERE g.round_id = $1 AND ($2::text IS NULL OR g.region = $2)"
        " AND g.status = 'scheduled' AND i.active AND i.attended IS NOT NULL"
        " AND i.municipality_number IS NOT NULL",
        round_id,
        region,
    )
    return [(r["municipality_number"], r["attended"]) for r in rows]


async def interim_work_of_region(db: Db, round_id: str, region: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT w.*, a.starts_at AS after_starts_at FROM interim_work w"
        " JOIN gatherings a ON a.id = w.after_gathering_id"
        " WHERE w.round_id = $1 AND w.region = $2 ORDER BY w.due_on, a.starts_at, w.title",
        round_id,
        region,
    )
    return rows


async def interim_reports_of_region(db: Db, round_id: str, region: str) -> list[asyncpg.Record]:
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
