"""SQL of the notification service: projections, planned mails, reminders, the delivery log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from services.notification.domain.messages import (
    Board,
    Gathering,
    InvitationTarget,
    Member,
    PlannedMail,
)
from services.notification.domain.reminders import Reminder, ReminderKind
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import OutboxRow, add_rows_to_outbox
from shared.messaging.redact import redact
from shared.messaging.wakeups import OUTBOX, wake

DELIVERIES_CHANNEL = "notification_deliveries"
REASON_LIMIT = 1000


async def _lock_for_erasure(conn: asyncpg.Connection, person_id: uuid.UUID) -> None:
    """Serialize erasure against what is written about this person, until the transaction
    ends.

    Contact details and erasure come on different topics, handled at the same time: without
    this, an erasure could miss a recipient row written by a transaction it cannot see yet.
    Only an erasure needs to exclude the others: writers of addresses and planned mails take
    the lock shared, so they do not wait for each other (a mail's event and its recipient's
    contact details usually arrive together, on the two topics). They take it with their
    read of who is erased, in the statement that writes (`_erased`).
    """
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('person:' || $1::uuid::text, 0))", person_id
    )


def _erased(persons: str) -> str:
    """A CTE `erased(ids)` for a writer's statement: it takes the erasure locks of `persons`
    (an SQL uuid array) shared, then reads which of them are erased in a snapshot of its own
    (migration 0005), so that lock, check and write are one round trip."""
    return f"erased AS MATERIALIZED (SELECT erased_among({persons}::uuid[]) AS ids)"


# --- recipients and erasure ---------------------------------------------------------------------


async def upsert_recipient(
    conn: asyncpg.Connection, *, person_id: uuid.UUID, name: str, email: str, language: str
) -> bool:
    """Keep a person's address; False (nothing kept) if the person was erased."""
    stored = await conn.fetchval(
        f"WITH {_erased('ARRAY[$1]')}"
        " INSERT INTO recipients (person_id, name, email, language)"
        " SELECT $1, $2, $3, $4 FROM erased WHERE NOT $1 = ANY(erased.ids)"
        " ON CONFLICT (person_id) DO UPDATE SET name = $2, email = $3, language = $4,"
        " updated_at = now()"
        " RETURNING true",
        person_id,
        name,
        email,
        language,
    )
    if stored:
        # Mails that waited for this person's address can go now.
        await wake(conn, DELIVERIES_CHANNEL)
    return bool(stored)


# A notice the person is owed about their own role (someone else is the contact now) is sent
# even when their erasure follows right behind it, as registration does: the address is kept
# on that one mail until it is sent, then cleared like the rest.
OWED = ("contact_replaced",)


async def erase_recipient(conn: asyncpg.Connection, person_id: uuid.UUID) -> None:
    """Erasure: the address goes and stays gone; what the delivery log holds of them goes too.

    Mails still waiting for them are cancelled: they could never be sent (but see `OWED`).
    Only the id is kept, so that late contact details cannot bring the person back. A
    programme copy that was to answer to them goes without their name and Reply-To.
    """
    await _lock_for_erasure(conn, person_id)
    recipient = await conn.fetchrow(
        "SELECT name, email, language FROM recipients WHERE person_id = $1", person_id
    )
    await conn.execute(
        "INSERT INTO erased_persons (person_id) VALUES ($1) ON CONFLICT DO NOTHING", person_id
    )
    await conn.execute("DELETE FROM recipients WHERE person_id = $1", person_id)
    await conn.execute("DELETE FROM reminder_opt_outs WHERE person_id = $1", person_id)
    owed = list(OWED)
    if recipient is not None:
        await conn.execute(
            "UPDATE deliveries SET address = coalesce(address, $3),"
            " language = coalesce(language, $5),"
            " context = jsonb_build_object('recipient_name', $4::text) || context"
            " WHERE person_id = $1 AND status IN ('pending', 'sending')"
            " AND template = ANY($2::text[])",
            person_id,
            owed,
            recipient["email"],
            recipient["name"],
            recipient["language"],
        )
    # Everything else of theirs: cancelled if waiting, and emptied.
    await conn.execute(
        "UPDATE deliveries SET context = '{}', address = NULL, last_error = NULL,"
        " status = CASE WHEN status IN ('pending', 'sending') THEN 'cancelled' ELSE status END"
        " WHERE person_id = $1 AND NOT (status IN ('pending', 'sending')"
        " AND template = ANY($2::text[]) AND address IS NOT NULL)",
        person_id,
        owed,
    )
    await conn.execute(
        "UPDATE deliveries SET reply_to_person_id = NULL WHERE reply_to_person_id = $1", person_id
    )


