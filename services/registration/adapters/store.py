"""What the handlers need of storage, as one interface: `SqlStore` on the unit of work's
transaction (PostgreSQL), `FakeStore` (adapters/fake.py) in memory for unit tests of the
handler rules. Both read rows (a mapping of column to value) and hand the handlers the
domain's typed objects: rounds, windows, applications, interest, group members and the
wait-list; a status or role is written from its enum."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol
from uuid import UUID

import asyncpg

from services.registration.adapters import repository as repo
from services.registration.domain.decisions import Application, Status, Waiting
from services.registration.domain.groups import Member, MemberRole
from services.registration.domain.interest import InterestRegistration
from services.registration.domain.rounds import Round, RoundState, Window
from shared.contracts.events.registration import ContactPerson
from shared.messaging.outbox import add_to_outbox

Row = Mapping[str, Any]


def round_of(row: Row) -> Round:
    return Round(
        round_id=row["round_id"],
        interest_deadline=row["interest_deadline"],
        capacity_per_branch=dict(row["capacity_per_branch"]),
        state=RoundState(row["state"]),
        state_reason=row["state_reason"],
    )


def window_of(row: Row) -> Window:
    return Window(opens_on=row["opens_on"], deadline=row["deadline"])


def member_of(row: Row) -> Member:
    return Member(
        email=row["email"],
        role=MemberRole(row["role"]),
        committed=row["committed"],
        person_id=row["person_id"],
    )


def waiting_of(row: Row) -> Waiting:
    return Waiting(row["municipality_number"], row["waitlist_sequence"])


def interest_of(row: Row) -> InterestRegistration:
    return InterestRegistration(
        id=row["id"],
        contact_person_id=row["contact_person_id"],
        municipality_numbers=tuple(row["municipality_numbers"]),
        contact_email=row.get("contact_email"),
    )


@dataclass(frozen=True)
class InterestIntake:
    """What registering interest reads: the round (None if there is none), which of the
    municipalities are members, and the branch's registration so far."""

    round: Round | None
    members: set[str]
    existing: InterestRegistration | None


class Store(Protocol):
    async def add_person(self, *, person_id: UUID, contact: ContactPerson) -> None: ...

    async def person_contact(self, person_id: UUID) -> ContactPerson | None: ...

    async def erase_person(
        self, person_id: UUID, *, contacts_topic: str, erased_by: str | None = None
    ) -> bool: ...

    async def person_in_use(self, person_id: UUID) -> bool: ...

    async def branch_contact(self, branch_id: str) -> tuple[UUID, str | None] | None: ...

    async def set_branch_contact(
        self,
        *,
        branch_id: str,
        person_id: UUID,
        contact: ContactPerson,
        at: datetime,
        by: str | None,
    ) -> None: ...

    async def members(self) -> set[str]: ...

    async def members_among(self, numbers: list[str]) -> set[str]: ...

    async def replace_members(self, numbers: set[str]) -> None: ...

    async def get_round(
        self, round_id: str, *, lock: Literal["share", "update"] | None = None
    ) -> Round | None: ...

    async def set_round_state(self, round_id: str, state: RoundState, reason: str) -> None: ...

    async def set_capacity(self, round_id: str, capacity: dict[str, int]) -> None: ...

    async def add_round(
        self, *, round_id: str, interest_deadline: date, capacity_per_branch: dict[str, int]
    ) -> bool: ...

    async def set_interest_deadline(self, round_id: str, deadline: date) -> None: ...

    async def get_window(self, round_id: str, county: str) -> Window | None: ...

    async def add_window(
        self, *, round_id: str, county: str, opens_on: date, deadline: date
    ) -> bool: ...

    async def set_window_deadline(self, round_id: str, county: str, deadline: date) -> None: ...

    async def interest_intake(
        self, *, round_id: str, branch_id: str | None, municipality_numbers: list[str]
    ) -> InterestIntake: ...

    async def save_interest(
        self,
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
    ) -> None: ...

    async def municipality_contacts(
        self, registration_id: UUID
    ) -> dict[str, tuple[UUID, str | None]]: ...

    async def save_municipality_contact(
        self,
        *,
        registration_id: UUID,
        municipality_number: str,
        person_id: UUID,
        contact: ContactPerson,
    ) -> None: ...

    async def drop_municipality_contacts(
        self, registration_id: UUID, numbers: list[str]
    ) -> None: ...

    async def get_application(self, round_id: str, municipality: str) -> Application | None: ...

    async def save_draft(
        self,
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
    ) -> None: ...

    async def development_areas(self, round_id: str, branch_id: str) -> list[str] | None: ...

    async def set_development_areas(
        self, *, round_id: str, branch_id: str, areas: list[str], at: datetime, by: str | None
    ) -> None: ...

    async def reopen_as_draft(self, application_id: UUID) -> None: ...

    async def mark_submitted(self, application_id: UUID, at: datetime) -> None: ...

    async def add_group_member(
        self,
        *,
        application_id: UUID,
        person_id: UUID,
        role: MemberRole,
        organisation: str,
        committed: bool,
    ) -> None: ...

    async def active_group(self, application_id: UUID) -> list[Member]: ...

    async def remove_group_member(self, application_id: UUID, person_id: UUID) -> None: ...

    async def set_status(
        self,
        application_id: UUID,
        status: Status,
        *,
        at: datetime,
        reason: str | None = None,
        waitlist: bool = False,
        by: str | None = None,
        early_reason: str | None = None,
        promoted: bool = False,
    ) -> None: ...

    async def set_withdrawn(
        self, application_id: UUID, *, at: datetime, reason: str, by: str | None
    ) -> None: ...

    async def set_revoked(
        self, application_id: UUID, *, at: datetime, reason: str, by: str | None
    ) -> None: ...

    async def lock_region(self, round_id: str, branch_id: str) -> None: ...

    async def count_status(self, round_id: str, branch_id: str, status: Status) -> int: ...

    async def waitlist(self, round_id: str, branch_id: str) -> list[Waiting]: ...

    async def add_tombstone(self, topic: str, key: str, tombstone_id: str) -> None: ...


