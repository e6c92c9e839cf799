"""The repositories on PostgreSQL, on the transaction the message bus gives a handler.

Each repository remembers what it loaded, so saving a whole aggregate writes only what
changed: a registration event touches every gathering ahead in a region, and each round
trip to the database counts per message (docs/performance.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

import asyncpg

from services.scheduling.adapters.queries import region_state as read_region_state
from services.scheduling.adapters.queries import venue_of
from services.scheduling.domain.calendar import Slot, Status
from services.scheduling.domain.gatherings import Gathering, Invitation
from services.scheduling.domain.invitations import Invitee, Member, RegionState
from services.scheduling.domain.model import (
    DelingsarenaProposal,
    DialogueRequest,
    Group,
    Guest,
    Interest,
    InterimWork,
    Origin,
    Participant,
    ParticipantStatus,
    Report,
    Round,
    Semester,
)
from services.scheduling.domain.programme import Planned
from shared.contracts.events.base import Contract
from shared.contracts.events.registration import RoundState
from shared.contracts.events.scheduling import GatheringKind, InterimWorkDue, InviteeRole, Rsvp
from shared.messaging.bus import UnitOfWork
from shared.messaging.outbox import add_to_outbox

# --- rounds and semesters ------------------------------------------------------------------


@dataclass
class SqlRounds:
    conn: asyncpg.Connection

    async def get(self, round_id: str) -> Round | None:
        state = await self.conn.fetchval("SELECT state FROM rounds WHERE round_id = $1", round_id)
        return Round(round_id, RoundState(state)) if state is not None else None

    async def save(self, found: Round) -> None:
        await self.conn.execute(
            "INSERT INTO rounds (round_id, state) VALUES ($1, $2)"
            " ON CONFLICT (round_id) DO UPDATE SET state = EXCLUDED.state",
            found.id,
            found.state.value,
        )


@dataclass
class SqlSemesters:
    conn: asyncpg.Connection

    async def of_region(self, round_id: str, region: str) -> Mapping[int, Semester]:
        rows = await self.conn.fetch(
            "SELECT number, starts_on, ends_on FROM semesters"
            " WHERE round_id = $1 AND region = $2 ORDER BY number",
            round_id,
            region,
        )
        return {
            r["number"]: Semester(round_id, region, r["number"], r["starts_on"], r["ends_on"])
            for r in rows
        }

    async def save(self, semester: Semester) -> None:
        await self.conn.execute(
            "INSERT INTO semesters (round_id, region, number, starts_on, ends_on)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (round_id, region, number)"
            " DO UPDATE SET starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on",
            semester.round_id,
            semester.region,
            semester.number,
            semester.starts_on,
            semester.ends_on,
        )


# --- gatherings with their invitations and guests ------------------------------------------


def invitation_of(row: asyncpg.Record) -> Invitation:
    return Invitation(
        id=row["id"],
        invitee=Invitee(
            key=row["invitee_key"],
            role=InviteeRole(row["role"]),
            person_id=row["person_id"],
            municipality_number=row["municipality_number"],
            branch_id=row["branch_id"],
        ),
        active=row["active"],
        rsvp=Rsvp(row["rsvp"]) if row["rsvp"] is not None else None,
        attended=row["attended"],
        withdrawn_reason=row["withdrawn_reason"],
    )


def gathering_of(
    row: asyncpg.Record, invitations: list[Invitation], guests: list[UUID]
) -> Gathering:
    return Gathering(
        id=row["id"],
        round_id=row["round_id"],
        region=row["region"],
        kind=GatheringKind(row["kind"]),
        title=row["title"],
        venue=venue_of(row),
        slot=Slot.of(row["starts_at"], row["ends_at"]),
        status=Status(row["status"]),
        sequence=row["sequence"],
        capacity=row["capacity"],
        semester=row["semester"],
        also_invite=tuple(row["also_invite"]),
        municipality_number=row["municipality_number"],
        supervisor_id=row["supervisor_id"],
        request_id=row["request_id"],
        arranged_by=row["arranged_by"],
        guests=tuple(guests),
        invitations=tuple(invitations),
    )


def _row(gathering: Gathering) -> Gathering:
    """The gathering's own row, without what other tables keep."""
    return replace(gathering, invitations=(), guests=())


