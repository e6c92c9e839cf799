"""The repositories in PostgreSQL, on the unit of work's transaction (its connection)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import asyncpg

from services.registration.adapters.repositories import (
    InterestIntake,
    Lock,
    Repositories,
)
from services.registration.domain.branches import AdoptedAreas, BoardContact
from services.registration.domain.decisions import Application, Region, Waiting
from services.registration.domain.groups import Member, MemberRole
from services.registration.domain.interest import (
    InterestRegistration,
    InterestSaved,
    MunicipalityContact,
)
from services.registration.domain.rounds import Round, RoundState, Window
from shared.contracts.events.registration import ContactPerson, GroupMember
from shared.messaging.outbox import add_to_outbox, write_queued_rows

Row = Mapping[str, Any]

ROUND_COLUMNS = "round_id, interest_deadline, capacity_per_branch, state, state_reason"
# A person added, or updated under the same id (erasure marks stay), as the first part of a
# statement that also writes what refers to them: $1 to $5.
UPSERT_PERSON = (
    "WITH person AS ("
    "  INSERT INTO persons (id, name, email, phone, language) VALUES ($1, $2, $3, $4, $5)"
    "  ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,"
    "  phone = EXCLUDED.phone, language = EXCLUDED.language)"
)


def person_args(person_id: UUID, who: ContactPerson | GroupMember) -> tuple[Any, ...]:
    return (person_id, who.name, str(who.email), who.phone, who.language.value)


def round_of(row: Row) -> Round:
    return Round(
        round_id=row["round_id"],
        interest_deadline=row["interest_deadline"],
        capacity_per_branch=dict(row["capacity_per_branch"]),
        state=RoundState(row["state"]),
        state_reason=row["state_reason"],
    )


class SqlRounds:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, round_id: str, *, lock: Lock | None = None) -> Round | None:
        row = await self.conn.fetchrow(
            f"SELECT {ROUND_COLUMNS} FROM rounds WHERE round_id = $1"
            + (f" FOR {lock.upper()}" if lock else ""),
            round_id,
        )
        return round_of(row) if row is not None else None

    async def add(self, found: Round) -> bool:
        status = await self.conn.execute(
            "INSERT INTO rounds (round_id, interest_deadline, capacity_per_branch, state,"
            " state_reason) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            *self._values(found),
        )
        return bool(status.endswith(" 1"))

    async def save(self, found: Round) -> None:
        await self.conn.execute(
            "UPDATE rounds SET interest_deadline = $2, capacity_per_branch = $3, state = $4,"
            " state_reason = $5 WHERE round_id = $1",
            *self._values(found),
        )

    @staticmethod
    def _values(found: Round) -> tuple[Any, ...]:
        return (
            found.round_id,
            found.interest_deadline,
            dict(found.capacity_per_branch),
            found.state.value,
            found.state_reason,
        )

    async def window(self, round_id: str, county: str) -> Window | None:
        row = await self.conn.fetchrow(
            "SELECT opens_on, deadline FROM application_windows"
            " WHERE round_id = $1 AND county_number = $2",
            round_id,
            county,
        )
        return Window(round_id, county, row["opens_on"], row["deadline"]) if row else None

    async def add_window(self, window: Window) -> bool:
        status = await self.conn.execute(
            "INSERT INTO application_windows (round_id, county_number, opens_on, deadline)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            window.round_id,
            window.county_number,
            window.opens_on,
            window.deadline,
        )
        return bool(status.endswith(" 1"))

    async def save_window(self, window: Window) -> None:
        await self.conn.execute(
            "UPDATE application_windows SET opens_on = $3, deadline = $4"
            " WHERE round_id = $1 AND county_number = $2",
            window.round_id,
            window.county_number,
            window.opens_on,
            window.deadline,
        )


APPLICATION_COLUMNS = (
    "id, round_id, municipality_number, county_number, branch_id, status, motivation,"
    " development_areas, co_creation_plan, draft_group, submitted_at, decided_at, decision_reason,"
    " waitlist_sequence, decided_by, early_reason, promoted_from_waitlist, withdrawn_at,"
    " withdrawn_by, withdrawal_reason, revoked_at, revoked_by, revocation_reason,"
    " own_development_areas, themes"
)


class SqlApplications:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, round_id: str, municipality: str) -> Application | None:
        row = await self.conn.fetchrow(
            f"SELECT {APPLICATION_COLUMNS} FROM applications"
            " WHERE round_id = $1 AND municipality_number = $2 FOR UPDATE",
            round_id,
            municipality,
        )
        return Application.of(row) if row is not None else None

    async def save(self, app: Application) -> None:
        # The wait-list's order is the database's: a place in line is drawn when the
        # application joins it, kept while it waits, and gone when it leaves.
        await self.conn.execute(
            "INSERT INTO applications (id, round_id, municipality_number, county_number,"
            " branch_id, status, motivation, development_areas, co_creation_plan, draft_group,"
            " own_development_areas, themes, submitted_at, decided_at, decision_reason,"
            " decided_by, early_reason, promoted_from_waitlist, withdrawn_at, withdrawn_by,"
            " withdrawal_reason, revoked_at, revoked_by, revocation_reason)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
            " $17, $18, $19, $20, $21, $22, $23, $24)"
            " ON CONFLICT (round_id, municipality_number) DO UPDATE SET status = $6, motivation = $7,"
            " development_areas = $8, co_creation_plan = $9, draft_group = $10,"
            " own_development_areas = $11, themes = $12, submitted_at = $13, decided_at = $14,"
            " decision_reason = $15, decided_by = $16, early_reason = $17,"
            " promoted_from_waitlist = $18, withdrawn_at = $19, withdrawn_by = $20,"
            " withdrawal_reason = $21, revoked_at = $22, revoked_by = $23,"
            " revocation_reason = $24, waitlist_sequence = CASE WHEN $6 = 'waitlisted'"
            " THEN coalesce(applications.waitlist_sequence, nextval('waitlist_order')) END",
            app.id,
            app.round_id,
            app.municipality_number,
            app.county_number,
            app.branch_id,
            app.status.value,
            app.motivation,
            list(app.development_areas),
            app.co_creation_plan,
            [dict(m) for m in app.draft_group],
            list(app.own_development_areas),
            list(app.themes),
            app.submitted_at,
            app.decided_at,
            app.decision_reason,
            app.decided_by,
            app.early_reason,
            app.promoted_from_waitlist,
            app.withdrawn_at,
            app.withdrawn_by,
            app.withdrawal_reason,
            app.revoked_at,
            app.revoked_by,
            app.revocation_reason,
        )
        if app.status.value == "draft":
            await self.conn.execute(
                "UPDATE group_members SET removed_at = now() WHERE application_id = $1"
                " AND removed_at IS NULL",
                app.id,
            )

    async def group(self, application_id: UUID) -> list[Member]:
        rows = await self.conn.fetch(
            "SELECT g.person_id, g.role, g.committed,"
            " coalesce(p.email, g.person_id::text) AS email"
            " FROM group_members g JOIN persons p ON p.id = g.person_id"
            " WHERE g.application_id = $1 AND g.removed_at IS NULL ORDER BY g.seq",
            application_id,
        )
        return [
            Member(r["email"], MemberRole(r["role"]), r["committed"], r["person_id"]) for r in rows
        ]

    async def add_member(self, application_id: UUID, person_id: UUID, member: GroupMember) -> None:
        await self.conn.execute(
            "INSERT INTO persons (id, name, email, phone, language) VALUES ($1, $2, $3, $4, $5)",
            *person_args(person_id, member),
        )
        await self.conn.execute(
            "INSERT INTO group_members (application_id, person_id, role, organisation, committed)"
            " VALUES ($1, $2, $3, $4, $5)",
            application_id,
            person_id,
            member.role.value,
            member.organisation,
            member.commits_to_gatherings,
        )

    async def remove_member(self, application_id: UUID, person_id: UUID) -> None:
        await self.conn.execute(
            "UPDATE group_members SET removed_at = now() WHERE application_id = $1"
            " AND person_id = $2",
            application_id,
            person_id,
        )

    async def region(self, round_id: str, branch_id: str) -> Region:
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))", f"region:{round_id}:{branch_id}"
        )
        rows = await self.conn.fetch(
            "SELECT status, municipality_number, waitlist_sequence FROM applications"
            " WHERE round_id = $1 AND branch_id = $2 AND status IN ('admitted', 'waitlisted')"
            " ORDER BY waitlist_sequence",
            round_id,
            branch_id,
        )
        return Region(
            admitted=sum(1 for r in rows if r["status"] == "admitted"),
            waiting=tuple(
                Waiting(r["municipality_number"], r["waitlist_sequence"])
                for r in rows
                if r["status"] == "waitlisted"
            ),
        )


class SqlInterests:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def intake(
        self, *, round_id: str, branch_id: str | None, municipality_numbers: list[str]
    ) -> InterestIntake:
        """In one round trip: the round (shared lock, so that its deadline cannot move under
        the command), which of the municipalities are members, and the branch's registration
        so far (locked after the round, as the other commands on a round take them, with its
        contact's e-mail address)."""
        row = await self.conn.fetchrow(
            "WITH r AS ("
            f"  SELECT {ROUND_COLUMNS} FROM rounds WHERE round_id = $1 FOR SHARE"
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
        if row is None:
            return InterestIntake(round=None, members=set(), existing=None)
        existing = None
        if row["id"] is not None:
            existing = InterestRegistration(
                id=row["id"],
                contact_person_id=row["contact_person_id"],
                municipality_numbers=tuple(row["municipality_numbers"]),
                contact_email=row["contact_email"],
            )
        return InterestIntake(round=round_of(row), members=set(row["members"]), existing=existing)

    async def save(self, saved: InterestSaved) -> None:
        """In one statement; the foreign keys between the three rows are checked at its end,
        when all three are there."""
        registration = (
            "INSERT INTO interest_registrations (id, round_id, branch_id, municipality_numbers,"
            " contact_person_id, message, registered_at) VALUES ($6, $7, $8, $9, $1, $10, $11)"
            if saved.new
            else "UPDATE interest_registrations SET municipality_numbers = $9,"
            " contact_person_id = $1, message = $10, updated_at = $11"
            " WHERE id = $6 AND round_id = $7 AND branch_id = $8"
        )
        await self.conn.execute(
            f"{UPSERT_PERSON}, registration AS ({registration})"
            " INSERT INTO interest_history (registration_id, at, municipality_numbers, added,"
            " removed, contact_changed, message) VALUES ($6, $11, $9, $12, $13, $14, $10)",
            *person_args(saved.person_id, saved.contact),
            saved.registration_id,
            saved.round_id,
            saved.branch_id,
            saved.municipality_numbers,
            saved.message,
            saved.at,
            saved.added,
            saved.removed,
            saved.contact_changed,
        )

    async def municipality_contacts(
        self, registration_id: UUID
    ) -> dict[str, tuple[UUID, str | None]]:
        """Each named municipality's contact: (person id, e-mail address; None once erased)."""
        rows = await self.conn.fetch(
            "SELECT c.municipality_number, c.person_id, p.email"
            " FROM interest_municipality_contacts c"
            " JOIN persons p ON p.id = c.person_id WHERE c.registration_id = $1",
            registration_id,
        )
        return {r["municipality_number"]: (r["person_id"], r["email"]) for r in rows}

    async def save_municipality_contact(
        self, registration_id: UUID, named: MunicipalityContact
    ) -> None:
        await self.conn.execute(
            f"{UPSERT_PERSON} INSERT INTO interest_municipality_contacts (registration_id,"
            " municipality_number, person_id) VALUES ($6, $7, $1)"
            " ON CONFLICT (registration_id, municipality_number)"
            " DO UPDATE SET person_id = EXCLUDED.person_id",
            *person_args(named.person_id, named.contact),
            registration_id,
            named.municipality_number,
        )

    async def drop_municipality_contacts(self, registration_id: UUID, numbers: list[str]) -> None:
        await self.conn.execute(
            "DELETE FROM interest_municipality_contacts"
            " WHERE registration_id = $1 AND municipality_number = ANY($2::text[])",
            registration_id,
            numbers,
        )


class SqlPersons:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def contact(self, person_id: UUID) -> ContactPerson | None:
        """The person's contact details, or None once erased."""
        row = await self.conn.fetchrow(
            "SELECT name, email, phone, language FROM persons WHERE id = $1 AND erased_at IS NULL",
            person_id,
        )
        return ContactPerson.model_validate(dict(row)) if row is not None else None

    async def erase(self, person_id: UUID, *, contacts_topic: str, by: str | None) -> bool:
        """Remove a person's contact data wherever this schema holds it; False if there is none.

        The id stays, so that history keeps its shape. Gone are: the data on the person, every
        contact-details message of theirs in the outbox (published or not: the tombstone that
        follows is what the topic keeps), their entries in unsubmitted drafts' groups (matched
        by e-mail address, as drafts hold no person ids yet), and the mails they sent to the
        programme mailbox (by address; the rows stay, empty, with what became of them).
        """
        conn = self.conn
        email = await conn.fetchval(
            "SELECT email FROM persons WHERE id = $1 AND erased_at IS NULL FOR UPDATE", person_id
        )
        if email is None:
            return False
        await conn.execute(
            "UPDATE persons SET name = NULL, email = NULL, phone = NULL, erased_at = now(),"
            " erased_by = $2 WHERE id = $1",
            person_id,
            by,
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

    async def in_use(self, person_id: UUID) -> bool:
        """Whether anything here still refers to the person (a registration or a group)."""
        return bool(
            await self.conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM interest_registrations WHERE contact_person_id = $1)"
                " OR EXISTS (SELECT 1 FROM group_members WHERE person_id = $1)"
                " OR EXISTS (SELECT 1 FROM branch_contacts WHERE person_id = $1)"
                " OR EXISTS (SELECT 1 FROM interest_municipality_contacts WHERE person_id = $1)",
                person_id,
            )
        )

    async def tombstone(self, topic: str, key: str, tombstone_id: str) -> None:
        await add_to_outbox(
            self.conn, topic=topic, key=key, envelope=None, tombstone_id=tombstone_id
        )


class SqlBranches:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def contact(self, branch_id: str) -> tuple[UUID, str | None] | None:
        """The branch's board contact: their id and e-mail address (None once erased)."""
        row = await self.conn.fetchrow(
            "SELECT b.person_id, p.email FROM branch_contacts b"
            " JOIN persons p ON p.id = b.person_id WHERE b.branch_id = $1 FOR UPDATE OF b",
            branch_id,
        )
        return (row["person_id"], row["email"]) if row is not None else None

    async def set_contact(self, contact: BoardContact) -> None:
        await self.conn.execute(
            f"{UPSERT_PERSON} INSERT INTO branch_contacts (branch_id, person_id, set_at, set_by)"
            " VALUES ($6, $1, $7, $8) ON CONFLICT (branch_id) DO UPDATE"
            " SET person_id = $1, set_at = $7, set_by = $8",
            *person_args(contact.person_id, contact.contact),
            contact.branch_id,
            contact.set_at,
            contact.set_by,
        )

    async def areas(self, round_id: str, branch_id: str) -> list[str] | None:
        """The branch's adopted development areas for the round; None if it has set none."""
        found: list[str] | None = await self.conn.fetchval(
            "SELECT areas FROM development_areas WHERE round_id = $1 AND branch_id = $2",
            round_id,
            branch_id,
        )
        return found

    async def set_areas(self, adopted: AdoptedAreas) -> None:
        await self.conn.execute(
            "INSERT INTO development_areas (round_id, branch_id, areas, set_at, set_by)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (round_id, branch_id)"
            " DO UPDATE SET areas = $3, set_at = $4, set_by = $5",
            adopted.round_id,
            adopted.branch_id,
            adopted.areas,
            adopted.set_at,
            adopted.set_by,
        )


class SqlMembers:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def all(self) -> set[str]:
        return {
            r["municipality_number"]
            for r in await self.conn.fetch("SELECT municipality_number FROM members")
        }

    async def among(self, numbers: list[str]) -> set[str]:
        """Which of `numbers` are members (one indexed look-up, not the whole list)."""
        rows = await self.conn.fetch(
            "SELECT municipality_number FROM members WHERE municipality_number = ANY($1)", numbers
        )
        return {r["municipality_number"] for r in rows}

    async def replace(self, numbers: set[str]) -> None:
        await self.conn.execute(
            "DELETE FROM members WHERE NOT (municipality_number = ANY($1))", list(numbers)
        )
        await self.conn.executemany(
            "INSERT INTO members (municipality_number) VALUES ($1) ON CONFLICT DO NOTHING",
            [(n,) for n in sorted(numbers)],
        )


def sql_repositories(conn: asyncpg.Connection) -> Repositories:
    return Repositories(
        rounds=SqlRounds(conn),
        applications=SqlApplications(conn),
        interests=SqlInterests(conn),
        persons=SqlPersons(conn),
        branches=SqlBranches(conn),
        members=SqlMembers(conn),
    )
