"""SQL of the scheduling schema. Functions take a connection (or pool, for reads) and keywords."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

from services.scheduling.domain.calendar import Gathering, Slot, Status
from services.scheduling.domain.invitations import Invitee, Member, RegionState
from services.scheduling.domain.programme import Planned
from shared.contracts.events.scheduling import InviteeRole

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool

# --- rounds -----------------------------------------------------------------------------------------


async def save_round(conn: asyncpg.Connection, round_id: str, state: str, *, opened: bool) -> None:
    """Opened: known from now on (a replayed opening does not reopen a closed round)."""
    await conn.execute(
        "INSERT INTO rounds (round_id, state) VALUES ($1, $2) ON CONFLICT (round_id) DO "
        + ("NOTHING" if opened else "UPDATE SET state = EXCLUDED.state"),
        round_id,
        state,
    )


async def round_states(db: Db) -> dict[str, str]:
    return {r["round_id"]: r["state"] for r in await db.fetch("SELECT * FROM rounds")}


async def round_state(db: Db, round_id: str) -> str | None:
    state: str | None = await db.fetchval("SELECT state FROM rounds WHERE round_id = $1", round_id)
    return state


# --- semesters ------------------------------------------------------------------------------------


async def plan_semester(
    conn: asyncpg.Connection,
    *,
    round_id: str,
    region: str,
    number: int,
    starts_on: date,
    ends_on: date,
) -> None:
    await conn.execute(
        "INSERT INTO semesters (round_id, region, number, starts_on, ends_on)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (round_id, region, number)"
        " DO UPDATE SET starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on",
        round_id,
        region,
        number,
        starts_on,
        ends_on,
    )


async def semesters(db: Db, round_id: str, region: str) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT number, starts_on, ends_on FROM semesters"
            " WHERE round_id = $1 AND region = $2 ORDER BY number",
            round_id,
            region,
        )
    )


# --- gatherings -------------------------------------------------------------------------------------


async def insert_gathering(conn: asyncpg.Connection, **row: Any) -> bool:
    """False if a gathering with this id exists already (a retried command)."""
    row["venue"] = json.dumps(row["venue"])
    columns = ", ".join(row)
    params = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    inserted = await conn.fetchval(
        f"INSERT INTO gatherings ({columns}) VALUES ({params})"
        " ON CONFLICT (id) DO NOTHING RETURNING true",
        *row.values(),
    )
    return bool(inserted)


async def get_gathering(db: Db, gathering_id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    query = "SELECT * FROM gatherings WHERE id = $1" + (" FOR UPDATE" if lock else "")
    return await db.fetchrow(query, gathering_id)


def as_gathering(row: asyncpg.Record, confirmed: int = 0) -> Gathering:
    return Gathering(
        slot=Slot.of(row["starts_at"], row["ends_at"]),
        status=Status(row["status"]),
        sequence=row["sequence"],
        capacity=row["capacity"],
        confirmed=confirmed,
    )


def venue_of(row: asyncpg.Record) -> dict[str, Any]:
    venue = row["venue"]
    found: dict[str, Any] = json.loads(venue) if isinstance(venue, str) else dict(venue)
    return found


async def save_gathering(
    conn: asyncpg.Connection,
    gathering_id: UUID,
    state: Gathering,
    *,
    venue: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "UPDATE gatherings SET starts_at = $2, ends_at = $3, capacity = $4, status = $5,"
        " sequence = $6, venue = COALESCE($7::jsonb, venue), updated_at = now() WHERE id = $1",
        gathering_id,
        state.slot.starts_at,
        state.slot.ends_at,
        state.capacity,
        state.status.value,
        state.sequence,
        json.dumps(venue) if venue is not None else None,
    )


async def gatherings_ahead(
    conn: asyncpg.Connection, *, round_id: str, region: str | None, now: datetime
) -> list[asyncpg.Record]:
    """Scheduled gatherings not yet begun, locked: their invitations are about to change."""
    return list(
        await conn.fetch(
            "SELECT * FROM gatherings WHERE round_id = $1 AND ($2::text IS NULL OR region = $2)"
            " AND status = 'scheduled' AND starts_at > $3 ORDER BY starts_at, id FOR UPDATE",
            round_id,
            region,
            now,
        )
    )


async def gatherings_ahead_of_person(
    conn: asyncpg.Connection, person_id: UUID, now: datetime
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT g.* FROM gatherings g JOIN invitations i ON i.gathering_id = g.id"
            " WHERE i.person_id = $1 AND i.active AND g.status = 'scheduled'"
            " AND g.starts_at > $2 ORDER BY g.starts_at, g.id FOR UPDATE OF g",
            person_id,
            now,
        )
    )


async def raise_sequence(conn: asyncpg.Connection, gathering_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow(
        "UPDATE gatherings SET sequence = sequence + 1, updated_at = now() WHERE id = $1"
        " RETURNING *",
        gathering_id,
    )
    assert row is not None
    return row


async def supervisions_ahead(
    conn: asyncpg.Connection, round_id: str, municipality_number: str, now: datetime
) -> list[asyncpg.Record]:
    """A municipality's veiledning bookings not yet begun, locked."""
    return list(
        await conn.fetch(
            "SELECT * FROM gatherings WHERE round_id = $1 AND municipality_number = $2"
            " AND kind = 'veiledning' AND status = 'scheduled' AND starts_at > $3"
            " ORDER BY starts_at, id FOR UPDATE",
            round_id,
            municipality_number,
            now,
        )
    )


