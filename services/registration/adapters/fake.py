"""An in-memory `Store` and unit of work, so the handler rules run in unit tests without
PostgreSQL. It keeps what the SQL keeps, as plain dicts; the integration tests hold the
SQL itself to the same behaviour on the real database."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from services.registration.adapters.store import (
    InterestIntake,
    interest_of,
    member_of,
    round_of,
    waiting_of,
    window_of,
)
from services.registration.domain.decisions import Application, Status, Waiting
from services.registration.domain.groups import Member, MemberRole
from services.registration.domain.rounds import Round, RoundState, Window
from shared.contracts.events.base import Contract
from shared.contracts.events.registration import ContactPerson
from shared.messaging.envelope import Envelope


@dataclass
class FakeStore:
    persons: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    member_numbers: set[str] = field(default_factory=set)
    rounds: dict[str, dict[str, Any]] = field(default_factory=dict)
    windows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    interests: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    applications: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    group: list[dict[str, Any]] = field(default_factory=list)
    # (registration id, municipality number) -> person id
    municipality_persons: dict[tuple[UUID, str], UUID] = field(default_factory=dict)
    tombstones: list[tuple[str, str]] = field(default_factory=list)
    branch_contacts: dict[str, UUID] = field(default_factory=dict)
    adopted_areas: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    _waitlist_order: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- persons ---------------------------------------------------------------------------

    async def add_person(self, *, person_id: UUID, contact: ContactPerson) -> None:
        self.persons[person_id] = {
            "name": contact.name,
            "email": str(contact.email),
            "phone": contact.phone,
            "language": contact.language.value,
            "erased_at": None,
        }

    async def person_contact(self, person_id: UUID) -> ContactPerson | None:
        found = self.persons.get(person_id)
        if found is None or found["erased_at"] is not None:
            return None
        return ContactPerson.model_validate({k: v for k, v in found.items() if k != "erased_at"})

    async def erase_person(
        self, person_id: UUID, *, contacts_topic: str, erased_by: str | None = None
    ) -> bool:
        found = self.persons.get(person_id)
        if found is None or found["erased_at"] is not None:
            return False
        found.update(name=None, email=None, phone=None, erased_at=True, erased_by=erased_by)
        return True

    async def person_in_use(self, person_id: UUID) -> bool:
        return (
            any(i["contact_person_id"] == person_id for i in self.interests.values())
            or any(g["person_id"] == person_id for g in self.group)
            or person_id in self.branch_contacts.values()
            or person_id in self.municipality_persons.values()
        )

    async def municipality_contacts(
        self, registration_id: UUID
    ) -> dict[str, tuple[UUID, str | None]]:
        return {
            number: (person, self.persons[person]["email"])
            for (registration, number), person in self.municipality_persons.items()
            if registration == registration_id
        }

    async def save_municipality_contact(
        self,
        *,
        registration_id: UUID,
        municipality_number: str,
        person_id: UUID,
        contact: ContactPerson,
    ) -> None:
        await self.add_person(person_id=person_id, contact=contact)
        self.municipality_persons[(registration_id, municipality_number)] = person_id

    async def drop_municipality_contacts(self, registration_id: UUID, numbers: list[str]) -> None:
        for number in numbers:
            self.municipality_persons.pop((registration_id, number), None)

    async def branch_contact(self, branch_id: str) -> tuple[UUID, str | None] | None:
        found = self.branch_contacts.get(branch_id)
        return (found, self.persons[found]["email"]) if found is not None else None

    async def set_branch_contact(
        self,
        *,
        branch_id: str,
        person_id: UUID,
        contact: ContactPerson,
        at: datetime,
        by: str | None,
    ) -> None:
        await self.add_person(person_id=person_id, contact=contact)
        self.branch_contacts[branch_id] = person_id

    # --- membership ------------------------------------------------------------------------

    async def members(self) -> set[str]:
        return set(self.member_numbers)

    async def members_among(self, numbers: list[str]) -> set[str]:
        return self.member_numbers & set(numbers)

    async def replace_members(self, numbers: set[str]) -> None:
        self.member_numbers = set(numbers)

    # --- rounds and windows ----------------------------------------------------------------

    async def get_round(
        self, round_id: str, *, lock: Literal["share", "update"] | None = None
    ) -> Round | None:
        found = self.rounds.get(round_id)
        return round_of(found) if found else None  # a snapshot, as a row read is

    async def add_round(
        self, *, round_id: str, interest_deadline: date, capacity_per_branch: dict[str, int]
    ) -> bool:
        if round_id in self.rounds:
            return False
        self.rounds[round_id] = {
            "round_id": round_id,
            "interest_deadline": interest_deadline,
            "capacity_per_branch": dict(capacity_per_branch),
            "state": "open",
            "state_reason": None,
        }
        return True

    async def set_round_state(self, round_id: str, state: RoundState, reason: str) -> None:
        self.rounds[round_id].update(state=state.value, state_reason=reason)

    async def set_capacity(self, round_id: str, capacity: dict[str, int]) -> None:
        self.rounds[round_id]["capacity_per_branch"] = dict(capacity)

    async def set_interest_deadline(self, round_id: str, deadline: date) -> None:
        self.rounds[round_id]["interest_deadline"] = deadline

    async def get_window(self, round_id: str, county: str) -> Window | None:
        found = self.windows.get((round_id, county))
        return window_of(found) if found else None

    async def add_window(
        self, *, round_id: str, county: str, opens_on: date, deadline: date
    ) -> bool:
        if (round_id, county) in self.windows:
            return False
        self.windows[(round_id, county)] = {"opens_on": opens_on, "deadline": deadline}
        return True

    async def set_window_deadline(self, round_id: str, county: str, deadline: date) -> None:
        self.windows[(round_id, county)]["deadline"] = deadline

    # --- interest ----------------------------------------------------------------------------

    async def interest_intake(
        self, *, round_id: str, branch_id: str | None, municipality_numbers: list[str]
    ) -> InterestIntake:
        found = await self.get_round(round_id)
        if found is None:
            return InterestIntake(round=None, members=set(), existing=None)
        existing = next(
            (
                i
                for i in self.interests.values()
                if (i["round_id"], i["branch_id"]) == (round_id, branch_id)
            ),
            None,
        )
        if existing is not None:
            person = self.persons.get(existing["contact_person_id"])
            existing = {**existing, "contact_email": person["email"] if person else None}
        return InterestIntake(
            round=found,
            members=await self.members_among(municipality_numbers),
            existing=interest_of(existing) if existing is not None else None,
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
        if person_id in self.persons:  # updated as the SQL does: erasure marks stay
            self.persons[person_id].update(
                name=contact.name,
                email=str(contact.email),
                phone=contact.phone,
                language=contact.language.value,
            )
        else:
            await self.add_person(person_id=person_id, contact=contact)
        interest = {
            "municipality_numbers": list(municipality_numbers),
            "contact_person_id": person_id,
            "message": message,
        }
        if new:
            self.interests[registration_id] = {
                "id": registration_id,
                "round_id": round_id,
                "branch_id": branch_id,
                **interest,
                "registered_at": at,
                "updated_at": None,
            }
        else:
            self.interests[registration_id].update(interest, updated_at=at)
        self.history.append(
            {
                "registration_id": registration_id,
                "at": at,
                "municipality_numbers": municipality_numbers,
                "added": added,
                "removed": removed,
                "contact_changed": contact_changed,
                "message": message,
            }
        )

    # --- applications ------------------------------------------------------------------------

    async def get_application(self, round_id: str, municipality: str) -> Application | None:
        return next(
            (
                Application.of(a)
                for a in self.applications.values()
                if (a["round_id"], a["municipality_number"]) == (round_id, municipality)
            ),
            None,
        )

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
        found = self.applications.setdefault(
            application_id,
            {
                "id": application_id,
                "round_id": round_id,
                "municipality_number": municipality,
                "county_number": county,
                "branch_id": branch_id,
                "status": "draft",
                "submitted_at": None,
                "decided_at": None,
                "decision_reason": None,
                "waitlist_sequence": None,
                "decided_by": None,
                "early_reason": None,
                "promoted_from_waitlist": False,
                "withdrawn_at": None,
                "withdrawn_by": None,
                "withdrawal_reason": None,
                "revoked_at": None,
                "revoked_by": None,
                "revocation_reason": None,
            },
        )
        found.update(
            motivation=motivation,
            development_areas=list(development_areas),
            co_creation_plan=co_creation_plan,
            draft_group=list(draft_group),
            own_development_areas=list(own_development_areas),
            themes=list(themes),
        )

    async def development_areas(self, round_id: str, branch_id: str) -> list[str] | None:
        return self.adopted_areas.get((round_id, branch_id))

    async def set_development_areas(
        self, *, round_id: str, branch_id: str, areas: list[str], at: datetime, by: str | None
    ) -> None:
        self.adopted_areas[(round_id, branch_id)] = list(areas)

    async def reopen_as_draft(self, application_id: UUID) -> None:
        for member in self.group:
            if member["application_id"] == application_id:
                member["removed"] = True
        self.applications[application_id].update(
            status="draft",
            submitted_at=None,
            decided_at=None,
            decision_reason=None,
            waitlist_sequence=None,
            decided_by=None,
            early_reason=None,
            promoted_from_waitlist=False,
        )

    async def mark_submitted(self, application_id: UUID, at: datetime) -> None:
        self.applications[application_id].update(
            status="submitted", submitted_at=at, draft_group=[]
        )

    async def add_group_member(
        self,
        *,
        application_id: UUID,
        person_id: UUID,
        role: MemberRole,
        organisation: str,
        committed: bool,
    ) -> None:
        self.group.append(
            {
                "application_id": application_id,
                "person_id": person_id,
                "role": role.value,
                "organisation": organisation,
                "committed": committed,
                "removed": False,
            }
        )

    async def active_group(self, application_id: UUID) -> list[Member]:
        return [
            member_of(
                {
                    **g,
                    "email": (self.persons[g["person_id"]]["email"] or str(g["person_id"])),
                }
            )
            for g in self.group
            if g["application_id"] == application_id and not g["removed"]
        ]

    async def remove_group_member(self, application_id: UUID, person_id: UUID) -> None:
        for g in self.group:
            if (g["application_id"], g["person_id"]) == (application_id, person_id):
                g["removed"] = True

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
        self.applications[application_id].update(
            status=status.value,
            decided_at=at,
            decision_reason=reason,
            waitlist_sequence=next(self._waitlist_order) if waitlist else None,
            decided_by=by,
            early_reason=early_reason,
            promoted_from_waitlist=promoted,
        )

    async def set_withdrawn(
        self, application_id: UUID, *, at: datetime, reason: str, by: str | None
    ) -> None:
        self.applications[application_id].update(
            status="withdrawn",
            withdrawn_at=at,
            withdrawal_reason=reason,
            withdrawn_by=by,
            waitlist_sequence=None,
        )

    async def set_revoked(
        self, application_id: UUID, *, at: datetime, reason: str, by: str | None
    ) -> None:
        self.applications[application_id].update(
            status="revoked", revoked_at=at, revocation_reason=reason, revoked_by=by
        )

    async def lock_region(self, round_id: str, branch_id: str) -> None:
        return None  # one test, one task: nothing runs alongside

    async def count_status(self, round_id: str, branch_id: str, status: Status) -> int:
        return sum(
            1
            for a in self.applications.values()
            if (a["round_id"], a["branch_id"], a["status"]) == (round_id, branch_id, status)
        )

    async def waitlist(self, round_id: str, branch_id: str) -> list[Waiting]:
        waiting = [
            a
            for a in self.applications.values()
            if (a["round_id"], a["branch_id"], a["status"]) == (round_id, branch_id, "waitlisted")
        ]
        return [waiting_of(a) for a in sorted(waiting, key=lambda a: a["waitlist_sequence"])]

    async def add_tombstone(self, topic: str, key: str, tombstone_id: str) -> None:
        self.tombstones.append((topic, key))


@dataclass
class FakeUnitOfWork:
    """What a handler uses of a unit of work: the envelope it came in and `emit`; what it
    emitted is kept in order, by topic."""

    caused_by: Envelope
    emitted: list[tuple[str, Contract]] = field(default_factory=list)
    conn: Any = None

    async def emit(self, topic: str, contract: Contract, *, subject: str | None = None) -> None:
        self.emitted.append((topic, contract))

    def events(self, topic: str) -> list[Contract]:
        return [c for t, c in self.emitted if t == topic]