@dataclass
class SqlGatherings:
    conn: asyncpg.Connection
    loaded: dict[UUID, Gathering] = field(default_factory=dict)

    async def _whole(self, rows: list[asyncpg.Record]) -> list[Gathering]:
        """The gatherings of `rows` whole: their invitations and guests read for all of them
        at once, not one gathering at a time."""
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        invitations: dict[UUID, list[Invitation]] = {i: [] for i in ids}
        for r in await self.conn.fetch(
            "SELECT * FROM invitations WHERE gathering_id = ANY($1::uuid[]) ORDER BY invitee_key",
            ids,
        ):
            invitations[r["gathering_id"]].append(invitation_of(r))
        guests: dict[UUID, list[UUID]] = {i: [] for i in ids}
        for r in await self.conn.fetch(
            "SELECT gathering_id, person_id FROM gathering_guests"
            " WHERE gathering_id = ANY($1::uuid[]) ORDER BY person_id",
            ids,
        ):
            guests[r["gathering_id"]].append(r["person_id"])
        found = [gathering_of(r, invitations[r["id"]], guests[r["id"]]) for r in rows]
        self.loaded.update({g.id: g for g in found})
        return found

    async def get(self, gathering_id: UUID, *, lock: bool = True) -> Gathering | None:
        query = "SELECT * FROM gatherings WHERE id = $1" + (" FOR UPDATE" if lock else "")
        found = await self._whole(list(await self.conn.fetch(query, gathering_id)))
        return found[0] if found else None

    async def add(self, gathering: Gathering) -> bool:
        inserted = await self.conn.fetchval(
            "INSERT INTO gatherings (id, round_id, region, kind, title, venue, starts_at, ends_at,"
            " capacity, semester, status, sequence, also_invite, municipality_number,"
            " supervisor_id, request_id, arranged_by)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
            " ON CONFLICT (id) DO NOTHING RETURNING true",
            gathering.id,
            gathering.round_id,
            gathering.region,
            gathering.kind.value,
            gathering.title,
            json.dumps(dict(gathering.venue)),
            gathering.slot.starts_at,
            gathering.slot.ends_at,
            gathering.capacity,
            gathering.semester,
            gathering.status.value,
            gathering.sequence,
            list(gathering.also_invite),
            gathering.municipality_number,
            gathering.supervisor_id,
            gathering.request_id,
            gathering.arranged_by,
        )
        if not inserted:
            return False
        self.loaded[gathering.id] = replace(gathering, invitations=(), guests=())
        await self.save(gathering)
        return True

    async def save(self, gathering: Gathering) -> None:
        before = self.loaded.get(gathering.id)
        assert before is not None, "a gathering is saved after it is loaded or added"
        if _row(before) != _row(gathering):
            await self.conn.execute(
                "UPDATE gatherings SET starts_at = $2, ends_at = $3, capacity = $4, status = $5,"
                " sequence = $6, venue = $7::jsonb, updated_at = now() WHERE id = $1",
                gathering.id,
                gathering.slot.starts_at,
                gathering.slot.ends_at,
                gathering.capacity,
                gathering.status.value,
                gathering.sequence,
                json.dumps(dict(gathering.venue)),
            )
        added = [p for p in gathering.guests if p not in before.guests]
        if added:
            await self.conn.execute(
                "INSERT INTO gathering_guests (gathering_id, person_id)"
                " SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
                gathering.id,
                added,
            )
        gone = [p for p in before.guests if p not in gathering.guests]
        if gone:
            await self.conn.execute(
                "DELETE FROM gathering_guests WHERE gathering_id = $1"
                " AND person_id = ANY($2::uuid[])",
                gathering.id,
                gone,
            )
        known = {i.id: i for i in before.invitations}
        changed = [i for i in gathering.invitations if known.get(i.id) != i]
        if changed:
            # issued_at and withdrawn_at are the database's clock, as they always were.
            await self.conn.executemany(
                "INSERT INTO invitations (id, gathering_id, invitee_key, person_id,"
                " municipality_number, branch_id, role, active, rsvp, attended,"
                " withdrawn_reason, withdrawn_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
                " CASE WHEN $8::boolean THEN NULL ELSE now() END)"
                " ON CONFLICT (id) DO UPDATE SET invitee_key = EXCLUDED.invitee_key,"
                " person_id = EXCLUDED.person_id,"
                " municipality_number = EXCLUDED.municipality_number,"
                " branch_id = EXCLUDED.branch_id, role = EXCLUDED.role,"
                " active = EXCLUDED.active, rsvp = EXCLUDED.rsvp, attended = EXCLUDED.attended,"
                " withdrawn_reason = EXCLUDED.withdrawn_reason,"
                " issued_at = CASE WHEN EXCLUDED.active AND NOT invitations.active THEN now()"
                "   ELSE invitations.issued_at END,"
                " withdrawn_at = CASE WHEN EXCLUDED.active THEN NULL"
                "   WHEN invitations.active THEN now() ELSE invitations.withdrawn_at END",
                [
                    (
                        i.id,
                        gathering.id,
                        i.key,
                        i.invitee.person_id,
                        i.invitee.municipality_number,
                        i.invitee.branch_id,
                        i.invitee.role.value,
                        i.active,
                        i.rsvp.value if i.rsvp is not None else None,
                        i.attended,
                        i.withdrawn_reason,
                    )
                    for i in changed
                ],
            )
        self.loaded[gathering.id] = gathering

    async def ahead(self, round_id: str, region: str | None, now: datetime) -> list[Gathering]:
        rows = await self.conn.fetch(
            "SELECT * FROM gatherings WHERE round_id = $1 AND ($2::text IS NULL OR region = $2)"
            " AND status = 'scheduled' AND starts_at > $3 ORDER BY starts_at, id FOR UPDATE",
            round_id,
            region,
            now,
        )
        return await self._whole(list(rows))

    async def ahead_of_person(self, person_id: UUID, now: datetime) -> list[Gathering]:
        rows = await self.conn.fetch(
            "SELECT g.* FROM gatherings g JOIN invitations i ON i.gathering_id = g.id"
            " WHERE i.person_id = $1 AND i.active AND g.status = 'scheduled'"
            " AND g.starts_at > $2 ORDER BY g.starts_at, g.id FOR UPDATE OF g",
            person_id,
            now,
        )
        return await self._whole(list(rows))

    async def inviting(self, person_id: UUID) -> list[Gathering]:
        rows = await self.conn.fetch(
            "SELECT * FROM gatherings g WHERE EXISTS (SELECT 1 FROM invitations i"
            " WHERE i.gathering_id = g.id AND i.person_id = $1) ORDER BY g.starts_at, g.id",
            person_id,
        )
        return await self._whole(list(rows))

    async def supervisions_ahead(
        self, round_id: str, municipality_number: str, now: datetime
    ) -> list[Gathering]:
        rows = await self.conn.fetch(
            "SELECT * FROM gatherings WHERE round_id = $1 AND municipality_number = $2"
            " AND kind = 'veiledning' AND status = 'scheduled' AND starts_at > $3"
            " ORDER BY starts_at, id FOR UPDATE",
            round_id,
            municipality_number,
            now,
        )
        return await self._whole(list(rows))

    async def supervisor_slots(
        self, supervisor_id: str, *, besides: UUID | None = None
    ) -> list[tuple[UUID, Slot]]:
        rows = await self.conn.fetch(
            "SELECT id, starts_at, ends_at FROM gatherings WHERE supervisor_id = $1"
            " AND status = 'scheduled' AND id IS DISTINCT FROM $2",
            supervisor_id,
            besides,
        )
        return [(r["id"], Slot.of(r["starts_at"], r["ends_at"])) for r in rows]

    async def planned(self, round_id: str, region: str) -> list[Planned]:
        rows = await self.conn.fetch(
            "SELECT kind, semester FROM gatherings WHERE round_id = $1 AND region = $2"
            " AND status = 'scheduled' AND kind IN ('presamling', 'samling')",
            round_id,
            region,
        )
        return [Planned(r["kind"], r["semester"]) for r in rows]