async def cancel_booking(conn: asyncpg.Connection, gathering_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow(
        "UPDATE gatherings SET status = 'cancelled', sequence = sequence + 1, updated_at = now()"
        " WHERE id = $1 RETURNING *",
        gathering_id,
    )
    assert row is not None
    return row


async def lock_round(conn: asyncpg.Connection, round_id: str) -> None:
    """Serialises whatever derives invitations in a round (a new gathering, a registration
    event): without it, a gathering scheduled while an admission is being handled could read
    the region before the admission commits, while the admission's handler cannot yet see
    the gathering, and neither would invite the new group."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"round:{round_id}")


async def lock_supervisor(conn: asyncpg.Connection, supervisor_id: str) -> None:
    """Serialises bookings of one supervisor, so two at once cannot both pass the check."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"supervisor:{supervisor_id}")


async def supervisor_slots(
    conn: asyncpg.Connection, supervisor_id: str, *, besides: UUID | None = None
) -> list[tuple[UUID, Slot]]:
    rows = await conn.fetch(
        "SELECT id, starts_at, ends_at FROM gatherings WHERE supervisor_id = $1"
        " AND status = 'scheduled' AND id IS DISTINCT FROM $2",
        supervisor_id,
        besides,
    )
    return [(r["id"], Slot.of(r["starts_at"], r["ends_at"])) for r in rows]


async def planned(conn: asyncpg.Connection, round_id: str, region: str) -> list[Planned]:
    """The round's gatherings in the region that count for the programme's shape."""
    rows = await conn.fetch(
        "SELECT kind, semester FROM gatherings WHERE round_id = $1 AND region = $2"
        " AND status = 'scheduled' AND kind IN ('presamling', 'samling')",
        round_id,
        region,
    )
    return [Planned(r["kind"], r["semester"]) for r in rows]


async def region_days(conn: asyncpg.Connection, round_id: str, region: str) -> list[date]:
    rows = await conn.fetch(
        "SELECT DISTINCT (starts_at AT TIME ZONE 'Europe/Oslo')::date AS day FROM gatherings"
        " WHERE round_id = $1 AND region = $2 AND status = 'scheduled'"
        " AND kind IN ('samling', 'presamling', 'delingsarena')",
        round_id,
        region,
    )
    return [r["day"] for r in rows]


# --- invitations ----------------------------------------------------------------------------------------


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


async def issue_invitation(
    conn: asyncpg.Connection, invitation_id: UUID, gathering_id: UUID, invitee: Invitee
) -> bool:
    """True if the invitee is now invited and was not before."""
    issued = await conn.fetchval(
        "INSERT INTO invitations (id, gathering_id, invitee_key, person_id, municipality_number,"
        " branch_id, role) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (gathering_id, invitee_key) DO UPDATE SET active = true, rsvp = NULL,"
        " issued_at = now(), withdrawn_at = NULL, withdrawn_reason = NULL,"
        " role = EXCLUDED.role, municipality_number = EXCLUDED.municipality_number,"
        " branch_id = EXCLUDED.branch_id"
        " WHERE NOT invitations.active RETURNING true",
        invitation_id,
        gathering_id,
        invitee.key,
        invitee.person_id,
        invitee.municipality_number,
        invitee.branch_id,
        invitee.role.value,
    )
    return bool(issued)


async def withdraw_invitation(
    conn: asyncpg.Connection, gathering_id: UUID, key: str, reason: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE invitations SET active = false, withdrawn_at = now(), withdrawn_reason = $3"
        " WHERE gathering_id = $1 AND invitee_key = $2 AND active RETURNING *",
        gathering_id,
        key,
        reason,
    )


async def confirmed(conn: asyncpg.Connection, gathering_id: UUID) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM invitations WHERE gathering_id = $1 AND active AND rsvp = 'yes'",
        gathering_id,
    )
    return int(count)


