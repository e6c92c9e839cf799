"""The repositories in memory, on the interface of adapters/unit.py, so the handler rules run
in unit tests without PostgreSQL. It keeps what the SQL keeps; the integration tests hold
the SQL to the same behaviour on the real database. Unlike a transaction, a refused command
does not roll back what its handler saved before refusing: the handlers decide before they
save, so a test sees no difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from services.scheduling.domain.calendar import Slot, Status
from services.scheduling.domain.gatherings import Gathering
from services.scheduling.domain.invitations import Member, RegionState
from services.scheduling.domain.model import (
    DelingsarenaProposal,
    DialogueRequest,
    Group,
    Guest,
    Interest,
    InterimWork,
    Participant,
    ParticipantStatus,
    Round,
    Semester,
)
from services.scheduling.domain.programme import Planned
from shared.contracts.events.base import Contract
from shared.contracts.events.scheduling import GatheringKind, InterimWorkDue


@dataclass
class FakeStore:
    """What the scheduling schema keeps, as aggregates."""

    rounds: dict[str, Round] = field(default_factory=dict)
    semesters: dict[tuple[str, str, int], Semester] = field(default_factory=dict)
    gatherings: dict[UUID, Gathering] = field(default_factory=dict)
    requests: dict[UUID, DialogueRequest] = field(default_factory=dict)
    proposals: dict[UUID, DelingsarenaProposal] = field(default_factory=dict)
    guests: dict[UUID, Guest] = field(default_factory=dict)
    interim_work: dict[UUID, InterimWork] = field(default_factory=dict)
    participants: dict[tuple[str, str], Participant] = field(default_factory=dict)
    groups: dict[tuple[str, str], Group] = field(default_factory=dict)
    interests: dict[tuple[str, str], Interest] = field(default_factory=dict)
    tombstones: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class FakeRounds:
    store: FakeStore

    async def get(self, round_id: str) -> Round | None:
        return self.store.rounds.get(round_id)

    async def save(self, found: Round) -> None:
        self.store.rounds[found.id] = found


@dataclass
class FakeSemesters:
    store: FakeStore

    async def of_region(self, round_id: str, region: str) -> Mapping[int, Semester]:
        return {
            n: s
            for (r, g, n), s in sorted(self.store.semesters.items())
            if (r, g) == (round_id, region)
        }

    async def save(self, semester: Semester) -> None:
        self.store.semesters[(semester.round_id, semester.region, semester.number)] = semester


def _ahead(gathering: Gathering, now: datetime) -> bool:
    return gathering.status is Status.SCHEDULED and gathering.slot.starts_at > now


@dataclass
class FakeGatherings:
    store: FakeStore

    def _ordered(self) -> list[Gathering]:
        return sorted(self.store.gatherings.values(), key=lambda g: (g.slot.starts_at, g.id))

    async def get(self, gathering_id: UUID, *, lock: bool = True) -> Gathering | None:
        return self.store.gatherings.get(gathering_id)

    async def add(self, gathering: Gathering) -> bool:
        if gathering.id in self.store.gatherings:
            return False
        self.store.gatherings[gathering.id] = gathering
        return True

    async def save(self, gathering: Gathering) -> None:
        self.store.gatherings[gathering.id] = gathering

    async def ahead(self, round_id: str, region: str | None, now: datetime) -> list[Gathering]:
        return [
            g
            for g in self._ordered()
            if g.round_id == round_id and region in (None, g.region) and _ahead(g, now)
        ]

    async def ahead_of_person(self, person_id: UUID, now: datetime) -> list[Gathering]:
        return [
            g
            for g in self._ordered()
            if _ahead(g, now) and any(i.invitee.person_id == person_id for i in g.active)
        ]

    async def inviting(self, person_id: UUID) -> list[Gathering]:
        return [
            g
            for g in self._ordered()
            if any(i.invitee.person_id == person_id for i in g.invitations)
        ]

    async def supervisions_ahead(
        self, round_id: str, municipality_number: str, now: datetime
    ) -> list[Gathering]:
        return [
            g
            for g in self._ordered()
            if (g.round_id, g.municipality_number, g.kind)
            == (round_id, municipality_number, GatheringKind.VEILEDNING)
            and _ahead(g, now)
        ]

    async def supervisor_slots(
        self, supervisor_id: str, *, besides: UUID | None = None
    ) -> list[tuple[UUID, Slot]]:
        return [
            (g.id, g.slot)
            for g in self._ordered()
            if g.supervisor_id == supervisor_id and g.status is Status.SCHEDULED and g.id != besides
        ]

    async def planned(self, round_id: str, region: str) -> list[Planned]:
        return [
            Planned(g.kind.value, g.semester)
            for g in self._ordered()
            if (g.round_id, g.region) == (round_id, region)
            and g.status is Status.SCHEDULED
            and g.kind in (GatheringKind.PRESAMLING, GatheringKind.SAMLING)
        ]


@dataclass
class FakeDialogueRequests:
    store: FakeStore

    async def get(self, request_id: UUID) -> DialogueRequest | None:
        return self.store.requests.get(request_id)

    async def add(self, request: DialogueRequest) -> bool:
        if request.id in self.store.requests:
            return False
        self.store.requests[request.id] = request
        return True

    async def save(self, request: DialogueRequest) -> None:
        self.store.requests[request.id] = request


@dataclass
class FakeProposals:
    store: FakeStore

    async def get(self, proposal_id: UUID) -> DelingsarenaProposal | None:
        return self.store.proposals.get(proposal_id)

    async def add(self, proposal: DelingsarenaProposal) -> bool:
        if proposal.id in self.store.proposals:
            return False
        self.store.proposals[proposal.id] = proposal
        return True

    async def save(self, proposal: DelingsarenaProposal) -> None:
        self.store.proposals[proposal.id] = proposal


@dataclass
class FakeGuests:
    store: FakeStore

    async def get(self, person_id: UUID) -> Guest | None:
        return self.store.guests.get(person_id)

    async def save(self, guest: Guest) -> UUID:
        known = next(
            (g for g in self.store.guests.values() if g.email.lower() == guest.email.lower()),
            None,
        )
        if known is not None:
            guest = Guest(
                known.person_id,
                guest.name,
                known.email,
                guest.language,
                guest.organisation if guest.organisation is not None else known.organisation,
            )
        self.store.guests[guest.person_id] = guest
        return guest.person_id

    async def remove(self, person_id: UUID, contacts_topic: str) -> None:
        self.store.guests.pop(person_id, None)
        for gathering_id, gathering in list(self.store.gatherings.items()):
            if person_id in gathering.guests:  # the schema's ON DELETE CASCADE
                self.store.gatherings[gathering_id] = replace(
                    gathering, guests=tuple(g for g in gathering.guests if g != person_id)
                )


@dataclass
class FakeInterimWorks:
    store: FakeStore

    async def get(self, interim_work_id: UUID) -> InterimWork | None:
        return self.store.interim_work.get(interim_work_id)

    async def add(self, work: InterimWork) -> bool:
        if work.id in self.store.interim_work:
            return False
        self.store.interim_work[work.id] = work
        return True

    async def save(self, work: InterimWork) -> None:
        self.store.interim_work[work.id] = work

    async def due_before(
        self, round_id: str, region: str, starts_at: datetime
    ) -> list[InterimWorkDue]:
        gatherings = self.store.gatherings
        found = []
        for work in self.store.interim_work.values():
            after = gatherings[work.after_gathering_id].slot.starts_at
            between = any(
                (g.round_id, g.region, g.kind) == (round_id, region, GatheringKind.SAMLING)
                and g.status is not Status.CANCELLED
                and after < g.slot.starts_at < starts_at
                for g in gatherings.values()
            )
            if (work.round_id, work.region) == (round_id, region) and after < starts_at:
                if not between:
                    found.append(work)
        return [
            InterimWorkDue(interim_work_id=w.id, title=w.title, due_on=w.due_on)
            for w in sorted(found, key=lambda w: (w.due_on, w.title))
        ]


@dataclass
class FakeParticipants:
    store: FakeStore

    async def get(self, round_id: str, municipality_number: str) -> Participant | None:
        return self.store.participants.get((round_id, municipality_number))

    async def save(self, participant: Participant) -> None:
        key = (participant.round_id, participant.municipality_number)
        known = self.store.participants.get(key)
        if known is not None:  # as the SQL: the county a municipality is in stays
            participant = Participant(
                participant.round_id,
                participant.municipality_number,
                participant.branch_id,
                known.county_number,
                participant.status,
            )
        self.store.participants[key] = participant


@dataclass
class FakeGroups:
    store: FakeStore

    async def get(self, round_id: str, municipality_number: str) -> Group:
        return self.store.groups.get(
            (round_id, municipality_number), Group(round_id, municipality_number)
        )

    async def save(self, group: Group) -> None:
        self.store.groups[(group.round_id, group.municipality_number)] = group

    async def of_person(self, person_id: UUID) -> list[Group]:
        return [
            g
            for _, g in sorted(self.store.groups.items())
            if any(m.person_id == person_id for m in g.members)
        ]


@dataclass
class FakeInterests:
    store: FakeStore

    async def get(self, round_id: str, branch_id: str) -> Interest | None:
        return self.store.interests.get((round_id, branch_id))

    async def save(self, interest: Interest) -> None:
        self.store.interests[(interest.round_id, interest.branch_id)] = interest

    async def of_person(self, person_id: UUID) -> list[Interest]:
        return [
            i
            for _, i in sorted(self.store.interests.items())
            if i.contact_person_id == person_id or person_id in i.municipality_contacts.values()
        ]


class FakeUnit:
    def __init__(self, store: FakeStore, uow: Any) -> None:
        self.store = store
        self.uow = uow
        self.rounds = FakeRounds(store)
        self.semesters = FakeSemesters(store)
        self.gatherings = FakeGatherings(store)
        self.requests = FakeDialogueRequests(store)
        self.proposals = FakeProposals(store)
        self.guests = FakeGuests(store)
        self.interim_work = FakeInterimWorks(store)
        self.participants = FakeParticipants(store)
        self.groups = FakeGroups(store)
        self.interests = FakeInterests(store)

    async def region_state(self, round_id: str, region: str) -> RegionState:
        interests = [
            i for (r, b), i in self.store.interests.items() if (r, b) == (round_id, region)
        ]
        mine = [
            p
            for (r, _), p in sorted(self.store.participants.items())
            if r == round_id and p.branch_id == region
        ]
        groups: dict[str, list[Member]] = {}
        for participant in mine:
            if participant.status is ParticipantStatus.ADMITTED:
                group = self.store.groups.get((round_id, participant.municipality_number))
                members = sorted(group.members if group else (), key=lambda m: m.person_id)
                if members:
                    groups[participant.municipality_number] = members
        return RegionState(
            region=region,
            interested=frozenset(n for i in interests for n in i.municipality_numbers),
            board_contacts=frozenset(
                i.contact_person_id for i in interests if i.contact_person_id is not None
            ),
            groups=groups,
            left=frozenset(
                p.municipality_number
                for p in mine
                if p.status in (ParticipantStatus.WITHDRAWN, ParticipantStatus.REVOKED)
            ),
            municipality_contacts={
                n: p for i in interests for n, p in i.municipality_contacts.items()
            },
        )

    async def lock_round(self, round_id: str) -> None:
        return None  # one test, one task: nothing to serialise

    async def lock_supervisor(self, supervisor_id: str) -> None:
        return None

    async def emit(self, topic: str, contract: Contract) -> None:
        await self.uow.emit(topic, contract)

    async def tombstone(self, topic: str, key: str, tombstone_id: str) -> None:
        self.store.tombstones.append((topic, key))
