"""SQL of the registration service; every function runs on the caller's transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, TypeAlias
from uuid import UUID

import asyncpg

from shared.contracts.events.registration import ContactPerson
from shared.messaging.outbox import write_queued_rows


async def add_person(conn: asyncpg.Connection, *, person_id: UUID, contact: ContactPerson) -> None:
    await conn.execute(
        "INSERT INTO persons (id, name, email, phone, language) VALUES ($1, $2, $3, $4, $5)",
        person_id,
        contact.name,
        str(contact.email),
        contact.phone,
        contact.language.value,
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


async def person_contact(conn: asyncpg.Connection, person_id: UUID) -> ContactPerson | None:
    """The person's contact details, or None once erased."""
    row = await conn.fetchrow(
        "SELECT name, email, phone, language FROM persons WHERE id = $1 AND erased_at IS NULL",
        person_id,
    )
    if row is None:
        return None
    return ContactPerson.model_validate(dict(row))


async def erase_person(
    conn: asyncpg.Connection, person_id: UUID, *, contacts_topic: str, erased_by: str | None = None
) -> bool:
    """Remove a person's contact data wherever this schema holds it; False if there is none.

    The id stays, so that history keeps its shape. Gone are: the data on the person, every
    contact-details message of theirs in the outbox (published or not: the tombstone that
    follows is what the topic keeps), their entries in unsubmitted drafts' groups (matched
    by e-mail address, as drafts hold no person ids yet), and the mails they sent to the
    programme mailbox (by address; the rows stay, empty, with what became of them).
    """
    email = await conn.fetchval(
        "SELECT email FROM persons WHERE id = $1 AND erased_at IS NULL FOR UPDATE", person_id
    )
    if email is None:
        return False
    await conn.execute(
        "UPDATE persons SET name = NULL, email = NULL, phone = NULL, erased_at = now(),"
        " erased_by = $2 WHERE id = $1",
        person_id,
        erased_by,
    )
    await write_queued_rows(conn)  # records of theirs queued earlier in the batch go too
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
    await conn.execute(
        "UPDATE inbound_interest SET sender_name = '', sender_email = '', mail_from = '',"
        " subject = '', body = '', message_id = NULL"
        " WHERE lower(sender_email) = lower($1) OR lower(mail_from) = lower($1)",
        email,
    )
    return True


async def person_in_use(conn: asyncpg.Connection, person_id: UUID) -> bool:
    """Whether anything here still refers to the person (a registration or a group)."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM interest_registrations WHERE contact_person_id = $1)"
            " OR EXISTS (SELECT 1 FROM group_members WHERE person_id = $1)"
            " OR EXISTS (SELECT 1 FROM branch_contacts WHERE person_id = $1)"
            " OR EXISTS (SELECT 1 FROM interest_municipality_contacts WHERE person_id = $1)",
            person_id,
        )
    )


async def branch_contact(
    conn: asyncpg.Connection, branch_id: str
) -> tuple[UUID, str | None] | None:
    """The branch's board contact: their id and e-mail address (None once erased)."""
    row = await conn.fetchrow(
        "SELECT b.person_id, p.email FROM branch_contacts b JOIN persons p ON p.id = b.person_id"
        " WHERE b.branch_id = $1 FOR UPDATE OF b",
        branch_id,
    )
    return (row["person_id"], row["email"]) if row is not None else None


async def set_branch_contact(
    conn: asyncpg.Connection,
    *,
    branch_id: str,
    person_id: UUID,
    contact: ContactPerson,
    at: datetime,
    by: str | None,
) -> None:
    """The person (added, or updated under the same id) and the branch's contact, at once."""
    await conn.execute(
        "WITH person AS ("
        "  INSERT INTO persons (id, name, email, phone, language) VALUES ($1, $2, $3, $4, $5)"
        "  ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,"
        "  phone = EXCLUDED.phone, language = EXCLUDED.language)"
        " INSERT INTO branch_contacts (branch_id, person_id, set_at, set_by)"
        " VALUES ($6, $1, $7, $8) ON CONFLICT (branch_id) DO UPDATE"
        " SET person_id = $1, set_at = $7, set_by = $8",
        person_id,
        contact.name,
        str(contact.email),
        contact.phone,
        contact.language.value,
        branch_id,
        at,
        by,
    )


async def branch_contact_ids(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, UUID]:
    """Every branch with a board contact set, and the contact's id."""
    rows = await conn.fetch("SELECT branch_id, person_id FROM branch_contacts")
    return {r["branch_id"]: r["person_id"] for r in rows}


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
        "SELECT round_id, interest_deadline, capacity_per_branch, state, state_reason"
        " FROM rounds WHERE round_id = $1" + (f" FOR {lock.upper()}" if lock else ""),
        round_id,
    )