async def _scrub_erased(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> None:
    """An owed notice to an erased person, once it is done with: nothing of theirs stays."""
    await conn.execute(
        "UPDATE deliveries SET context = '{}', address = NULL WHERE id = ANY($1::uuid[])"
        " AND person_id IN (SELECT person_id FROM erased_persons)",
        list(ids),
    )


# --- projections ---------------------------------------------------------------------------------


async def save_board_and_interest(
    conn: asyncpg.Connection,
    *,
    branch_id: str,
    branch_name: str,
    county_numbers: Sequence[str],
    person_id: uuid.UUID,
    round_id: str,
    municipality_numbers: Sequence[str],
) -> None:
    """The branch's board (its contact person) and its interest in the round, as the latest
    interest event tells them: one statement, one round trip."""
    await conn.execute(
        "WITH board AS ("
        " INSERT INTO branch_contacts (branch_id, branch_name, county_numbers, contact_person_id)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (branch_id) DO UPDATE SET branch_name = $2,"
        " county_numbers = $3, contact_person_id = $4, updated_at = now())"
        " INSERT INTO interest (round_id, branch_id, municipality_numbers) VALUES ($5, $1, $6)"
        " ON CONFLICT (round_id, branch_id) DO UPDATE SET municipality_numbers = $6",
        branch_id,
        branch_name,
        list(county_numbers),
        person_id,
        round_id,
        list(municipality_numbers),
    )


async def save_board(
    conn: asyncpg.Connection,
    *,
    branch_id: str,
    branch_name: str,
    county_numbers: Sequence[str],
    person_id: uuid.UUID,
) -> None:
    """The branch's board contact as programme management set it."""
    await conn.execute(
        "INSERT INTO branch_contacts (branch_id, branch_name, county_numbers, contact_person_id)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (branch_id) DO UPDATE SET branch_name = $2,"
        " county_numbers = $3, contact_person_id = $4, updated_at = now()",
        branch_id,
        branch_name,
        list(county_numbers),
        person_id,
    )


def _board(row: asyncpg.Record | None) -> Board | None:
    if row is None:
        return None
    return Board(row["branch_id"], row["branch_name"], str(row["contact_person_id"]))


async def board_of_branch(conn: asyncpg.Connection, branch_id: str | None) -> Board | None:
    if not branch_id:
        return None
    return _board(
        await conn.fetchrow("SELECT * FROM branch_contacts WHERE branch_id = $1", branch_id)
    )


async def board_of_county(conn: asyncpg.Connection, county: str | None) -> Board | None:
    if not county:
        return None
    return _board(
        await conn.fetchrow(
            "SELECT * FROM branch_contacts WHERE $1 = ANY(county_numbers)"
            " ORDER BY updated_at DESC LIMIT 1",
            county,
        )
    )


async def all_boards(conn: asyncpg.Connection) -> list[Board]:
    rows = await conn.fetch("SELECT * FROM branch_contacts ORDER BY branch_id")
    return [b for b in map(_board, rows) if b is not None]


async def interest_of_round(conn: asyncpg.Connection, round_id: str) -> dict[str, list[str]]:
    rows = await conn.fetch(
        "SELECT branch_id, municipality_numbers FROM interest WHERE round_id = $1", round_id
    )
    return {r["branch_id"]: list(r["municipality_numbers"]) for r in rows}


async def save_deadline(
    conn: asyncpg.Connection,
    *,
    round_id: str,
    kind: str,
    county_number: str | None,
    deadline: date,
    closes_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO deadlines (round_id, kind, county_number, deadline, closes_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (round_id, kind, county_number)"
        " DO UPDATE SET deadline = $4, closes_at = $5",
        round_id,
        kind,
        county_number or "",
        deadline,
        closes_at,
    )


async def close_round(conn: asyncpg.Connection, round_id: str) -> None:
    await conn.execute(
        "INSERT INTO closed_rounds (round_id) VALUES ($1) ON CONFLICT DO NOTHING", round_id
    )


async def rounds_taking_interest(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Rounds whose interest deadline is still ahead and that are neither closed nor
    cancelled: their round_id and interest deadline."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT round_id, deadline, closes_at FROM deadlines d WHERE kind = 'interest'"
        " AND closes_at > $1"
        " AND NOT EXISTS (SELECT 1 FROM closed_rounds c WHERE c.round_id = d.round_id)"
        " ORDER BY round_id",
        now,
    )
    return rows


async def deadline_of(
    conn: asyncpg.Connection, round_id: str, kind: str, county_number: str | None
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM deadlines WHERE round_id = $1 AND kind = $2 AND county_number = $3",
        round_id,
        kind,
        county_number or "",
    )


async def save_application(
    conn: asyncpg.Connection,
    *,
    round_id: str,
    municipality_number: str,
    county_number: str,
    branch_id: str,
    status: str,
) -> None:
    await conn.execute(
        "INSERT INTO applications (round_id, municipality_number, county_number, branch_id, status)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (round_id, municipality_number)"
        " DO UPDATE SET status = $5",
        round_id,
        municipality_number,
        county_number,
        branch_id,
        status,
    )


async def submitted_municipalities(conn: asyncpg.Connection, round_id: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT municipality_number FROM applications WHERE round_id = $1", round_id
    )
    return {r["municipality_number"] for r in rows}


async def replace_group(
    conn: asyncpg.Connection, round_id: str, municipality_number: str, members: Sequence[Member]
) -> None:
    await conn.execute(
        "DELETE FROM group_members WHERE round_id = $1 AND municipality_number = $2",
        round_id,
        municipality_number,
    )
    await conn.executemany(
        "INSERT INTO group_members (round_id, municipality_number, person_id, role)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        [(round_id, municipality_number, uuid.UUID(m.person_id), m.role) for m in members],
    )


async def add_member(
    conn: asyncpg.Connection, round_id: str, municipality_number: str, member: Member
) -> None:
    await conn.execute(
        "INSERT INTO group_members (round_id, municipality_number, person_id, role)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (round_id, municipality_number, person_id)"
        " DO UPDATE SET role = $4",
        round_id,
        municipality_number,
        uuid.UUID(member.person_id),
        member.role,
    )


async def remove_member(
    conn: asyncpg.Connection, round_id: str, municipality_number: str, person_id: uuid.UUID
) -> None:
    await conn.execute(
        "DELETE FROM group_members WHERE round_id = $1 AND municipality_number = $2"
        " AND person_id = $3",
        round_id,
        municipality_number,
        person_id,
    )


async def group_of(
    conn: asyncpg.Connection, round_id: str, municipality_number: str
) -> list[Member]:
    rows = await conn.fetch(
        "SELECT person_id, role FROM group_members WHERE round_id = $1"
        " AND municipality_number = $2 ORDER BY person_id",
        round_id,
        municipality_number,
    )
    return [Member(str(r["person_id"]), r["role"]) for r in rows]


async def save_gathering(conn: asyncpg.Connection, gathering: Gathering) -> None:
    await conn.execute(
        "INSERT INTO gatherings (gathering_id, round_id, region, kind, title, venue, starts_at,"
        " ends_at, sequence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (gathering_id) DO UPDATE SET title = $5, venue = $6, starts_at = $7,"
        " ends_at = $8, sequence = $9 WHERE gatherings.sequence <= $9",
        uuid.UUID(gathering.gathering_id),
        gathering.round_id,
        gathering.region,
        gathering.kind,
        gathering.title,
        json.dumps(dict(gathering.venue)),
        datetime.fromisoformat(gathering.starts_at),
        datetime.fromisoformat(gathering.ends_at),
        gathering.sequence,
    )


async def save_initiative(
    conn: asyncpg.Connection, gathering_id: uuid.UUID, *, proposed_by_programme: bool
) -> None:
    await conn.execute(
        "INSERT INTO gathering_initiative (gathering_id, proposed_by_programme) VALUES ($1, $2)"
        " ON CONFLICT (gathering_id) DO UPDATE SET proposed_by_programme = $2",
        gathering_id,
        proposed_by_programme,
    )


async def proposed_by_programme(conn: asyncpg.Connection, gathering_id: uuid.UUID) -> bool:
    found = await conn.fetchval(
        "SELECT proposed_by_programme FROM gathering_initiative WHERE gathering_id = $1",
        gathering_id,
    )
    return bool(found)


async def cancel_gathering(conn: asyncpg.Connection, gathering_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE gatherings SET cancelled = true WHERE gathering_id = $1", gathering_id
    )


async def raise_gathering_sequence(
    conn: asyncpg.Connection, gathering_id: uuid.UUID, sequence: int
) -> None:
    """A withdrawn invitation raises the gathering's SEQUENCE without another change."""
    await conn.execute(
        "UPDATE gatherings SET sequence = $2 WHERE gathering_id = $1 AND sequence < $2",
        gathering_id,
        sequence,
    )


async def gathering(conn: asyncpg.Connection, gathering_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM gatherings WHERE gathering_id = $1", gathering_id)


def gathering_of(row: asyncpg.Record) -> Gathering:
    venue = row["venue"]
    return Gathering(
        gathering_id=str(row["gathering_id"]),
        round_id=row["round_id"],
        region=row["region"],
        kind=row["kind"],
        title=row["title"],
        starts_at=row["starts_at"].isoformat(),
        ends_at=row["ends_at"].isoformat(),
        sequence=row["sequence"],
        venue=json.loads(venue) if isinstance(venue, str) else dict(venue),
    )


async def save_invitation(
    conn: asyncpg.Connection,
    *,
    invitation_id: uuid.UUID,
    gathering_id: uuid.UUID,
    person_id: uuid.UUID | None,
    municipality_number: str | None,
    branch_id: str | None,
    role: str,
    active: bool,
) -> None:
    await conn.execute(
        "INSERT INTO invitations (invitation_id, gathering_id, person_id, municipality_number,"
        " branch_id, role, active) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (invitation_id) DO UPDATE SET active = $7",
        invitation_id,
        gathering_id,
        person_id,
        municipality_number,
        branch_id,
        role,
        active,
    )


async def active_invitations(
    conn: asyncpg.Connection, gathering_id: uuid.UUID
) -> list[tuple[InvitationTarget, str | None]]:
    """Who is invited now, each with the branch that invited a municipality as such."""
    rows = await conn.fetch(
        "SELECT person_id, municipality_number, branch_id, role FROM invitations"
        " WHERE gathering_id = $1 AND active ORDER BY invitation_id",
        gathering_id,
    )
    return [
        (
            InvitationTarget(
                str(r["person_id"]) if r["person_id"] else None, r["municipality_number"], r["role"]
            ),
            r["branch_id"],
        )
        for r in rows
    ]


# --- supervisors and opt-outs ----------------------------------------------------------------


async def save_supervisor(
    conn: asyncpg.Connection,
    supervisor_id: str,
    *,
    name: str,
    email: str,
    language: str,
) -> None:
    await conn.execute(
        "INSERT INTO supervisors (supervisor_id, name, email, language) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (supervisor_id) DO UPDATE SET name = $2, email = $3, language = $4,"
        " updated_at = now()",
        supervisor_id,
        name,
        email,
        language,
    )
    await wake(conn, DELIVERIES_CHANNEL)


async def delete_supervisor(conn: asyncpg.Connection, supervisor_id: str) -> bool:
    """The supervisor's contact goes; mails still waiting for them are cancelled. Call inside
    a transaction (the command's unit of work)."""
    await conn.execute(
        "UPDATE deliveries SET status = 'cancelled', context = '{}'"
        " WHERE supervisor_id = $1 AND status IN ('pending', 'sending')",
        supervisor_id,
    )
    found = await conn.fetchval(
        "DELETE FROM supervisors WHERE supervisor_id = $1 RETURNING true", supervisor_id
    )
    return bool(found)


async def set_opt_out(
    conn: asyncpg.Connection | asyncpg.Pool, person_id: uuid.UUID, opted_out: bool
) -> None:
    if opted_out:
        await conn.execute(
            "INSERT INTO reminder_opt_outs (person_id) VALUES ($1) ON CONFLICT DO NOTHING",
            person_id,
        )
    else:
        await conn.execute("DELETE FROM reminder_opt_outs WHERE person_id = $1", person_id)


async def opted_out(conn: asyncpg.Connection, person_ids: Sequence[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT person_id FROM reminder_opt_outs WHERE person_id = ANY($1::uuid[])",
        list(person_ids),
    )
    return {str(r["person_id"]) for r in rows}


# --- reminders ------------------------------------------------------------------------------------


async def replace_reminders(
    conn: asyncpg.Connection, kind: ReminderKind, subject: str, reminders: Sequence[Reminder]
) -> None:
    """The pending reminders of `subject` become exactly `reminders` (a moved date: new ones)."""
    versions = sorted({r.version for r in reminders})
    await conn.execute(
        "UPDATE reminders SET status = 'dropped', done_at = now() WHERE kind = $1"
        " AND subject = $2 AND status = 'pending' AND NOT (version = ANY($3::text[]))",
        kind.value,
        subject,
        versions,
    )
    await conn.executemany(
        "INSERT INTO reminders (id, kind, subject, version, days_before, due_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, subject, version, days_before)"
        " DO UPDATE SET status = 'pending', due_at = EXCLUDED.due_at, done_at = NULL"
        " WHERE reminders.status = 'dropped'",
        [
            (uuid.uuid4(), r.kind.value, r.subject, r.version, r.days_before, r.due_at)
            for r in reminders
        ],
    )


async def drop_reminders(conn: asyncpg.Connection, kind: ReminderKind, subject: str) -> None:
    await conn.execute(
        "UPDATE reminders SET status = 'dropped', done_at = now() WHERE kind = $1"
        " AND subject = $2 AND status = 'pending'",
        kind.value,
        subject,
    )


async def drop_round_reminders(conn: asyncpg.Connection, round_id: str) -> None:
    await conn.execute(
        "UPDATE reminders SET status = 'dropped', done_at = now() WHERE status = 'pending'"
        " AND kind IN ('interest_deadline', 'application_deadline')"
        " AND (subject = $1 OR subject LIKE $1 || ':%')",
        round_id,
    )


async def claim_due_reminder(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """One due reminder, locked until the transaction ends; another replica skips it."""
    return await conn.fetchrow(
        "SELECT * FROM reminders WHERE status = 'pending' AND due_at <= now()"
        " ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    )


async def mark_reminder_sent(conn: asyncpg.Connection, reminder_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE reminders SET status = 'sent', done_at = now() WHERE id = $1", reminder_id
    )


# --- planned mails ------------------------------------------------------------------------------------


async def plan_deliveries(
    conn: asyncpg.Connection, *, event_id: str, mails: Sequence[PlannedMail]
) -> None:
    """Store the mails of one event: at most one per (event, recipient, template)."""
    if not mails:
        return
    persons = [uuid.UUID(m.person_id) for m in mails if m.person_id is not None]
    # A mail to a person erased before the event came (late, or again) is stored cancelled,
    # without its context, and never sent; a notice they are owed (its address kept at the
    # erasure, see OWED) still is.
    # One statement for the event's mails (a round trip, not one per mail), in their order.
    await conn.execute(
        f"WITH {_erased('$12')}"
        " INSERT INTO deliveries (id, event_id, recipient_key, person_id, address, template,"
        " language, context, supervisor_id, reply_to_person_id, reminder, status)"
        " SELECT m.id, $1, m.recipient_key, m.person_id, m.address, m.template, m.language,"
        " CASE WHEN e.erased THEN '{}'::jsonb ELSE m.context::jsonb END, m.supervisor_id,"
        " m.reply_to_person_id, m.reminder,"
        " CASE WHEN e.erased THEN 'cancelled' ELSE 'pending' END"
        " FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[],"
        " $8::text[], $9::text[], $10::uuid[], $11::bool[]) WITH ORDINALITY"
        " AS m(id, recipient_key, person_id, address, template, language, context,"
        " supervisor_id, reply_to_person_id, reminder, n)"
        " CROSS JOIN LATERAL (SELECT m.address IS NULL AND m.person_id = ANY(erased.ids)"
        " AS erased FROM erased) AS e"
        " ORDER BY m.n"
        " ON CONFLICT (event_id, recipient_key, template) DO NOTHING",
        event_id,
        [uuid.uuid4() for _ in mails],
        [m.recipient_key for m in mails],
        [m.person_id for m in mails],
        [m.address for m in mails],
        [m.template for m in mails],
        [m.language for m in mails],
        [json.dumps(m.context) for m in mails],
        [m.supervisor_id for m in mails],
        [m.reply_to_person_id for m in mails],
        [m.reminder for m in mails],
        persons,
    )
    await wake(conn, DELIVERIES_CHANNEL)


@dataclass(frozen=True)
class Claimed:
    """A mail claimed for sending, with what sending it needs."""

    id: uuid.UUID
    event_id: str
    template: str
    context: dict[str, Any]
    attempts: int
    address: str
    language: str
    recipient_name: str
    recipient_kind: str
    person_id: uuid.UUID | None
    supervisor_id: str | None
    reply_to_name: str | None
    reply_to_email: str | None


# The advisory lock class of mail workers: (WORKER_LOCK_CLASS, key) is held by a live worker.
WORKER_LOCK_CLASS = 7401

# Due: pending and due, or claimed by a worker whose lease ran out or who is gone. A gone
# worker's claims ($5) are found now and then by `gone_workers`, not in every claim: reading
# `pg_locks` builds the whole lock table under every lock partition's lock, and made a claim
# cost about twice as much (docs/performance.md, fourteenth round).
_CLAIM = """
WITH due AS (
    SELECT d.id,
           coalesce(d.address, r.email, s.email) AS to_address,
           coalesce(d.language, r.language, s.language, 'nb') AS to_language,
           coalesce(r.name, s.name, '') AS to_name,
           rt.name AS reply_to_name, rt.email AS reply_to_email
    FROM deliveries d
    LEFT JOIN recipients r ON r.person_id = d.person_id
    LEFT JOIN supervisors s ON s.supervisor_id = d.supervisor_id
    LEFT JOIN recipients rt ON rt.person_id = d.reply_to_person_id
    WHERE (
        (d.status = 'pending' AND d.next_attempt_at <= now())
        OR (d.status = 'sending' AND (d.next_attempt_at <= now()
            OR d.claimed_by IS NULL OR d.claimed_by = ANY($5::bigint[])))
      )
      AND coalesce(d.address, r.email, s.email) IS NOT NULL
      AND (d.reply_to_person_id IS NULL OR rt.email IS NOT NULL
           OR d.created_at < now() - make_interval(secs => $3))
    ORDER BY d.next_attempt_at
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE deliveries d SET status = 'sending', claimed_by = $4,
    next_attempt_at = now() + make_interval(secs => $2)
FROM due WHERE d.id = due.id
RETURNING d.id, d.event_id, d.template, d.context, d.attempts, d.person_id, d.supervisor_id,
          d.recipient_key, due.to_address, due.to_language, due.to_name, due.reply_to_name,
          due.reply_to_email
"""

# The statement's snapshot is taken before `pg_locks` is read: a claim it sees was made under
# a lock taken before it, so a key missing from `pg_locks` is a session that has ended (a
# worker never lets its lock go otherwise, and a new session draws a new key).
_GONE = """
SELECT DISTINCT d.claimed_by AS key FROM deliveries d
WHERE d.status = 'sending' AND d.next_attempt_at > now() AND d.claimed_by IS NOT NULL
  AND d.claimed_by NOT IN (
    SELECT objid::bigint FROM pg_locks
    WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2 AND granted
  )
"""


@dataclass(frozen=True)
class WorkerLock:
    """A mail worker's lock, held by `session` for as long as that session lives. Claims are
    made on `session` itself: a claim under `key` is only possible while its lock is held (a
    claim under a key nobody holds would be anybody's at once, and its mail sent twice)."""

    session: asyncpg.Connection
    key: int


async def hold_worker_lock(conn: asyncpg.Connection, key: int) -> WorkerLock:
    """Held by `conn`'s session for as long as it lives: claims under `key` are alive."""
    await conn.execute("SELECT pg_advisory_lock($1, $2)", WORKER_LOCK_CLASS, key)
    return WorkerLock(conn, key)


async def gone_workers(conn: asyncpg.Connection | asyncpg.Pool) -> list[int]:
    """The keys of workers that hold claims still in their lease but whose session has ended
    (a crash, a lost connection): their claims may be taken at once (`claim_due`'s `gone`)."""
    return [r["key"] for r in await conn.fetch(_GONE, WORKER_LOCK_CLASS)]


async def claim_due(
    lock: WorkerLock,
    *,
    limit: int,
    lease_s: float,
    reply_to_wait_s: float,
    gone: Sequence[int] = (),
) -> list[Claimed]:
    """Claim due mails whose address is known for the worker holding `lock`, on the session
    that holds it (when that session has ended, the claim fails): claimed, they are nobody
    else's until marked, until that worker is gone (`gone_workers` finds it), or until the
    lease runs out; then they are due again. The claims of the workers in `gone` are due now.

    One short statement, its own transaction: the sending happens outside it."""
    rows = await lock.session.fetch(_CLAIM, limit, lease_s, reply_to_wait_s, lock.key, list(gone))
    return [
        Claimed(
            id=r["id"],
            event_id=r["event_id"],
            template=r["template"],
            context=_json(r["context"]),
            attempts=r["attempts"],
            address=r["to_address"],
            language=r["to_language"],
            recipient_name=r["to_name"],
            recipient_kind=r["recipient_key"].split(":", 1)[0],
            person_id=r["person_id"],
            supervisor_id=r["supervisor_id"],
            reply_to_name=r["reply_to_name"],
            reply_to_email=r["reply_to_email"],
        )
        for r in rows
    ]


def _json(value: Any) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(value) if isinstance(value, str) else dict(value)
    return found


# "Still being sent", in a form that keeps a marking statement on the primary key whatever
# the statistics say. Written plainly (`status = 'sending'`), it lets the planner take the
# partial index of due mails instead: statistics from a quiet hour say that index is nearly
# empty, and in a burst every mark would then read all pending mails (docs/performance.md,
# "a bound on what a crash repeats").
_STILL_SENDING = "CASE WHEN status = 'sending' THEN true ELSE false END"


async def mark_sent(
    conn: asyncpg.Connection,
    ids: Sequence[uuid.UUID],
    events: Sequence[tuple[str, Envelope]],
    *,
    sent_at: Sequence[datetime] | None = None,
    wake_relay: bool = True,
) -> None:
    """Sent, with the notification-sent events in the outbox (`events[i]` is `ids[i]`'s): one
    statement, so it is atomic in the caller's transaction or without one. `sent_at[i]` is
    when the server took `ids[i]` (default: now). `wake_relay=False`: the caller wakes the
    relay itself (`wake(conn, OUTBOX)`).

    Only rows still 'sending' count, and only their events are queued: a mail another worker
    has marked meanwhile (its claim was taken over) is left as it is, and its event is not
    queued twice; an erasure meanwhile has cancelled and scrubbed its row. An owed notice to a
    person erased before it went out keeps nothing of theirs."""
    if len(ids) != len(events):
        raise ValueError(f"{len(ids)} mails and {len(events)} events to mark")
    if sent_at is None:
        sent_at = [datetime.now(UTC)] * len(ids)
    elif len(sent_at) != len(ids):
        raise ValueError(f"{len(ids)} mails and {len(sent_at)} times they were sent")
    await conn.execute(
        "WITH sent AS ("
        " UPDATE deliveries d SET status = 'sent', sent_at = s.at, attempts = d.attempts + 1,"
        " last_error = NULL,"
        " context = CASE WHEN d.person_id IN (SELECT person_id FROM erased_persons)"
        "   THEN '{}'::jsonb ELSE d.context END,"
        " address = CASE WHEN d.person_id IN (SELECT person_id FROM erased_persons)"
        "   THEN NULL ELSE d.address END"
        " FROM unnest($1::uuid[], $7::timestamptz[]) AS s(id, at)"
        f" WHERE d.id = s.id AND {_STILL_SENDING} RETURNING d.id)"
        " INSERT INTO outbox (event_id, topic, key, headers, payload)"
        " SELECT e.event_id, e.topic, e.key, e.headers::jsonb, e.payload"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[])"
        " AS e(delivery_id, event_id, topic, key, headers, payload)"
        " WHERE e.delivery_id IN (SELECT id FROM sent)",
        list(ids),
        *_outbox_columns(events),
        list(sent_at),
    )
    if events and wake_relay:
        await wake(conn, OUTBOX)


def _outbox_columns(
    events: Sequence[tuple[str, Envelope]],
) -> tuple[list[str], list[str], list[str | None], list[str], list[bytes | None]]:
    rows = [OutboxRow.of(topic, envelope.subject, envelope) for topic, envelope in events]
    return (
        [r.event_id for r in rows],
        [r.topic for r in rows],
        [r.key for r in rows],
        [r.headers for r in rows],
        [r.payload for r in rows],
    )


async def mark_failed(
    conn: asyncpg.Connection,
    failures: Sequence[tuple[uuid.UUID, str]],
    events: Sequence[tuple[str, Envelope]],
) -> None:
    """Failed for good (a refusal, a broken template): the reason kept without addresses.
    `events[i]`, if given, is `failures[i]`'s, queued only if its row was still 'sending'."""
    if events and len(events) != len(failures):
        raise ValueError(f"{len(failures)} mails and {len(events)} events to mark")
    rows = await conn.fetch(
        "UPDATE deliveries d SET status = 'failed', failed_at = now(),"
        " attempts = d.attempts + 1, last_error = f.reason"
        " FROM unnest($1::uuid[], $2::text[]) AS f(id, reason)"
        f" WHERE d.id = f.id AND {_STILL_SENDING} RETURNING d.id",
        [delivery_id for delivery_id, _ in failures],
        [redact(reason)[:REASON_LIMIT] for _, reason in failures],
    )
    failed = {row["id"] for row in rows}
    await _scrub_erased(conn, list(failed))
    await _to_outbox(
        conn, [event for (id_, _), event in zip(failures, events, strict=False) if id_ in failed]
    )


async def retry_later(
    conn: asyncpg.Connection | asyncpg.Pool,
    retries: Sequence[tuple[uuid.UUID, str, float]],
) -> None:
    """Not taken this time (4xx, unreachable): due again after the delay; reason redacted."""
    await conn.executemany(
        "UPDATE deliveries SET status = 'pending', attempts = attempts + 1, last_error = $2,"
        " next_attempt_at = now() + make_interval(secs => $3)"
        f" WHERE id = $1 AND {_STILL_SENDING}",
        [
            (delivery_id, redact(reason)[:REASON_LIMIT], delay)
            for delivery_id, reason, delay in retries
        ],
    )


async def _to_outbox(conn: asyncpg.Connection, events: Sequence[tuple[str, Envelope]]) -> None:
    """The delivery events, queued in one round trip, and one wake-up for the relay."""
    await add_rows_to_outbox(conn, [OutboxRow.of(t, e.subject, e) for t, e in events])


# --- the delivery log ----------------------------------------------------------------------------


async def delivery_log(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    status: str | None,
    template: str | None,
    person_id: uuid.UUID | None,
    event_id: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first, without addresses: a mailbox recipient is shown by its kind only."""
    rows = await conn.fetch(
        "SELECT id, event_id, split_part(recipient_key, ':', 1) AS recipient_kind, person_id,"
        " supervisor_id, template, coalesce(language, '') AS language, reminder, status, attempts,"
        " last_error, created_at, sent_at, failed_at, next_attempt_at"
        " FROM deliveries WHERE ($1::text IS NULL OR status = $1)"
        " AND ($2::text IS NULL OR template = $2) AND ($3::uuid IS NULL OR person_id = $3)"
        " AND ($4::text IS NULL OR event_id = $4)"
        " ORDER BY created_at DESC, id LIMIT $5",
        status,
        template,
        person_id,
        event_id,
        limit,
    )
    return [dict(r) for r in rows]
