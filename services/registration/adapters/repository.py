"""SQL of the registration service; every function runs on the caller's transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

import asyncpg

from shared.events.registration import ContactPerson


async def add_person(conn: asyncpg.Connection, *, person_id: UUID, contact: ContactPerson) -> None:
    await conn.execute(
        "INSERT INTO persons (id, name, email, phone, language) VALUES ($1, $2, $3, $4, $5)",
        person_id,
        contact.name,
        str(contact.email),
        contact.phone,
        contact.language.value,
    )


async def add_interest(
    conn: asyncpg.Connection,
    *,
    registration_id: UUID,
    round_id: str,
    branch_id: str,
    municipality_numbers: list[str],
    contact_person_id: UUID,
    message: str,
    registered_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO interest_registrations (id, round_id, branch_id, municipality_numbers,"
        " contact_person_id, message, registered_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        registration_id,
        round_id,
        branch_id,
        municipality_numbers,
        contact_person_id,
        message,
        registered_at,
    )


async def get_interest(
    conn: asyncpg.Connection | asyncpg.Pool, registration_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, round_id, branch_id, municipality_numbers, contact_person_id, message,"
        " registered_at"
        " FROM interest_registrations WHERE id = $1",
        registration_id,
    )


# --- persons ----------------------------------------------------------------------------------


async def update_person(
    conn: asyncpg.Connection, *, person_id: UUID, contact: ContactPerson
) -> None:
    await conn.execute(
        "UPDATE persons SET name = $2, email = $3, phone = $4, language = $5 WHERE id = $1",
        person_id,
        contact.name,
        str(contact.email),
        contact.phone,
        contact.language.value,
    )


async def person_email(conn: asyncpg.Connection, person_id: UUID) -> str | None:
    value = await conn.fetchval("SELECT email FROM persons WHERE id = $1", person_id)
    return str(value) if value is not None else None


async def erase_person(conn: asyncpg.Connection, person_id: UUID, *, contacts_topic: str) -> bool:
    """Remove a person's contact data wherever this schema holds it; False if there is none.

    The id stays, so that history keeps its shape. Gone are: the data on the person, every
    contact-details message of theirs in the outbox (published or not: the tombstone that
    follows is what the topic keeps), and their entries in unsubmitted drafts' groups (matched
    by e-mail address, as drafts hold no person ids yet).
    """
    email = await conn.fetchval(
        "SELECT email FROM persons WHERE id = $1 AND erased_at IS NULL FOR UPDATE", person_id
    )
    if email is None:
        return False
    await conn.execute(
        "UPDATE persons SET name = NULL, email = NULL, phone = NULL, erased_at = now()"
        " WHERE id = $1",
        person_id,
    )
    await conn.execute(
        "DELETE FROM outbox WHERE topic = $1 AND key = $2 AND payload IS NOT NULL",
        contacts_topic,
        str(person_id),
    )
    await conn.execute(
        "UPDATE applications SET draft_group = (SELECT coalesce(jsonb_agg(m ORDER BY i), '[]')"
        "  FROM jsonb_array_elements(draft_group) WITH ORDINALITY AS e(m, i)"
        "  WHERE lower(m ->> 'email') IS DISTINCT FROM lower($1))"
        " WHERE status = 'draft' AND EXISTS (SELECT 1 FROM jsonb_array_elements(draft_group) m"
        "  WHERE lower(m ->> 'email') = lower($1))",
        email,
    )
    return True


async def person_in_use(conn: asyncpg.Connection, person_id: UUID) -> bool:
    """Whether anything here still refers to the person (a registration or a group)."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM interest_registrations WHERE contact_person_id = $1)"
            " OR EXISTS (SELECT 1 FROM group_members WHERE person_id = $1)",
            person_id,
        )
    )


# --- membership -------------------------------------------------------------------------------


async def members(conn: asyncpg.Connection | asyncpg.Pool) -> set[str]:
    return {
        r["municipality_number"]
        for r in await conn.fetch("SELECT municipality_number FROM members")
    }