# --- requests, proposals, guests ------------------------------------------------------------


@dataclass
class SqlDialogueRequests:
    conn: asyncpg.Connection

    async def get(self, request_id: UUID) -> DialogueRequest | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM dialogue_requests WHERE id = $1 FOR UPDATE", request_id
        )
        if row is None:
            return None
        return DialogueRequest(
            id=row["id"],
            round_id=row["round_id"],
            region=row["region"],
            topic=row["topic"],
            wished_dates=tuple(row["wished_dates"]),
            requested_at=row["requested_at"],
            origin=Origin(row["origin"]),
            requested_by=row["requested_by"],
            gathering_id=row["gathering_id"],
        )

    async def add(self, request: DialogueRequest) -> bool:
        inserted = await self.conn.fetchval(
            "INSERT INTO dialogue_requests (id, round_id, region, topic, wished_dates,"
            " requested_at, origin, requested_by, gathering_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING"
            " RETURNING true",
            request.id,
            request.round_id,
            request.region,
            request.topic,
            list(request.wished_dates),
            request.requested_at,
            request.origin.value,
            request.requested_by,
            request.gathering_id,
        )
        return bool(inserted)

    async def save(self, request: DialogueRequest) -> None:
        # What a request can become: answered by a dialogmøte.
        await self.conn.execute(
            "UPDATE dialogue_requests SET gathering_id = $2 WHERE id = $1",
            request.id,
            request.gathering_id,
        )