async def find_invitation(
    conn: asyncpg.Connection, gathering_id: UUID, key: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM invitations WHERE gathering_id = $1 AND invitee_key = $2 AND active",
        gathering_id,
        key,
    )


async def invitation_by_id(
    conn: asyncpg.Connection | asyncpg.Pool, invitation_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM invitations WHERE id = $1", invitation_id)


async def set_rsvp(conn: asyncpg.Connection, invitation_id: UUID, response: str) -> None:
    await conn.execute("UPDATE invitations SET rsvp = $2 WHERE id = $1", invitation_id, response)


async def set_attendance(
    conn: asyncpg.Connection, gathering_id: UUID, present_keys: Sequence[str]
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "UPDATE invitations SET attended = (invitee_key = ANY($2::text[]))"
            " WHERE gathering_id = $1 AND active RETURNING *",
            gathering_id,
            list(present_keys),
        )
    )


# --- what registration said ------------------------------------------------------------------------------


async def save_interest(
    conn: asyncpg.Connection,
    *,
    round_id: str,
    branch_id: str,
    contact_person_id: UUID,
    municipality_numbers: Sequence[str],
) -> None:
    await conn.execute(
        "INSERT INTO interests (round_id, branch_id, contact_person_id, municipality_numbers)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (round_id, branch_id) DO UPDATE SET"
        " contact_person_id = EXCLUDED.contact_person_id,"
        " municipality_numbers = EXCLUDED.municipality_numbers",
        round_id,
        branch_id,
        contact_person_id,
        list(municipality_numbers),
    )


async def save_municipality_contacts(
    conn: asyncpg.Connection, *, round_id: str, branch_id: str, contacts: Mapping[str, UUID]
) -> None:
    """The branch's named municipality contacts now, replacing what it named before."""
    await conn.execute(
        "DELETE FROM interest_municipality_contacts WHERE round_id = $1 AND branch_id = $2",
        round_id,
        branch_id,
    )
    await conn.executemany(
        "INSERT INTO interest_municipality_contacts (round_id, branch_id, municipality_number,"
        " person_id) VALUES ($1, $2, $3, $4)",
        [(round_id, branch_id, n, p) for n, p in sorted(contacts.items())],
    )


async def save_participant(
    conn: asyncpg.Connection,
    *,
    round_id: str,
    municipality_number: str,
    branch_id: str,
    county_number: str,
    status: str,
) -> None:
    await conn.execute(
        "INSERT INTO participants (round_id, municipality_number, branch_id, county_number,"
        " status) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (round_id, municipality_number)"
        " DO UPDATE SET status = EXCLUDED.status, branch_id = EXCLUDED.branch_id",
        round_id,
        municipality_number,
        branch_id,
        county_number,
        status,
    )


async def participant(db: Db, round_id: str, municipality_number: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM participants WHERE round_id = $1 AND municipality_number = $2",
        round_id,
        municipality_number,
    )


async def replace_group(
    conn: asyncpg.Connection,
    round_id: str,
    municipality_number: str,
    members: Sequence[tuple[UUID, str]],
) -> None:
    await conn.execute(
        "DELETE FROM group_members WHERE round_id = $1 AND municipality_number = $2",
        round_id,
        municipality_number,
    )
    await conn.executemany(
        "INSERT INTO group_members (round_id, municipality_number, person_id, role)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        [(round_id, municipality_number, p, role) for p, role in members],
    )


async def add_member(
    conn: asyncpg.Connection, round_id: str, municipality_number: str, person_id: UUID, role: str
) -> None:
    await conn.execute(
        "INSERT INTO group_members (round_id, municipality_number, person_id, role)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (round_id, municipality_number, person_id)"
        " DO UPDATE SET role = EXCLUDED.role",
        round_id,
        municipality_number,
        person_id,
        role,
    )


async def remove_member(
    conn: asyncpg.Connection, round_id: str, municipality_number: str, person_id: UUID
) -> None:
    await conn.execute(
        "DELETE FROM group_members WHERE round_id = $1 AND municipality_number = $2"
        " AND person_id = $3",
        round_id,
        municipality_number,
        person_id,
    )


async def erase_person(conn: asyncpg.Connection, person_id: UUID) -> list[str]:
    """Forget the person everywhere; the rounds they were part of, to re-check."""
    rounds = {
        r["round_id"]
        for r in await conn.fetch(
            "DELETE FROM group_members WHERE person_id = $1 RETURNING round_id", person_id
        )
    }
    rounds |= {
        r["round_id"]
        for r in await conn.fetch(
            "UPDATE interests SET contact_person_id = NULL WHERE contact_person_id = $1"
            " RETURNING round_id",
            person_id,
        )
    }
    rounds |= {
        r["round_id"]
        for r in await conn.fetch(
            "DELETE FROM interest_municipality_contacts WHERE person_id = $1 RETURNING round_id",
            person_id,
        )
    }
    return sorted(rounds)