async def members_among(conn: asyncpg.Connection, numbers: list[str]) -> set[str]:
    """Which of `numbers` are members (one indexed look-up, not the whole list)."""
    rows = await conn.fetch(
        "SELECT municipality_number FROM members WHERE municipality_number = ANY($1)", numbers
    )
    return {r["municipality_number"] for r in rows}


async def replace_members(conn: asyncpg.Connection, numbers: set[str]) -> None:
    await conn.execute(
        "DELETE FROM members WHERE NOT (municipality_number = ANY($1))", list(numbers)
    )
    await conn.executemany(
        "INSERT INTO members (municipality_number) VALUES ($1) ON CONFLICT DO NOTHING",
        [(n,) for n in sorted(numbers)],
    )


# --- rounds and windows -------------------------------------------------------------------------


async def get_round(
    conn: asyncpg.Connection | asyncpg.Pool,
    round_id: str,
    *,
    lock: Literal["share", "update"] | None = None,
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT round_id, interest_deadline, capacity_per_branch FROM rounds WHERE round_id = $1"
        + (f" FOR {lock.upper()}" if lock else ""),
        round_id,
    )


async def add_round(
    conn: asyncpg.Connection,
    *,
    round_id: str,
    interest_deadline: date,
    capacity_per_branch: dict[str, int],
) -> bool:
    status = await conn.execute(
        "INSERT INTO rounds (round_id, interest_deadline, capacity_per_branch) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        round_id,
        interest_deadline,
        capacity_per_branch,
    )
    return bool(status.endswith(" 1"))


async def set_interest_deadline(conn: asyncpg.Connection, round_id: str, deadline: date) -> None:
    await conn.execute(
        "UPDATE rounds SET interest_deadline = $2 WHERE round_id = $1", round_id, deadline
    )


async def get_window(conn: asyncpg.Connection, round_id: str, county: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT opens_on, deadline FROM application_windows WHERE round_id = $1 AND county_number = $2",
        round_id,
        county,
    )


async def add_window(
    conn: asyncpg.Connection, *, round_id: str, county: str, opens_on: date, deadline: date
) -> bool:
    status = await conn.execute(
        "INSERT INTO application_windows (round_id, county_number, opens_on, deadline)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        round_id,
        county,
        opens_on,
        deadline,
    )
    return bool(status.endswith(" 1"))


async def set_window_deadline(
    conn: asyncpg.Connection, round_id: str, county: str, deadline: date
) -> None:
    await conn.execute(
        "UPDATE application_windows SET deadline = $3 WHERE round_id = $1 AND county_number = $2",
        round_id,
        county,
        deadline,
    )


# --- interest ------------------------------------------------------------------------------------


async def get_interest_for(
    conn: asyncpg.Connection, *, round_id: str, branch_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, contact_person_id FROM interest_registrations"
        " WHERE round_id = $1 AND branch_id = $2 FOR UPDATE",
        round_id,
        branch_id,
    )


async def update_interest(
    conn: asyncpg.Connection,
    *,
    registration_id: UUID,
    municipality_numbers: list[str],
    contact_person_id: UUID,
    message: str,
    updated_at: datetime,
) -> None:
    await conn.execute(
        "UPDATE interest_registrations SET municipality_numbers = $2, contact_person_id = $3,"
        " message = $4, updated_at = $5 WHERE id = $1",
        registration_id,
        municipality_numbers,
        contact_person_id,
        message,
        updated_at,
    )


# --- applications --------------------------------------------------------------------------------

APPLICATION_COLUMNS = (
    "id, round_id, municipality_number, county_number, branch_id, status, motivation,"
    " development_areas, co_creation_plan, draft_group, submitted_at, decided_at, decision_reason,"
    " waitlist_sequence"
)


async def get_application(
    conn: asyncpg.Connection, round_id: str, municipality: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {APPLICATION_COLUMNS} FROM applications"
        " WHERE round_id = $1 AND municipality_number = $2 FOR UPDATE",
        round_id,
        municipality,
    )