@dataclass
class SqlProposals:
    conn: asyncpg.Connection

    async def get(self, proposal_id: UUID) -> DelingsarenaProposal | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM delingsarena_proposals WHERE id = $1 FOR UPDATE", proposal_id
        )
        if row is None:
            return None
        venue = row["venue"]
        return DelingsarenaProposal(
            id=row["id"],
            round_id=row["round_id"],
            region=row["region"],
            title=row["title"],
            description=row["description"],
            wished_dates=tuple(row["wished_dates"]),
            venue=json.loads(venue) if isinstance(venue, str) else venue,
            proposed_at=row["proposed_at"],
            proposed_by=row["proposed_by"],
            gathering_id=row["gathering_id"],
        )

    async def add(self, proposal: DelingsarenaProposal) -> bool:
        inserted = await self.conn.fetchval(
            "INSERT INTO delingsarena_proposals (id, round_id, region, title, description,"
            " wished_dates, venue, proposed_at, proposed_by)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING"
            " RETURNING true",
            proposal.id,
            proposal.round_id,
            proposal.region,
            proposal.title,
            proposal.description,
            list(proposal.wished_dates),
            json.dumps(dict(proposal.venue)) if proposal.venue is not None else None,
            proposal.proposed_at,
            proposal.proposed_by,
        )
        return bool(inserted)

    async def save(self, proposal: DelingsarenaProposal) -> None:
        # What a proposal can become: taken up by a delingsarena.
        await self.conn.execute(
            "UPDATE delingsarena_proposals SET gathering_id = $2 WHERE id = $1",
            proposal.id,
            proposal.gathering_id,
        )


@dataclass
class SqlGuests:
    conn: asyncpg.Connection

    async def get(self, person_id: UUID) -> Guest | None:
        row = await self.conn.fetchrow("SELECT * FROM guests WHERE person_id = $1", person_id)
        if row is None:
            return None
        return Guest(
            row["person_id"], row["name"], row["email"], row["language"], row["organisation"]
        )

    async def save(self, guest: Guest) -> UUID:
        found: UUID = await self.conn.fetchval(
            "INSERT INTO guests (person_id, name, email, language, organisation)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT ((lower(email))) DO UPDATE SET name = $2, language = $4,"
            " organisation = coalesce($5, guests.organisation)"
            " RETURNING person_id",
            guest.person_id,
            guest.name,
            guest.email,
            guest.language,
            guest.organisation,
        )
        return found

    async def remove(self, person_id: UUID, contacts_topic: str) -> None:
        await self.conn.execute("DELETE FROM guests WHERE person_id = $1", person_id)
        await self.conn.execute(
            "DELETE FROM outbox WHERE topic = $1 AND key = $2 AND published_at IS NOT NULL",
            contacts_topic,
            str(person_id),
        )


