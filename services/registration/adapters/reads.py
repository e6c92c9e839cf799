"""The reads of the HTTP API: rows as the views show them, on the pool or a connection.
Commands read and write through the repositories (`adapters/sql.py`)."""

from __future__ import annotations

from typing import Literal, TypeAlias
from uuid import UUID

import asyncpg

from services.registration.adapters.sql import APPLICATION_COLUMNS


async def members(conn: asyncpg.Connection | asyncpg.Pool) -> set[str]:
    return {
        r["municipality_number"]
        for r in await conn.fetch("SELECT municipality_number FROM members")
    }


async def get_round(
    conn: asyncpg.Connection | asyncpg.Pool,
    round_id: str,
    *,
    lock: Literal["share", "update"] | None = None,
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT round_id, interest_deadline, capacity_per_branch, state, state_reason"
        " FROM rounds WHERE round_id = $1" + (f" FOR {lock.upper()}" if lock else ""),
        round_id,
    )


async def municipality_contact_details(
    db: asyncpg.Connection | asyncpg.Pool, registration_id: UUID
) -> list[asyncpg.Record]:
    """The named municipality contacts with their data, for the registration's readers."""
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT c.municipality_number, c.person_id, p.name, p.email, p.phone, p.language"
        " FROM interest_municipality_contacts c JOIN persons p ON p.id = c.person_id"
        " WHERE c.registration_id = $1 ORDER BY c.municipality_number",
        registration_id,
    )
    return rows


async def round_development_areas(conn: Reader, round_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT branch_id, areas, set_at, set_by FROM development_areas WHERE round_id = $1"
        " ORDER BY branch_id",
        round_id,
    )
    return rows


async def development_report(conn: Reader, round_id: str) -> list[asyncpg.Record]:
    """Every application past its draft, with its areas and themes, for the report."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT branch_id, county_number, municipality_number, status, development_areas,"
        " own_development_areas, themes FROM applications"
        " WHERE round_id = $1 AND status <> 'draft' ORDER BY branch_id, municipality_number",
        round_id,
    )
    return rows


async def round_status(
    conn: asyncpg.Pool | asyncpg.Connection, round_id: str
) -> list[asyncpg.Record]:
    """Per county: interested, applied, admitted, wait-listed, declined, withdrawn municipalities."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        WITH interested AS (
            SELECT substr(m, 1, 2) AS county_number, count(DISTINCT m) AS n
            FROM interest_registrations, unnest(municipality_numbers) AS m
            WHERE round_id = $1 GROUP BY 1
        ), apps AS (
            SELECT county_number,
                   count(*) FILTER (WHERE status <> 'draft') AS applied,
                   count(*) FILTER (WHERE status = 'admitted') AS admitted,
                   count(*) FILTER (WHERE status = 'waitlisted') AS waitlisted,
                   count(*) FILTER (WHERE status = 'declined') AS declined,
                   count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn,
                   count(*) FILTER (WHERE status = 'revoked') AS revoked
            FROM applications WHERE round_id = $1 GROUP BY 1
        )
        SELECT coalesce(i.county_number, a.county_number) AS county_number,
               coalesce(i.n, 0) AS interested, coalesce(a.applied, 0) AS applied,
               coalesce(a.admitted, 0) AS admitted, coalesce(a.waitlisted, 0) AS waitlisted,
               coalesce(a.declined, 0) AS declined, coalesce(a.withdrawn, 0) AS withdrawn,
               coalesce(a.revoked, 0) AS revoked
        FROM interested i FULL JOIN apps a ON a.county_number = i.county_number
        ORDER BY 1
        """,
        round_id,
    )
    return rows


async def municipality_status(
    conn: asyncpg.Pool, round_id: str, municipality: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT a.id AS application_id, a.status, a.submitted_at, a.decided_at, a.decision_reason,"
        " a.promoted_from_waitlist, a.withdrawn_at, a.withdrawal_reason, a.revoked_at,"
        " a.revocation_reason, a.branch_id,"
        " CASE WHEN a.status = 'draft' THEN jsonb_array_length(a.draft_group) ELSE"
        " (SELECT count(*) FROM group_members g WHERE g.application_id = a.id AND g.removed_at IS NULL)"
        " END AS group_size,"
        " EXISTS (SELECT 1 FROM interest_registrations i WHERE i.round_id = a.round_id"
        "         AND a.municipality_number = ANY(i.municipality_numbers)) AS interested"
        " FROM applications a WHERE a.round_id = $1 AND a.municipality_number = $2",
        round_id,
        municipality,
    )


async def interested_in(conn: asyncpg.Pool, round_id: str, municipality: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM interest_registrations WHERE round_id = $1"
            " AND $2 = ANY(municipality_numbers))",
            round_id,
            municipality,
        )
    )


Reader: TypeAlias = asyncpg.Pool | asyncpg.Connection


async def rounds(conn: Reader) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT round_id, interest_deadline, capacity_per_branch, state, state_reason, opened_at"
        " FROM rounds ORDER BY round_id"
    )
    return rows


async def windows(conn: Reader, round_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT county_number, opens_on, deadline FROM application_windows WHERE round_id = $1"
        " ORDER BY county_number",
        round_id,
    )
    return rows


INTEREST_READ = (
    "SELECT i.id, i.round_id, i.branch_id, i.municipality_numbers, i.contact_person_id,"
    " i.message, i.registered_at, i.updated_at, p.name AS contact_name, p.email AS contact_email,"
    " p.phone AS contact_phone, p.language AS contact_language"
    " FROM interest_registrations i JOIN persons p ON p.id = i.contact_person_id"
)


async def interest_registrations(
    conn: Reader, round_id: str, branch_id: str | None = None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        INTEREST_READ + " WHERE i.round_id = $1 AND ($2::text IS NULL OR i.branch_id = $2)"
        " ORDER BY i.branch_id",
        round_id,
        branch_id,
    )
    return rows


async def interest_registration(conn: Reader, registration_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(INTEREST_READ + " WHERE i.id = $1", registration_id)


async def interest_history(conn: Reader, registration_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT at, municipality_numbers, added, removed, contact_changed, message"
        " FROM interest_history WHERE registration_id = $1 ORDER BY seq",
        registration_id,
    )
    return rows


async def applications(
    conn: Reader, round_id: str, *, branch_id: str | None = None, status: str | None = None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {APPLICATION_COLUMNS},"
        " CASE WHEN status = 'draft' THEN jsonb_array_length(draft_group) ELSE"
        "  (SELECT count(*) FROM group_members g WHERE g.application_id = a.id"
        "   AND g.removed_at IS NULL) END AS group_size"
        " FROM applications a WHERE round_id = $1 AND ($2::text IS NULL OR branch_id = $2)"
        " AND ($3::text IS NULL OR status = $3) ORDER BY municipality_number",
        round_id,
        branch_id,
        status,
    )
    return rows


async def application(conn: Reader, round_id: str, municipality: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {APPLICATION_COLUMNS} FROM applications"
        " WHERE round_id = $1 AND municipality_number = $2",
        round_id,
        municipality,
    )


async def group_of(conn: Reader, application_id: UUID) -> list[asyncpg.Record]:
    """The active kommunegruppe with contact details (none once a person is erased)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT g.person_id, g.role, g.organisation, g.committed, g.added_at, p.name, p.email,"
        " p.phone, p.language FROM group_members g JOIN persons p ON p.id = g.person_id"
        " WHERE g.application_id = $1 AND g.removed_at IS NULL ORDER BY g.seq",
        application_id,
    )
    return rows


