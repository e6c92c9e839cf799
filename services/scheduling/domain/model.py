"""The aggregates besides the gathering: rounds, semesters, dialogue meeting requests,
delingsarena proposals, guests, mellomarbeid, and what registration has told us (interest,
participants, kommunegrupper). Each is loaded and saved whole; the rules that decide on one
are here, without I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.scheduling.domain.calendar import Slot
from services.scheduling.domain.gatherings import Gathering
from services.scheduling.domain.interim_work import is_late, require_after_samling
from services.scheduling.domain.invitations import Member
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.registration import RoundState
from shared.contracts.events.scheduling import GatheringKind, InviteeRole

# --- rounds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    """A round registration has opened (and maybe closed or cancelled since)."""

    id: str
    state: RoundState


def round_opened(known: Round | None, round_id: str) -> Round | None:
    """The round to save: none when known (a replayed opening does not reopen a closed one)."""
    return None if known is not None else Round(round_id, RoundState.OPEN)


def require_round(found: Round | None, round_id: str) -> Round:
    """Known from registration's events and not cancelled (a closed round runs on)."""
    if found is None:
        raise DomainError(
            f"there is no round {round_id}: registration has not opened it",
            nb=f"Det finnes ingen runde {round_id}: den er ikke åpnet i påmeldingen.",
            nn=f"Det finst ingen runde {round_id}: han er ikkje opna i påmeldinga.",
            field="round_id",
            slug="unknown-round",
        )
    if found.state is RoundState.CANCELLED:
        raise DomainError(
            f"round {round_id} is cancelled",
            nb=f"Runde {round_id} er avlyst.",
            nn=f"Runde {round_id} er avlyst.",
            field="round_id",
            slug="round-cancelled",
        )
    return found


# --- semesters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Semester:
    round_id: str
    region: str
    number: int  # 0: the pre-round
    starts_on: date
    ends_on: date


def require_in_semester(
    semesters: Mapping[int, Semester], number: int, slot: Slot, *, round_id: str, where: str
) -> None:
    """A gathering given a semester is in a planned one, and within its dates."""
    semester = semesters.get(number)
    if semester is None:
        raise DomainError(
            f"semester {number} of round {round_id} in {where} is not planned",
            nb=f"Semester {number} i runde {round_id} er ikke planlagt for {where}.",
            nn=f"Semester {number} i runde {round_id} er ikkje planlagt for {where}.",
            field="semester",
            slug="semester-not-planned",
        )
    if not semester.starts_on <= slot.local_start.date() <= semester.ends_on:
        first, last = semester.starts_on, semester.ends_on
        raise DomainError(
            f"{slot.local_start:%d.%m.%Y} is outside semester {number} "
            f"({first:%d.%m.%Y} to {last:%d.%m.%Y})",
            nb=f"{slot.local_start:%d.%m.%Y} er utenfor semester {number} "
            f"({first:%d.%m.%Y} til {last:%d.%m.%Y}).",
            nn=f"{slot.local_start:%d.%m.%Y} er utanfor semester {number} "
            f"({first:%d.%m.%Y} til {last:%d.%m.%Y}).",
            field="starts_at",
            slug="outside-semester",
        )


# --- dialogue meeting requests ------------------------------------------------------------


class Origin(StrEnum):
    BOARD = "board"
    PROGRAMME = "programme"  # made for a meeting programme management proposed itself


@dataclass(frozen=True)
class DialogueRequest:
    id: UUID
    round_id: str
    region: str
    topic: str
    wished_dates: tuple[date, ...]
    requested_at: datetime
    origin: Origin = Origin.BOARD
    requested_by: str | None = None
    gathering_id: UUID | None = None  # the dialogmøte that answered it

    def answered_by(self, gathering_id: UUID) -> DialogueRequest:
        return replace(self, gathering_id=gathering_id)

    def require_unanswered(self) -> DialogueRequest:
        if self.gathering_id is not None:
            raise Conflict(
                f"the request is answered already: gathering {self.gathering_id}",
                nb="Forespørselen er allerede besvart med et dialogmøte.",
                nn="Førespurnaden er alt svara med eit dialogmøte.",
                field="request_id",
                slug="already-answered",
            )
        return self


def require_request(found: DialogueRequest | None, request_id: UUID) -> DialogueRequest:
    if found is None:
        raise NotFound(
            f"no dialogue meeting request {request_id}",
            nb="Forespørselen om dialogmøte finnes ikke.",
            nn="Førespurnaden om dialogmøte finst ikkje.",
            field="request_id",
        )
    return found


def request_exists(request_id: UUID) -> Conflict:
    return Conflict(
        f"a dialogue meeting request {request_id} exists already",
        nb="Det finnes allerede en forespørsel om dialogmøte med denne id-en.",
        nn="Det finst alt ein førespurnad om dialogmøte med denne id-en.",
        field="request_id",
        slug="already-exists",
    )


def own_request_exists(request_id: UUID) -> Conflict:
    """Programme management's own request under an id that is taken."""
    return Conflict(f"a dialogue meeting request {request_id} exists already")


# --- delingsarena proposals of the county boards ------------------------------------------


@dataclass(frozen=True)
class DelingsarenaProposal:
    id: UUID
    round_id: str
    region: str
    title: str
    description: str
    wished_dates: tuple[date, ...]
    venue: Mapping[str, Any] | None
    proposed_at: datetime
    proposed_by: str | None = None
    gathering_id: UUID | None = None  # the delingsarena that took it up

    def taken_up(
        self, *, kind: GatheringKind, round_id: str, region: str, gathering_id: UUID
    ) -> DelingsarenaProposal:
        """Taken up by a delingsarena of its round and region, once."""
        if kind is not GatheringKind.DELINGSARENA or (self.round_id, self.region) != (
            round_id,
            region,
        ):
            raise DomainError(
                f"proposal {self.id} is for a delingsarena in {self.region}, round {self.round_id}"
            )
        if self.gathering_id is not None:
            raise Conflict(f"the proposal is taken up already: gathering {self.gathering_id}")
        return replace(self, gathering_id=gathering_id)