# --- mellomarbeid ---------------------------------------------------------------------------


@dataclass
class SqlInterimWorks:
    conn: asyncpg.Connection
    loaded: dict[UUID, InterimWork] = field(default_factory=dict)

    async def get(self, interim_work_id: UUID) -> InterimWork | None:
        row = await self.conn.fetchrow("SELECT * FROM interim_work WHERE id = $1", interim_work_id)
        if row is None:
            return None
        reports = {
            r["municipality_number"]: Report(r["report"], r["reported_at"])
            for r in await self.conn.fetch(
                "SELECT * FROM interim_work_reports WHERE interim_work_id = $1", interim_work_id
            )
        }
        found = InterimWork(
            id=row["id"],
            round_id=row["round_id"],
            region=row["region"],
            after_gathering_id=row["after_gathering_id"],
            title=row["title"],
            description=row["description"],
            due_on=row["due_on"],
            set_at=row["set_at"],
            reports=reports,
        )
        self.loaded[found.id] = found
        return found

    async def add(self, work: InterimWork) -> bool:
        inserted = await self.conn.fetchval(
            "INSERT INTO interim_work (id, round_id, region, after_gathering_id, title,"
            " description, due_on, set_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (id) DO NOTHING RETURNING true",
            work.id,
            work.round_id,
            work.region,
            work.after_gathering_id,
            work.title,
            work.description,
            work.due_on,
            work.set_at,
        )
        if inserted:
            self.loaded[work.id] = replace(work, reports={})
            await self.save(work)
        return bool(inserted)

    async def save(self, work: InterimWork) -> None:
        before = self.loaded.get(work.id)
        known = before.reports if before is not None else {}
        changed = [(n, r) for n, r in sorted(work.reports.items()) if known.get(n) != r]
        if changed:
            await self.conn.executemany(
                "INSERT INTO interim_work_reports (interim_work_id, municipality_number, report,"
                " reported_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (interim_work_id, municipality_number)"
                " DO UPDATE SET report = EXCLUDED.report, reported_at = EXCLUDED.reported_at",
                [(work.id, n, r.text, r.reported_at) for n, r in changed],
            )
        self.loaded[work.id] = work

    async def due_before(
        self, round_id: str, region: str, starts_at: datetime
    ) -> list[InterimWorkDue]:
        rows = await self.conn.fetch(
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
        return [
            InterimWorkDue(interim_work_id=r["id"], title=r["title"], due_on=r["due_on"])
            for r in rows
        ]


# --- what registration has said -------------------------------------------------------------


@dataclass
class SqlParticipants:
    conn: asyncpg.Connection

    async def get(self, round_id: str, municipality_number: str) -> Participant | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM participants WHERE round_id = $1 AND municipality_number = $2",
            round_id,
            municipality_number,
        )
        if row is None:
            return None
        return Participant(
            round_id,
            municipality_number,
            row["branch_id"],
            row["county_number"],
            ParticipantStatus(row["status"]),
        )

    async def save(self, participant: Participant) -> None:
        await self.conn.execute(
            "INSERT INTO participants (round_id, municipality_number, branch_id, county_number,"
            " status) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (round_id, municipality_number)"
            " DO UPDATE SET status = EXCLUDED.status, branch_id = EXCLUDED.branch_id",
            participant.round_id,
            participant.municipality_number,
            participant.branch_id,
            participant.county_number,
            participant.status.value,
        )


@dataclass
class SqlGroups:
    conn: asyncpg.Connection

    async def get(self, round_id: str, municipality_number: str) -> Group:
        rows = await self.conn.fetch(
            "SELECT person_id, role FROM group_members WHERE round_id = $1"
            " AND municipality_number = $2 ORDER BY person_id",
            round_id,
            municipality_number,
        )
        members = tuple(Member(r["person_id"], InviteeRole(r["role"])) for r in rows)
        return Group(round_id, municipality_number, members)

    async def save(self, group: Group) -> None:
        await self.conn.execute(
            "DELETE FROM group_members WHERE round_id = $1 AND municipality_number = $2",
            group.round_id,
            group.municipality_number,
        )
        await self.conn.executemany(
            "INSERT INTO group_members (round_id, municipality_number, person_id, role)"
            " VALUES ($1, $2, $3, $4)",
            [
                (group.round_id, group.municipality_number, m.person_id, m.role.value)
                for m in group.members
            ],
        )

    async def of_person(self, person_id: UUID) -> list[Group]:
        rows = await self.conn.fetch(
            "SELECT DISTINCT round_id, municipality_number FROM group_members"
            " WHERE person_id = $1 ORDER BY round_id, municipality_number",
            person_id,
        )
        return [await self.get(r["round_id"], r["municipality_number"]) for r in rows]


