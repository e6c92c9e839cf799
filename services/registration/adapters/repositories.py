"""What the handlers need of storage: a repository per aggregate, each getting and saving
whole aggregates. `adapters/sql.py` keeps them in PostgreSQL on the unit of work's
transaction; `adapters/fake.py` in memory, for fast tests of the handler rules. The
integration tests hold the SQL to the same behaviour on the real database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol
from uuid import UUID

from services.registration.domain.branches import AdoptedAreas, BoardContact
from services.registration.domain.decisions import Application, Region
from services.registration.domain.groups import Member
from services.registration.domain.interest import (
    InterestRegistration,
    InterestSaved,
    MunicipalityContact,
)
from services.registration.domain.rounds import Round, Window
from shared.contracts.events.registration import ContactPerson, GroupMember

Lock = Literal["share", "update"]


@dataclass(frozen=True)
class InterestIntake:
    """What registering interest reads: the round (None if there is none), which of the
    municipalities are members, and the branch's registration so far."""

    round: Round | None
    members: set[str]
    existing: InterestRegistration | None


class Rounds(Protocol):
    """The round and its counties' application windows. `lock`: see `handlers.load_round`."""

    async def get(self, round_id: str, *, lock: Lock | None = None) -> Round | None: ...

    async def add(self, found: Round) -> bool: ...

    async def save(self, found: Round) -> None: ...

    async def window(self, round_id: str, county: str) -> Window | None: ...

    async def add_window(self, window: Window) -> bool: ...

    async def save_window(self, window: Window) -> None: ...


class Applications(Protocol):
    async def get(self, round_id: str, municipality: str) -> Application | None:
        """The application, locked for the command."""
        ...

    async def save(self, app: Application) -> None:
        """The application as it is; a draft has no registered group (it steps down)."""
        ...

    async def group(self, application_id: UUID) -> list[Member]: ...

    async def add_member(
        self, application_id: UUID, person_id: UUID, member: GroupMember
    ) -> None: ...

    async def remove_member(self, application_id: UUID, person_id: UUID) -> None: ...

    async def region(self, round_id: str, branch_id: str) -> Region:
        """The region's admitted and waiting, under a lock that serialises its decisions."""
        ...


class Interests(Protocol):
    async def intake(
        self, *, round_id: str, branch_id: str | None, municipality_numbers: list[str]
    ) -> InterestIntake: ...

    async def save(self, saved: InterestSaved) -> None: ...

    async def municipality_contacts(
        self, registration_id: UUID
    ) -> dict[str, tuple[UUID, str | None]]: ...

    async def save_municipality_contact(
        self, registration_id: UUID, named: MunicipalityContact
    ) -> None: ...

    async def drop_municipality_contacts(
        self, registration_id: UUID, numbers: list[str]
    ) -> None: ...


class Persons(Protocol):
    async def contact(self, person_id: UUID) -> ContactPerson | None: ...

    async def erase(self, person_id: UUID, *, contacts_topic: str, by: str | None) -> bool: ...

    async def in_use(self, person_id: UUID) -> bool: ...

    async def tombstone(self, topic: str, key: str, tombstone_id: str) -> None: ...


class Branches(Protocol):
    """A county branch's board contact, and the development areas it adopts per round."""

    async def contact(self, branch_id: str) -> tuple[UUID, str | None] | None: ...

    async def set_contact(self, contact: BoardContact) -> None: ...

    async def areas(self, round_id: str, branch_id: str) -> list[str] | None: ...

    async def set_areas(self, adopted: AdoptedAreas) -> None: ...


class Members(Protocol):
    """The membership list of Norsk kulturskoleråd."""

    async def all(self) -> set[str]: ...

    async def among(self, numbers: list[str]) -> set[str]: ...

    async def replace(self, numbers: set[str]) -> None: ...


@dataclass(frozen=True)
class Repositories:
    rounds: Rounds
    applications: Applications
    interests: Interests
    persons: Persons
    branches: Branches
    members: Members