async def set_round_state(conn: asyncpg.Connection, round_id: str, state: str, reason: str) -> None:
    await conn.execute(
        "UPDATE rounds SET state = $2, state_reason = $3 WHERE round_id = $1",
        round_id,
        state,
        reason,
    )


async def set_capacity(conn: asyncpg.Connection, round_id: str, capacity: dict[str, int]) -> None:
    await conn.execute(
        "UPDATE rounds SET capacity_per_branch = $2 WHERE round_id = $1", round_id, capacity
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
        "SELECT opens_on, deadline FROM application_windows"
        " WHERE round_id = $1 AND county_number = $2",
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


async def interest_intake(
    conn: asyncpg.Connection,
    *,
    round_id: str,
    branch_id: str | None,
    municipality_numbers: list[str],
) -> asyncpg.Record | None:
    """What registering interest reads, in one round trip: the round (shared lock, so that
    its deadline cannot move under the command), which of the municipalities are members,
    and the branch's registration so far (locked, with its contact's e-mail address).

    None when the round does not exist. The registration is locked after the round, as
    the other commands on a round take them.
    """
    return await conn.fetchrow(
        "WITH r AS ("
        "  SELECT round_id, interest_deadline, capacity_per_branch, state, state_reason"
        "  FROM rounds WHERE round_id = $1 FOR SHARE"
        "), i AS ("
        "  SELECT i.id, i.contact_person_id, i.municipality_numbers, p.email AS contact_email"
        "  FROM interest_registrations AS i"
        "  LEFT JOIN persons AS p ON p.id = i.contact_person_id"
        "  WHERE i.round_id = (SELECT round_id FROM r) AND i.branch_id = $2 FOR UPDATE OF i"
        ")"
        " SELECT r.*, i.id, i.contact_person_id, i.municipality_numbers, i.contact_email,"
        "  ARRAY(SELECT municipality_number FROM members"
        "        WHERE municipality_number = ANY($3::text[])) AS members"
        " FROM r LEFT JOIN i ON true",
        round_id,
        branch_id,
        municipality_numbers,
    )


async def save_interest(
    conn: asyncpg.Connection,
    *,
    registration_id: UUID,
    new: bool,
    round_id: str,
    branch_id: str,
    municipality_numbers: list[str],
    person_id: UUID,
    contact: ContactPerson,
    message: str,
    at: datetime,
    added: list[str],
    removed: list[str],
    contact_changed: bool,
) -> None:
    """A registration as registered (`new`) or registered again, its contact person (added,
    or updated under the same id) and a line of its history, in one statement.

    The foreign keys between the three are checked at the end of the statement, when all
    three rows are there.
    """
    registration = (
        "INSERT INTO interest_registrations (id, round_id, branch_id, municipality_numbers,"
        " contact_person_id, message, registered_at) VALUES ($6, $7, $8, $9, $1, $10, $11)"
        if new
        else "UPDATE interest_registrations SET municipality_numbers = $9,"
        " contact_person_id = $1, message = $10, updated_at = $11"
        " WHERE id = $6 AND round_id = $7 AND branch_id = $8"
    )
    await conn.execute(
        "WITH person AS ("
        "  INSERT INTO persons (id, name, email, phone, language) VALUES ($1, $2, $3, $4, $5)"
        "  ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,"
        "  phone = EXCLUDED.phone, language = EXCLUDED.language"
        f"), registration AS ({registration})"
        " INSERT INTO interest_history (registration_id, at, municipality_numbers, added,"
        " removed, contact_changed, message) VALUES ($6, $11, $9, $12, $13, $14, $10)",
        person_id,
        contact.name,
        str(contact.email),
        contact.phone,
        contact.language.value,
        registration_id,
        round_id,
        branch_id,
        municipality_numbers,
        message,
        at,
        added,
        removed,
        contact_changed,
    )


async def municipality_contacts(
    conn: asyncpg.Connection, registration_id: UUID
) -> dict[str, tuple[UUID, str | None]]:
    """Each named municipality's contact: (person id, e-mail address; None once erased)."""
    rows = await conn.fetch(
        "SELECT c.municipality_number, c.person_id, p.email FROM interest_municipality_contacts c"
        " JOIN persons p ON p.id = c.person_id WHERE c.registration_id = $1",
        registration_id,
    )
    return {r["municipality_number"]: (r["person_id"], r["email"]) for r in rows}


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


async def save_municipality_contact(
    conn: asyncpg.Connection,
    *,
    registration_id: UUID,
    municipality_number: str,
    person_id: UUID,
    contact: ContactPerson,
) -> None:
    """The person (added, or updated under the same id) and whom they speak for."""
    await conn.execute(
        "WITH person AS ("
        "  INSERT INTO persons (id, name, email, phone, language) VALUES ($1, $2, $3, $4, $5)"
        "  ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,"
        "  phone = EXCLUDED.phone, language = EXCLUDED.language"
        ") INSERT INTO interest_municipality_contacts (registration_id, municipality_number,"
        " person_id) VALUES ($6, $7, $1) ON CONFLICT (registration_id, municipality_number)"
        " DO UPDATE SET person_id = EXCLUDED.person_id",
        person_id,
        contact.name,
        str(contact.email),
        contact.phone,
        contact.language.value,
        registration_id,
        municipality_number,
    )


async def drop_municipality_contacts(
    conn: asyncpg.Connection, registration_id: UUID, numbers: list[str]
) -> None:
    await conn.execute(
        "DELETE FROM interest_municipality_contacts"
        " WHERE registration_id = $1 AND municipality_number = ANY($2::text[])",
        registration_id,
        numbers,
    )


# --- applications --------------------------------------------------------------------------------

APPLICATION_COLUMNS = (
    "id, round_id, municipality_number, county_number, branch_id, status, motivation,"
    " development_areas, co_creation_plan, draft_group, submitted_at, decided_at, decision_reason,"
    " waitlist_sequence, decided_by, early_reason, promoted_from_waitlist, withdrawn_at,"
    " withdrawn_by, withdrawal_reason, revoked_at, revoked_by, revocation_reason,"
    " own_development_areas, themes"
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
    own_development_areas: list[str],
    themes: list[str],
) -> None:
    await conn.execute(
        "INSERT INTO applications (id, round_id, municipality_number, county_number, branch_id, status,"
        " motivation, development_areas, co_creation_plan, draft_group, own_development_areas,"
        " themes) VALUES ($1, $2, $3, $4, $5, 'draft', $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (round_id, municipality_number) DO UPDATE SET motivation = $6,"
        " development_areas = $7, co_creation_plan = $8, draft_group = $9,"
        " own_development_areas = $10, themes = $11",
        application_id,
        round_id,
        municipality,
        county,
        branch_id,
        motivation,
        development_areas,
        co_creation_plan,
        draft_group,
        own_development_areas,
        themes,
    )


async def development_areas_of(
    conn: asyncpg.Connection, round_id: str, branch_id: str
) -> list[str] | None:
    """The branch's adopted development areas for the round; None if it has set none."""
    found: list[str] | None = await conn.fetchval(
        "SELECT areas FROM development_areas WHERE round_id = $1 AND branch_id = $2",
        round_id,
        branch_id,
    )
    return found


async def set_development_areas(
    conn: asyncpg.Connection,
    *,
    round_id: str,
    branch_id: str,
    areas: list[str],
    at: datetime,
    by: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO development_areas (round_id, branch_id, areas, set_at, set_by)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (round_id, branch_id)"
        " DO UPDATE SET areas = $3, set_at = $4, set_by = $5",
        round_id,
        branch_id,
        areas,
        at,
        by,
    )


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


async def reopen_as_draft(conn: asyncpg.Connection, application_id: UUID) -> None:
    """A withdrawn application starts again as a draft: its earlier group steps down."""
    await conn.execute(
        "UPDATE group_members SET removed_at = now() WHERE application_id = $1"
        " AND removed_at IS NULL",
        application_id,
    )
    await conn.execute(
        "UPDATE applications SET status = 'draft', submitted_at = NULL, decided_at = NULL,"
        " decision_reason = NULL, waitlist_sequence = NULL, decided_by = NULL,"
        " early_reason = NULL, promoted_from_waitlist = false WHERE id = $1",
        application_id,
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
    by: str | None = None,
    early_reason: str | None = None,
    promoted: bool = False,
) -> None:
    """A decision: the status, when, why, by whom (and whether early or off the wait-list)."""
    await conn.execute(
        "UPDATE applications SET status = $2, decided_at = $3, decision_reason = $4,"
        " waitlist_sequence = CASE WHEN $5 THEN nextval('waitlist_order') ELSE NULL END,"
        " decided_by = $6, early_reason = $7, promoted_from_waitlist = $8 WHERE id = $1",
        application_id,
        status,
        at,
        reason,
        waitlist,
        by,
        early_reason,
        promoted,
    )


async def set_withdrawn(
    conn: asyncpg.Connection, application_id: UUID, *, at: datetime, reason: str, by: str | None
) -> None:
    """A withdrawal is the board's fact, not a decision: the decision fields stay as they were."""
    await conn.execute(
        "UPDATE applications SET status = 'withdrawn', withdrawn_at = $2, withdrawal_reason = $3,"
        " withdrawn_by = $4, waitlist_sequence = NULL WHERE id = $1",
        application_id,
        at,
        reason,
        by,
    )


async def set_revoked(
    conn: asyncpg.Connection, application_id: UUID, *, at: datetime, reason: str, by: str | None
) -> None:
    await conn.execute(
        "UPDATE applications SET status = 'revoked', revoked_at = $2, revocation_reason = $3,"
        " revoked_by = $4 WHERE id = $1",
        application_id,
        at,
        reason,
        by,
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


# --- reads --------------------------------------------------------------------------------------

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