@dataclass
class SqlInterests:
    conn: asyncpg.Connection

    async def get(self, round_id: str, branch_id: str) -> Interest | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM interests WHERE round_id = $1 AND branch_id = $2", round_id, branch_id
        )
        if row is None:
            return None
        contacts = await self.conn.fetch(
            "SELECT municipality_number, person_id FROM interest_municipality_contacts"
            " WHERE round_id = $1 AND branch_id = $2",
            round_id,
            branch_id,
        )
        return Interest(
            round_id,
            branch_id,
            row["contact_person_id"],
            tuple(row["municipality_numbers"]),
            {r["municipality_number"]: r["person_id"] for r in contacts},
        )

    async def save(self, interest: Interest) -> None:
        await self.conn.execute(
            "INSERT INTO interests (round_id, branch_id, contact_person_id, municipality_numbers)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (round_id, branch_id) DO UPDATE SET"
            " contact_person_id = EXCLUDED.contact_person_id,"
            " municipality_numbers = EXCLUDED.municipality_numbers",
            interest.round_id,
            interest.branch_id,
            interest.contact_person_id,
            list(interest.municipality_numbers),
        )
        await self.conn.execute(
            "DELETE FROM interest_municipality_contacts WHERE round_id = $1 AND branch_id = $2",
            interest.round_id,
            interest.branch_id,
        )
        await self.conn.executemany(
            "INSERT INTO interest_municipality_contacts (round_id, branch_id, municipality_number,"
            " person_id) VALUES ($1, $2, $3, $4)",
            [
                (interest.round_id, interest.branch_id, n, p)
                for n, p in sorted(interest.municipality_contacts.items())
            ],
        )

    async def of_person(self, person_id: UUID) -> list[Interest]:
        rows = await self.conn.fetch(
            "SELECT round_id, branch_id FROM interests WHERE contact_person_id = $1"
            " UNION SELECT round_id, branch_id FROM interest_municipality_contacts"
            " WHERE person_id = $1 ORDER BY 1, 2",
            person_id,
        )
        found = [await self.get(r["round_id"], r["branch_id"]) for r in rows]
        return [i for i in found if i is not None]


# --- the unit of work -----------------------------------------------------------------------


class SqlUnit:
    """The repositories on the bus's transaction; what is emitted goes to its outbox."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        conn = uow.conn
        self.conn = conn
        self.rounds = SqlRounds(conn)
        self.semesters = SqlSemesters(conn)
        self.gatherings = SqlGatherings(conn)
        self.requests = SqlDialogueRequests(conn)
        self.proposals = SqlProposals(conn)
        self.guests = SqlGuests(conn)
        self.interim_work = SqlInterimWorks(conn)
        self.participants = SqlParticipants(conn)
        self.groups = SqlGroups(conn)
        self.interests = SqlInterests(conn)

    async def region_state(self, round_id: str, region: str) -> RegionState:
        return await read_region_state(self.conn, round_id, region)

    async def lock_round(self, round_id: str) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"round:{round_id}")

    async def lock_supervisor(self, supervisor_id: str) -> None:
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))", f"supervisor:{supervisor_id}"
        )

    async def emit(self, topic: str, contract: Contract) -> None:
        await self.uow.emit(topic, contract)

    async def tombstone(self, topic: str, key: str, tombstone_id: str) -> None:
        await add_to_outbox(
            self.conn, topic=topic, key=key, envelope=None, tombstone_id=tombstone_id
        )


def sql_unit(uow: UnitOfWork) -> SqlUnit:
    return SqlUnit(uow)