async def participants(
    conn: Reader, round_id: str, branch_id: str | None = None
) -> list[asyncpg.Record]:
    """Admitted municipalities' kommunegruppe members with their contacts, for the export."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT a.branch_id, a.county_number, a.municipality_number, a.promoted_from_waitlist,"
        " g.role, g.organisation, p.name, p.email, p.phone, p.language"
        " FROM applications a JOIN group_members g ON g.application_id = a.id"
        " AND g.removed_at IS NULL JOIN persons p ON p.id = g.person_id"
        " WHERE a.round_id = $1 AND a.status = 'admitted'"
        " AND ($2::text IS NULL OR a.branch_id = $2)"
        " ORDER BY a.branch_id, a.municipality_number, g.seq",
        round_id,
        branch_id,
    )
    return rows


async def branch_counts(conn: Reader, round_id: str) -> list[asyncpg.Record]:
    """Per branch: whether it registered interest (with or without municipalities), how many
    municipalities it named, and the applications by status."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        WITH interest AS (
            SELECT branch_id, cardinality(municipality_numbers) AS n
            FROM interest_registrations WHERE round_id = $1
        ), apps AS (
            SELECT branch_id,
                   count(*) FILTER (WHERE status = 'draft') AS drafts,
                   count(*) FILTER (WHERE status <> 'draft') AS applied,
                   count(*) FILTER (WHERE status = 'admitted') AS admitted,
                   count(*) FILTER (WHERE status = 'waitlisted') AS waitlisted,
                   count(*) FILTER (WHERE status = 'declined') AS declined,
                   count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn,
                   count(*) FILTER (WHERE status = 'revoked') AS revoked,
                   count(*) FILTER (WHERE promoted_from_waitlist AND status = 'admitted')
                       AS promoted
            FROM applications WHERE round_id = $1 GROUP BY 1
        )
        SELECT coalesce(i.branch_id, a.branch_id) AS branch_id,
               i.branch_id IS NOT NULL AS registered_interest,
               coalesce(i.n, 0) AS interested,
               coalesce(a.drafts, 0) AS drafts, coalesce(a.applied, 0) AS applied,
               coalesce(a.admitted, 0) AS admitted, coalesce(a.waitlisted, 0) AS waitlisted,
               coalesce(a.declined, 0) AS declined, coalesce(a.withdrawn, 0) AS withdrawn,
               coalesce(a.revoked, 0) AS revoked, coalesce(a.promoted, 0) AS promoted
        FROM interest i FULL JOIN apps a ON a.branch_id = i.branch_id
        ORDER BY 1
        """,
        round_id,
    )
    return rows
