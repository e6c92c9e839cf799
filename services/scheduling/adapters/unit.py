"""The seam between the handlers and the database: a repository per aggregate, each getting
and saving whole aggregates, behind one unit of work.

`SqlUnit` (adapters/sql.py) runs on the transaction the message bus gives a handler;
`FakeUnit` (adapters/fake.py) keeps the same in memory for the unit tests. The handlers see
only this interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol
from uuid import UUID

from services.scheduling.domain.calendar import Slot
from services.scheduling.domain.gatherings import Gathering
from services.scheduling.domain.invitations import RegionState
from services.scheduling.domain.model import (
    DelingsarenaProposal,
    DialogueRequest,
    Group,
    Guest,
    Interest,
    InterimWork,
    Participant,
    Round,
    Semester,
)
from services.scheduling.domain.programme import Planned
from shared.contracts.events.base import Contract
from shared.contracts.events.scheduling import InterimWorkDue


class Rounds(Protocol):
    async def get(self, round_id: str) -> Round | None: ...
    async def save(self, found: Round) -> None: ...


class Semesters(Protocol):
    async def of_region(self, round_id: str, region: str) -> Mapping[int, Semester]: ...
    async def save(self, semester: Semester) -> None: ...


class Gatherings(Protocol):
    async def get(self, gathering_id: UUID, *, lock: bool = True) -> Gathering | None: ...
    async def add(self, gathering: Gathering) -> bool:
        """False when the id is taken (a retried command)."""
        ...

    async def save(self, gathering: Gathering) -> None: ...
    async def ahead(self, round_id: str, region: str | None, now: datetime) -> list[Gathering]:
        """Scheduled and not yet begun, locked: their invitations are about to change."""
        ...

    async def ahead_of_person(self, person_id: UUID, now: datetime) -> list[Gathering]: ...
    async def inviting(self, person_id: UUID) -> list[Gathering]:
        """Every gathering with an invitation of the person, active or not, past or ahead."""
        ...

    async def supervisions_ahead(
        self, round_id: str, municipality_number: str, now: datetime
    ) -> list[Gathering]: ...
    async def supervisor_slots(
        self, supervisor_id: str, *, besides: UUID | None = None
    ) -> list[tuple[UUID, Slot]]: ...
    async def planned(self, round_id: str, region: str) -> list[Planned]:
        """The round's gatherings in the region that count for the programme's shape."""
        ...


class DialogueRequests(Protocol):
    async def get(self, request_id: UUID) -> DialogueRequest | None: ...
    async def add(self, request: DialogueRequest) -> bool: ...
    async def save(self, request: DialogueRequest) -> None: ...


class Proposals(Protocol):
    async def get(self, proposal_id: UUID) -> DelingsarenaProposal | None: ...
    async def add(self, proposal: DelingsarenaProposal) -> bool: ...
    async def save(self, proposal: DelingsarenaProposal) -> None: ...


class Guests(Protocol):
    async def get(self, person_id: UUID) -> Guest | None: ...
    async def save(self, guest: Guest) -> UUID:
        """One person id per address: the id the address has already (its name, language
        and organisation updated), else the guest's own."""
        ...

    async def remove(self, person_id: UUID, contacts_topic: str) -> None:
        """Gone, with the contact records of theirs the outbox still keeps."""
        ...


class InterimWorks(Protocol):
    async def get(self, interim_work_id: UUID) -> InterimWork | None: ...
    async def add(self, work: InterimWork) -> bool: ...
    async def save(self, work: InterimWork) -> None: ...
    async def due_before(
        self, round_id: str, region: str, starts_at: datetime
    ) -> list[InterimWorkDue]:
        """The work set after the samling before one starting at `starts_at` (none cancelled
        between them): what that samling's invitations list as due."""
        ...


class Participants(Protocol):
    async def get(self, round_id: str, municipality_number: str) -> Participant | None: ...
    async def save(self, participant: Participant) -> None: ...


class Groups(Protocol):
    async def get(self, round_id: str, municipality_number: str) -> Group: ...
    async def save(self, group: Group) -> None: ...
    async def of_person(self, person_id: UUID) -> list[Group]: ...


class Interests(Protocol):
    async def get(self, round_id: str, branch_id: str) -> Interest | None: ...
    async def save(self, interest: Interest) -> None: ...
    async def of_person(self, person_id: UUID) -> list[Interest]: ...


class Unit(Protocol):
    """One handler's transaction: the repositories, the locks, and what it emits."""

    @property
    def rounds(self) -> Rounds: ...
    @property
    def semesters(self) -> Semesters: ...
    @property
    def gatherings(self) -> Gatherings: ...
    @property
    def requests(self) -> DialogueRequests: ...
    @property
    def proposals(self) -> Proposals: ...
    @property
    def guests(self) -> Guests: ...
    @property
    def interim_work(self) -> InterimWorks: ...
    @property
    def participants(self) -> Participants: ...
    @property
    def groups(self) -> Groups: ...
    @property
    def interests(self) -> Interests: ...

    async def region_state(self, round_id: str, region: str) -> RegionState:
        """What registration has said about the round in the region, as invitations need it."""
        ...

    async def lock_round(self, round_id: str) -> None:
        """Serialises whatever derives invitations in a round (a new gathering, a
        registration event): without it, a gathering scheduled while an admission is being
        handled could read the region before the admission commits, while the admission's
        handler cannot yet see the gathering, and neither would invite the new group."""
        ...

    async def lock_supervisor(self, supervisor_id: str) -> None:
        """Serialises bookings of one supervisor, so two at once cannot both pass the check."""
        ...

    async def emit(self, topic: str, contract: Contract) -> None: ...
    async def tombstone(self, topic: str, key: str, tombstone_id: str) -> None:
        """A null value for `key` on a compacted topic: what consumers hold for it goes."""
        ...