class SqlStore:
    """The SQL of `repository`, on one transaction's connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add_person(self, *, person_id: UUID, contact: ContactPerson) -> None:
        return await repo.add_person(self.conn, person_id=person_id, contact=contact)

    async def person_contact(self, person_id: UUID) -> ContactPerson | None:
        return await repo.person_contact(self.conn, person_id)

    async def erase_person(
        self, person_id: UUID, *, contacts_topic: str, erased_by: str | None = None
    ) -> bool:
        return await repo.erase_person(
            self.conn, person_id, contacts_topic=contacts_topic, erased_by=erased_by
        )

    async def person_in_use(self, person_id: UUID) -> bool:
        return await repo.person_in_use(self.conn, person_id)

    async def branch_contact(self, branch_id: str) -> tuple[UUID, str | None] | None:
        return await repo.branch_contact(self.conn, branch_id)

    async def set_branch_contact(
        self,
        *,
        branch_id: str,
        person_id: UUID,
        contact: ContactPerson,
        at: datetime,
        by: str | None,
    ) -> None:
        await repo.set_branch_contact(
            self.conn, branch_id=branch_id, person_id=person_id, contact=contact, at=at, by=by
        )

    async def members(self) -> set[str]:
        return await repo.members(
            self.conn,
        )

    async def members_among(self, numbers: list[str]) -> set[str]:
        return await repo.members_among(self.conn, numbers)

    async def replace_members(self, numbers: set[str]) -> None:
        return await repo.replace_members(self.conn, numbers)

    async def get_round(
        self, round_id: str, *, lock: Literal["share", "update"] | None = None
    ) -> Round | None:
        found = await repo.get_round(self.conn, round_id, lock=lock)
        return round_of(found) if found is not None else None

    async def set_round_state(self, round_id: str, state: RoundState, reason: str) -> None:
        return await repo.set_round_state(self.conn, round_id, state.value, reason)

    async def set_capacity(self, round_id: str, capacity: dict[str, int]) -> None:
        return await repo.set_capacity(self.conn, round_id, capacity)

    async def add_round(
        self, *, round_id: str, interest_deadline: date, capacity_per_branch: dict[str, int]
    ) -> bool:
        return await repo.add_round(
            self.conn,
            round_id=round_id,
            interest_deadline=interest_deadline,
            capacity_per_branch=capacity_per_branch,
        )

    async def set_interest_deadline(self, round_id: str, deadline: date) -> None:
        return await repo.set_interest_deadline(self.conn, round_id, deadline)

    async def get_window(self, round_id: str, county: str) -> Window | None:
        found = await repo.get_window(self.conn, round_id, county)
        return window_of(found) if found is not None else None

    async def add_window(
        self, *, round_id: str, county: str, opens_on: date, deadline: date
    ) -> bool:
        return await repo.add_window(
            self.conn, round_id=round_id, county=county, opens_on=opens_on, deadline=deadline
        )

    async def set_window_deadline(self, round_id: str, county: str, deadline: date) -> None:
        return await repo.set_window_deadline(self.conn, round_id, county, deadline)

    async def interest_intake(
        self, *, round_id: str, branch_id: str | None, municipality_numbers: list[str]
    ) -> InterestIntake:
        found = await repo.interest_intake(
            self.conn,
            round_id=round_id,
            branch_id=branch_id,
            municipality_numbers=municipality_numbers,
        )
        if found is None:
            return InterestIntake(round=None, members=set(), existing=None)
        return InterestIntake(
            round=round_of(found),
            members=set(found["members"]),
            existing=interest_of(found) if found["id"] is not None else None,
        )

    async def save_interest(
        self,
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
        return await repo.save_interest(
            self.conn,
            registration_id=registration_id,
            new=new,
            round_id=round_id,
            branch_id=branch_id,
            municipality_numbers=municipality_numbers,
            person_id=person_id,
            contact=contact,
            message=message,
            at=at,
            added=added,
            removed=removed,
            contact_changed=contact_changed,
        )

    async def municipality_contacts(
        self, registration_id: UUID
    ) -> dict[str, tuple[UUID, str | None]]:
        return await repo.municipality_contacts(self.conn, registration_id)

    async def save_municipality_contact(
        self,
        *,
        registration_id: UUID,
        municipality_number: str,
        person_id: UUID,
        contact: ContactPerson,
    ) -> None:
        await repo.save_municipality_contact(
            self.conn,
            registration_id=registration_id,
            municipality_number=municipality_number,
            person_id=person_id,
            contact=contact,
        )

    async def drop_municipality_contacts(self, registration_id: UUID, numbers: list[str]) -> None:
        await repo.drop_municipality_contacts(self.conn, registration_id, numbers)

    async def get_application(self, round_id: str, municipality: str) -> Application | None:
        found = await repo.get_application(self.conn, round_id, municipality)
        return Application.of(found) if found is not None else None

    async def save_draft(
        self,
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
        return await repo.save_draft(
            self.conn,
            application_id=application_id,
            round_id=round_id,
            municipality=municipality,
            county=county,
            branch_id=branch_id,
            motivation=motivation,
            development_areas=development_areas,
            co_creation_plan=co_creation_plan,
            draft_group=draft_group,
            own_development_areas=own_development_areas,
            themes=themes,
        )

    async def development_areas(self, round_id: str, branch_id: str) -> list[str] | None:
        return await repo.development_areas_of(self.conn, round_id, branch_id)

    async def set_development_areas(
        self, *, round_id: str, branch_id: str, areas: list[str], at: datetime, by: str | None
    ) -> None:
        await repo.set_development_areas(
            self.conn, round_id=round_id, branch_id=branch_id, areas=areas, at=at, by=by
        )

    async def reopen_as_draft(self, application_id: UUID) -> None:
        return await repo.reopen_as_draft(self.conn, application_id)

    async def mark_submitted(self, application_id: UUID, at: datetime) -> None:
        return await repo.mark_submitted(self.conn, application_id, at)

    async def add_group_member(
        self,
        *,
        application_id: UUID,
        person_id: UUID,
        role: MemberRole,
        organisation: str,
        committed: bool,
    ) -> None:
        return await repo.add_group_member(
            self.conn,
            application_id=application_id,
            person_id=person_id,
            role=role.value,
            organisation=organisation,
            committed=committed,
        )

    async def active_group(self, application_id: UUID) -> list[Member]:
        return [member_of(r) for r in await repo.active_group(self.conn, application_id)]

    async def remove_group_member(self, application_id: UUID, person_id: UUID) -> None:
        return await repo.remove_group_member(self.conn, application_id, person_id)

    async def set_status(
        self,
        application_id: UUID,
        status: Status,
        *,
        at: datetime,
        reason: str | None = None,
        waitlist: bool = False,
        by: str | None = None,
        early_reason: str | None = None,
        promoted: bool = False,
    ) -> None:
        return await repo.set_status(
            self.conn,
            application_id,
            status.value,
            at=at,
            reason=reason,
            waitlist=waitlist,
            by=by,
            early_reason=early_reason,
            promoted=promoted,
        )

    async def set_withdrawn(
        self, application_id: UUID, *, at: datetime, reason: str, by: str | None
    ) -> None:
        return await repo.set_withdrawn(self.conn, application_id, at=at, reason=reason, by=by)

    async def set_revoked(
        self, application_id: UUID, *, at: datetime, reason: str, by: str | None
    ) -> None:
        return await repo.set_revoked(self.conn, application_id, at=at, reason=reason, by=by)

    async def lock_region(self, round_id: str, branch_id: str) -> None:
        return await repo.lock_region(self.conn, round_id, branch_id)

    async def count_status(self, round_id: str, branch_id: str, status: Status) -> int:
        return await repo.count_status(self.conn, round_id, branch_id, status.value)

    async def waitlist(self, round_id: str, branch_id: str) -> list[Waiting]:
        return [waiting_of(r) for r in await repo.waitlist(self.conn, round_id, branch_id)]

    async def add_tombstone(self, topic: str, key: str, tombstone_id: str) -> None:
        await add_to_outbox(
            self.conn, topic=topic, key=key, envelope=None, tombstone_id=tombstone_id
        )