async def forget_person_in_invitations(conn: asyncpg.Connection, person_id: UUID) -> None:
    """Past invitations keep their municipality (the attendance rate stays), not the person."""
    await conn.execute(
        "UPDATE invitations SET person_id = NULL, invitee_key = 'erased:' || id::text"
        " WHERE person_id = $1",
        person_id,
    )


async def region_state(conn: asyncpg.Connection, round_id: str, region: str) -> RegionState:
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


# --- dialogue meeting requests -----------------------------------------------------------------------------


async def insert_request(conn: asyncpg.Connection, **row: Any) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO dialogue_requests (id, round_id, region, topic, wished_dates, requested_at,"
        " origin, requested_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING true",
        row["id"],
        row["round_id"],
        row["region"],
        row["topic"],
        row["wished_dates"],
        row["requested_at"],
        row.get("origin", "board"),
        row.get("requested_by"),
    )
    return bool(inserted)


# --- delingsarena proposals of the county boards ---------------------------------------------


async def insert_delingsarena_proposal(conn: asyncpg.Connection, **row: Any) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO delingsarena_proposals (id, round_id, region, title, description,"
        " wished_dates, venue, proposed_at, proposed_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING RETURNING true",
        row["id"],
        row["round_id"],
        row["region"],
        row["title"],
        row["description"],
        row["wished_dates"],
        json.dumps(row["venue"]) if row["venue"] is not None else None,
        row["proposed_at"],
        row["proposed_by"],
    )
    return bool(inserted)


async def get_delingsarena_proposal(
    conn: asyncpg.Connection, proposal_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM delingsarena_proposals WHERE id = $1 FOR UPDATE", proposal_id
    )


async def take_up_proposal(conn: asyncpg.Connection, proposal_id: UUID, gathering_id: UUID) -> None:
    await conn.execute(
        "UPDATE delingsarena_proposals SET gathering_id = $2 WHERE id = $1",
        proposal_id,
        gathering_id,
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


# --- guests: other actors invited by name and address ------------------------------------------


async def save_guest(
    conn: asyncpg.Connection,
    *,
    person_id: UUID,
    name: str,
    email: str,
    language: str,
    organisation: str | None,
) -> UUID:
    """The guest's person id: the one this address has already, else `person_id`; the name,
    language and organisation as given now."""
    found: UUID = await conn.fetchval(
        "INSERT INTO guests (person_id, name, email, language, organisation)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT ((lower(email))) DO UPDATE SET name = $2, language = $4,"
        " organisation = coalesce($5, guests.organisation)"
        " RETURNING person_id",
        person_id,
        name,
        email,
        language,
        organisation,
    )
    return found


async def add_gathering_guests(
    conn: asyncpg.Connection, gathering_id: UUID, person_ids: list[UUID]
) -> None:
    await conn.execute(
        "INSERT INTO gathering_guests (gathering_id, person_id)"
        " SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
        gathering_id,
        person_ids,
    )


async def gathering_guests(conn: asyncpg.Connection, gathering_id: UUID) -> list[UUID]:
    return [
        r["person_id"]
        for r in await conn.fetch(
            "SELECT person_id FROM gathering_guests WHERE gathering_id = $1 ORDER BY person_id",
            gathering_id,
        )
    ]


async def erase_guest(conn: asyncpg.Connection, person_id: UUID, contacts_topic: str) -> bool:
    """Forget a guest's name and address (their invitations keep the id only), also the
    contact records of theirs the outbox still keeps after publishing them."""
    erased = await conn.fetchval(
        "DELETE FROM guests WHERE person_id = $1 RETURNING true", person_id
    )
    await conn.execute(
        "DELETE FROM outbox WHERE topic = $1 AND key = $2 AND published_at IS NOT NULL",
        contacts_topic,
        str(person_id),
    )
    return bool(erased)


async def get_request(
    conn: asyncpg.Connection, request_id: UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM dialogue_requests WHERE id = $1" + (" FOR UPDATE" if lock else ""),
        request_id,
    )


async def answer_request(conn: asyncpg.Connection, request_id: UUID, gathering_id: UUID) -> None:
    await conn.execute(
        "UPDATE dialogue_requests SET gathering_id = $2 WHERE id = $1", request_id, gathering_id
    )


# --- reads for the HTTP API and the feeds --------------------------------------------------------------------


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