async def save_draft(
    conn: asyncpg.Connection,
    *,
    application_id: UUID,
    round_id: str,
    municipality: str,
    county: str,
    branch_id: str,
    motivation: str,
    development_areas: list[str],
    co_creation_plan: str,
    draft_group: list[dict[str, object]],
) -> None:
    await conn.execute(
        "INSERT INTO applications (id, round_id, municipality_number, county_number, branch_id, status,"
        " motivation, development_areas, co_creation_plan, draft_group)"
        " VALUES ($1, $2, $3, $4, $5, 'draft', $6, $7, $8, $9)"
        " ON CONFLICT (round_id, municipality_number) DO UPDATE SET motivation = $6,"
        " development_areas = $7, co_creation_plan = $8, draft_group = $9",
        application_id,
        round_id,
        municipality,
        county,
        branch_id,
        motivation,
        development_areas,
        co_creation_plan,
        draft_group,
    )


async def mark_submitted(conn: asyncpg.Connection, application_id: UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE applications SET status = 'submitted', submitted_at = $2, draft_group = '[]'"
        " WHERE id = $1",
        application_id,
        at,
    )


async def add_group_member(
    conn: asyncpg.Connection,
    *,
    application_id: UUID,
    person_id: UUID,
    role: str,
    organisation: str,
    committed: bool,
) -> None:
    await conn.execute(
        "INSERT INTO group_members (application_id, person_id, role, organisation, committed)"
        " VALUES ($1, $2, $3, $4, $5)",
        application_id,
        person_id,
        role,
        organisation,
        committed,
    )


async def active_group(conn: asyncpg.Connection, application_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT g.person_id, g.role, g.committed, coalesce(p.email, g.person_id::text) AS email"
        " FROM group_members g JOIN persons p ON p.id = g.person_id"
        " WHERE g.application_id = $1 AND g.removed_at IS NULL ORDER BY g.seq",
        application_id,
    )
    return rows


async def remove_group_member(
    conn: asyncpg.Connection, application_id: UUID, person_id: UUID
) -> None:
    await conn.execute(
        "UPDATE group_members SET removed_at = now() WHERE application_id = $1 AND person_id = $2",
        application_id,
        person_id,
    )


async def set_status(
    conn: asyncpg.Connection,
    application_id: UUID,
    status: str,
    *,
    at: datetime,
    reason: str | None = None,
    waitlist: bool = False,
) -> None:
    await conn.execute(
        "UPDATE applications SET status = $2, decided_at = $3, decision_reason = $4,"
        " waitlist_sequence = CASE WHEN $5 THEN nextval('waitlist_order') ELSE NULL END WHERE id = $1",
        application_id,
        status,
        at,
        reason,
        waitlist,
    )


async def lock_region(conn: asyncpg.Connection, round_id: str, branch_id: str) -> None:
    """Serialise decisions within one region so that capacity holds under concurrency."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))", f"region:{round_id}:{branch_id}"
    )


async def count_status(conn: asyncpg.Connection, round_id: str, branch_id: str, status: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM applications WHERE round_id = $1 AND branch_id = $2 AND status = $3",
            round_id,
            branch_id,
            status,
        )
    )


async def waitlist(conn: asyncpg.Connection, round_id: str, branch_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT municipality_number, waitlist_sequence FROM applications"
        " WHERE round_id = $1 AND branch_id = $2 AND status = 'waitlisted' ORDER BY waitlist_sequence",
        round_id,
        branch_id,
    )
    return rows


# --- queries ----------------------------------------------------------------------------------------


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
                   count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn
            FROM applications WHERE round_id = $1 GROUP BY 1
        )
        SELECT coalesce(i.county_number, a.county_number) AS county_number,
               coalesce(i.n, 0) AS interested, coalesce(a.applied, 0) AS applied,
               coalesce(a.admitted, 0) AS admitted, coalesce(a.waitlisted, 0) AS waitlisted,
               coalesce(a.declined, 0) AS declined, coalesce(a.withdrawn, 0) AS withdrawn
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
        " (SELECT count(*) FROM group_members g WHERE g.application_id = a.id AND g.removed_at IS NULL)"
        " AS group_size,"
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
