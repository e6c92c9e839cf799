"""The repositories in memory, and a unit of work with the real one's interface, so that the
handler rules run in unit tests without PostgreSQL. `FakeStore` keeps what the SQL keeps;
the integration tests hold the SQL itself to the same behaviour on the real database."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from services.registration.adapters.repositories import (
    InterestIntake,
    Lock,
    Repositories,
)
from services.registration.domain.branches import AdoptedAreas, BoardContact
from services.registration.domain.decisions import WAITLISTED, Application, Region, Waiting
from services.registration.domain.groups import Member, MemberRole
from services.registration.domain.interest import (
    InterestRegistration,
    InterestSaved,
    MunicipalityContact,
)
from services.registration.domain.rounds import Round, Window
from shared.contracts.events.registration import ContactPerson, GroupMember


@dataclass
class FakeStore:
    """The tables: aggregates as they were saved, people and what refers to them."""

    persons: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    member_numbers: set[str] = field(default_factory=set)
    rounds: dict[str, Round] = field(default_factory=dict)
    windows: dict[tuple[str, str], Window] = field(default_factory=dict)
    interests: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    history: list[InterestSaved] = field(default_factory=list)
    applications: dict[UUID, Application] = field(default_factory=dict)
    group: list[dict[str, Any]] = field(default_factory=list)
    # (registration id, municipality number) -> person id
    municipality_persons: dict[tuple[UUID, str], UUID] = field(default_factory=dict)
    tombstones: list[tuple[str, str]] = field(default_factory=list)
    branch_contacts: dict[str, UUID] = field(default_factory=dict)
    adopted_areas: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    waitlist_order: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def repositories(self) -> Repositories:
        return Repositories(
            rounds=FakeRounds(self),
            applications=FakeApplications(self),
            interests=FakeInterests(self),
            persons=FakePersons(self),
            branches=FakeBranches(self),
            members=FakeMembers(self),
        )

    def keep_person(self, person_id: UUID, who: ContactPerson | GroupMember) -> None:
        """Added, or updated under the same id (erasure marks stay), as the SQL does."""
        found = self.persons.setdefault(person_id, {"erased_at": None})
        found.update(
            name=who.name, email=str(who.email), phone=who.phone, language=who.language.value
        )


@dataclass
class FakeRounds:
    db: FakeStore

    async def get(self, round_id: str, *, lock: Lock | None = None) -> Round | None:
        return self.db.rounds.get(round_id)  # frozen: a snapshot, as a row read is

    async def add(self, found: Round) -> bool:
        if found.round_id in self.db.rounds:
            return False
        self.db.rounds[found.round_id] = found
        return True

    async def save(self, found: Round) -> None:
        self.db.rounds[found.round_id] = found

    async def window(self, round_id: str, county: str) -> Window | None:
        return self.db.windows.get((round_id, county))

    async def add_window(self, window: Window) -> bool:
        if (window.round_id, window.county_number) in self.db.windows:
            return False
        await self.save_window(window)
        return True

    async def save_window(self, window: Window) -> None:
        self.db.windows[(window.round_id, window.county_number)] = window


@dataclass
class FakeApplications:
    db: FakeStore

    async def get(self, round_id: str, municipality: str) -> Application | None:
        return next(
            (
                a
                for a in self.db.applications.values()
                if (a.round_id, a.municipality_number) == (round_id, municipality)
            ),
            None,
        )

    async def save(self, app: Application) -> None:
        before = self.db.applications.get(app.id)
        sequence = None
        if app.status is WAITLISTED:
            kept = before.waitlist_sequence if before is not None else None
            sequence = kept if kept is not None else next(self.db.waitlist_order)
        self.db.applications[app.id] = replace(app, waitlist_sequence=sequence)
        if app.status.value == "draft":
            for member in self.db.group:
                if member["application_id"] == app.id:
                    member["removed"] = True

    async def group(self, application_id: UUID) -> list[Member]:
        return [
            Member(
                self.db.persons[g["person_id"]]["email"] or str(g["person_id"]),
                MemberRole(g["role"]),
                g["committed"],
                g["person_id"],
            )
            for g in self.db.group
            if g["application_id"] == application_id and not g["removed"]
        ]

    async def add_member(self, application_id: UUID, person_id: UUID, member: GroupMember) -> None:
        self.db.keep_person(person_id, member)
        self.db.group.append(
            {
                "application_id": application_id,
                "person_id": person_id,
                "role": member.role.value,
                "organisation": member.organisation,
                "committed": member.commits_to_gatherings,
                "removed": False,
            }
        )

    async def remove_member(self, application_id: UUID, person_id: UUID) -> None:
        for g in self.db.group:
            if (g["application_id"], g["person_id"]) == (application_id, person_id):
                g["removed"] = True

    async def region(self, round_id: str, branch_id: str) -> Region:
        # No lock: one test, one task, nothing runs alongside.
        apps = [
            a
            for a in self.db.applications.values()
            if (a.round_id, a.branch_id) == (round_id, branch_id)
        ]
        waiting = sorted(
            (
                Waiting(a.municipality_number, a.waitlist_sequence or 0)
                for a in apps
                if a.status is WAITLISTED
            ),
            key=lambda w: w.sequence,
        )
        return Region(
            admitted=sum(1 for a in apps if a.status.value == "admitted"), waiting=tuple(waiting)
        )


@dataclass
class FakeInterests:
    db: FakeStore

    async def intake(
        self, *, round_id: str, branch_id: str | None, municipality_numbers: list[str]
    ) -> InterestIntake:
        found = self.db.rounds.get(round_id)
        if found is None:
            return InterestIntake(round=None, members=set(), existing=None)
        existing = next(
            (
                i
                for i in self.db.interests.values()
                if (i["round_id"], i["branch_id"]) == (round_id, branch_id)
            ),
            None,
        )
        registration = None
        if existing is not None:
            person = self.db.persons.get(existing["contact_person_id"])
            registration = InterestRegistration(
                id=existing["id"],
                contact_person_id=existing["contact_person_id"],
                municipality_numbers=tuple(existing["municipality_numbers"]),
                contact_email=person["email"] if person else None,
            )
        return InterestIntake(
            round=found,
            members=self.db.member_numbers & set(municipality_numbers),
            existing=registration,
        )

    async def save(self, saved: InterestSaved) -> None:
        self.db.keep_person(saved.person_id, saved.contact)
        found = self.db.interests.setdefault(
            saved.registration_id,
            {
                "id": saved.registration_id,
                "round_id": saved.round_id,
                "branch_id": saved.branch_id,
                "registered_at": saved.at,
            },
        )
        found.update(
            municipality_numbers=list(saved.municipality_numbers),
            contact_person_id=saved.person_id,
            message=saved.message,
            updated_at=None if saved.new else saved.at,
        )
        self.db.history.append(saved)

    async def municipality_contacts(
        self, registration_id: UUID
    ) -> dict[str, tuple[UUID, str | None]]:
        return {
            number: (person, self.db.persons[person]["email"])
            for (registration, number), person in self.db.municipality_persons.items()
            if registration == registration_id
        }

    async def save_municipality_contact(
        self, registration_id: UUID, named: MunicipalityContact
    ) -> None:
        self.db.keep_person(named.person_id, named.contact)
        self.db.municipality_persons[(registration_id, named.municipality_number)] = named.person_id

    async def drop_municipality_contacts(self, registration_id: UUID, numbers: list[str]) -> None:
        for number in numbers:
            self.db.municipality_persons.pop((registration_id, number), None)


@dataclass
class FakePersons:
    db: FakeStore

    async def contact(self, person_id: UUID) -> ContactPerson | None:
        found = self.db.persons.get(person_id)
        if found is None or found["erased_at"] is not None:
            return None
        return ContactPerson.model_validate(
            {k: v for k, v in found.items() if k not in ("erased_at", "erased_by")}
        )

    async def erase(self, person_id: UUID, *, contacts_topic: str, by: str | None) -> bool:
        found = self.db.persons.get(person_id)
        if found is None or found["erased_at"] is not None:
            return False
        found.update(name=None, email=None, phone=None, erased_at=True, erased_by=by)
        return True

    async def in_use(self, person_id: UUID) -> bool:
        db = self.db
        return (
            any(i["contact_person_id"] == person_id for i in db.interests.values())
            or any(g["person_id"] == person_id for g in db.group)
            or person_id in db.branch_contacts.values()
            or person_id in db.municipality_persons.values()
        )

    async def tombstone(self, topic: str, key: str, tombstone_id: str) -> None:
        self.db.tombstones.append((topic, key))


@dataclass
class FakeBranches:
    db: FakeStore

    async def contact(self, branch_id: str) -> tuple[UUID, str | None] | None:
        found = self.db.branch_contacts.get(branch_id)
        return (found, self.db.persons[found]["email"]) if found is not None else None

    async def set_contact(self, contact: BoardContact) -> None:
        self.db.keep_person(contact.person_id, contact.contact)
        self.db.branch_contacts[contact.branch_id] = contact.person_id

    async def areas(self, round_id: str, branch_id: str) -> list[str] | None:
        return self.db.adopted_areas.get((round_id, branch_id))

    async def set_areas(self, adopted: AdoptedAreas) -> None:
        self.db.adopted_areas[(adopted.round_id, adopted.branch_id)] = list(adopted.areas)


@dataclass
class FakeMembers:
    db: FakeStore

    async def all(self) -> set[str]:
        return set(self.db.member_numbers)

    async def among(self, numbers: list[str]) -> set[str]:
        return self.db.member_numbers & set(numbers)

    async def replace(self, numbers: set[str]) -> None:
        self.db.member_numbers = set(numbers)