def require_proposal(found: DelingsarenaProposal | None, proposal_id: UUID) -> DelingsarenaProposal:
    if found is None:
        raise NotFound(f"no delingsarena proposal {proposal_id}")
    return found


def proposal_exists(proposal_id: UUID) -> Conflict:
    return Conflict(f"a delingsarena proposal {proposal_id} exists already")


# --- guests: other actors invited by name and address -------------------------------------


@dataclass(frozen=True)
class Guest:
    person_id: UUID
    name: str
    email: str
    language: str
    organisation: str | None = None


def require_guest(found: Guest | None, person_id: UUID) -> Guest:
    if found is None:
        raise NotFound(f"no guest {person_id}")
    return found


# --- mellomarbeid ------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    text: str
    reported_at: datetime


@dataclass(frozen=True)
class InterimWork:
    id: UUID
    round_id: str
    region: str
    after_gathering_id: UUID
    title: str
    description: str
    due_on: date
    set_at: datetime
    reports: Mapping[str, Report] = field(default_factory=dict)  # by municipality number

    def reported(
        self, participant: Participant | None, municipality_number: str, text: str, at: datetime
    ) -> InterimWork:
        """A municipality's report: admitted, or admitted once (work done before leaving may
        still be reported); the latest report is kept."""
        if (
            participant is None
            or participant.branch_id != self.region
            or participant.status not in (ParticipantStatus.ADMITTED, ParticipantStatus.WITHDRAWN)
        ):
            raise DomainError(
                f"{municipality_number} is not an admitted municipality of {self.region}"
            )
        return replace(self, reports={**self.reports, municipality_number: Report(text, at)})

    def late(self, at: datetime) -> bool:
        return is_late(self.due_on, at)

    def require_region(self, region: str) -> InterimWork:
        if self.region != region:
            raise DomainError(f"the interim work is in the region {self.region}, not {region}")
        return self


def interim_work_after(
    after: Gathering | None,
    after_id: UUID,
    *,
    work_id: UUID,
    title: str,
    description: str,
    due_on: date,
    now: datetime,
) -> InterimWork:
    """Mellomarbeid set after a samling that takes place, due after it."""
    if after is None:
        raise NotFound(f"no gathering {after_id}")
    require_after_samling(after.kind, after.status, after.slot.ends_at, due_on)
    return InterimWork(
        id=work_id,
        round_id=after.round_id,
        region=after.region,
        after_gathering_id=after.id,
        title=title,
        description=description,
        due_on=due_on,
        set_at=now,
    )


def require_work(found: InterimWork | None, interim_work_id: UUID) -> InterimWork:
    if found is None:
        raise NotFound(f"no interim work {interim_work_id}")
    return found


def work_exists(interim_work_id: UUID) -> Conflict:
    return Conflict(f"interim work {interim_work_id} is already set")


# --- what registration has said ------------------------------------------------------------


class ParticipantStatus(StrEnum):
    SUBMITTED = "submitted"
    ADMITTED = "admitted"
    WITHDRAWN = "withdrawn"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Participant:
    """A municipality that applied to a round, and where it stands."""

    round_id: str
    municipality_number: str
    branch_id: str
    county_number: str
    status: ParticipantStatus

    @property
    def admitted(self) -> bool:
        return self.status is ParticipantStatus.ADMITTED


def require_admitted(found: Participant | None, *, round_id: str, name: str) -> Participant:
    """Veiledning is for the municipalities admitted to the round; `name`: the
    municipality's, for the refusal."""
    if found is None or not found.admitted:
        raise DomainError(
            f"{name} is not admitted to round {round_id}: "
            "veiledning is for participating municipalities",
            nb=f"{name} er ikke tatt opp i runde {round_id}: "
            "veiledning er for kommunene som deltar.",
            nn=f"{name} er ikkje teken opp i runde {round_id}: "
            "rettleiing er for kommunane som deltek.",
            field="municipality_number",
            slug="not-admitted",
        )
    return found


@dataclass(frozen=True)
class Group:
    """A municipality's kommunegruppe in a round: one membership a person."""

    round_id: str
    municipality_number: str
    members: tuple[Member, ...] = ()

    def replaced(self, members: list[tuple[UUID, InviteeRole]]) -> Group:
        """The group as an application or admission states it (a person named twice: once)."""
        kept: dict[UUID, Member] = {}
        for person_id, role in members:
            kept.setdefault(person_id, Member(person_id, role))
        return replace(self, members=tuple(kept.values()))

    def with_member(self, person_id: UUID, role: InviteeRole) -> Group:
        rest = tuple(m for m in self.members if m.person_id != person_id)
        return replace(self, members=(*rest, Member(person_id, role)))

    def without(self, person_id: UUID) -> Group:
        return replace(self, members=tuple(m for m in self.members if m.person_id != person_id))


@dataclass(frozen=True)
class Interest:
    """A county branch's interest in a round: its contact person, the municipalities it
    registered, and the contact person it named for some of them."""

    round_id: str
    branch_id: str
    contact_person_id: UUID | None
    municipality_numbers: tuple[str, ...]
    municipality_contacts: Mapping[str, UUID] = field(default_factory=dict)

    def without(self, person_id: UUID) -> Interest:
        return replace(
            self,
            contact_person_id=None
            if self.contact_person_id == person_id
            else self.contact_person_id,
            municipality_contacts={
                n: p for n, p in self.municipality_contacts.items() if p != person_id
            },
        )
