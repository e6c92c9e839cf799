"""Contracts of the scheduling service: commands it takes, events it publishes.

Gathering events (and the invitation, RSVP and attendance events of a gathering) are keyed
by the gathering id, so everything about one gathering stays in order on one partition.
Public events carry ids and roles, never contact data: an invitee is a person id (a
kommunegruppe member or a branch's contact person) or a municipality number.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Self
from uuid import UUID

from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from shared.contracts.events.base import TOLERANT, TYPE_PREFIX, Command, Contract, Event
from shared.contracts.events.registration import Language
from shared.contracts.topics import DEFAULT_PREFIX, topic_name

PREFIX = f"{TYPE_PREFIX}.scheduling"
CONTACTS = "contacts"  # the compacted topic `<prefix>.scheduling.contacts`


def guest_contacts_topic(prefix: str = DEFAULT_PREFIX) -> str:
    """The restricted, compacted topic of `GuestContact`, keyed by person; only the
    notification service reads it. Erasure is a tombstone there."""
    return topic_name("scheduling", CONTACTS, prefix)


MunicipalityNumber = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
RoundId = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
RegionId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9-]{1,60}$"),
    Field(description="The region: a county branch (fylkesavdeling) by its id, e.g. 'vestland'"),
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(max_length=2000)]


class GatheringKind(StrEnum):
    PRESAMLING = "presamling"  # before the round: interested municipalities and branches
    SAMLING = "samling"  # the six gatherings: every admitted kommunegruppe of the region
    DIALOGMOTE = "dialogmote"  # on a county board's request
    VEILEDNING = "veiledning"  # supervision of one municipality's development work
    DELINGSARENA = "delingsarena"  # sharing arena the boards help arrange


class InviteeRole(StrEnum):
    """Why someone is invited: a kommunegruppe role, a board, a municipality as such."""

    KULTURSKOLE = "kulturskole"
    BARNEHAGE = "barnehage"
    SFO = "sfo"
    GRUNNSKOLE = "grunnskole"
    OTHER = "annen"
    COUNTY_BOARD = "county_board"  # the branch's contact person
    MUNICIPALITY = "municipality"  # the municipality, before it has a kommunegruppe
    # Another actor programme management invites to a dialogmøte by name and address; the
    # person id's contact details are on scheduling's restricted contacts topic.
    GUEST = "guest"


class CancellationCause(StrEnum):
    """Why a gathering was cancelled without anyone asking: its municipality left."""

    WITHDRAWN = "municipality_withdrawn"
    ADMISSION_REVOKED = "admission_revoked"


class Rsvp(StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class _Tolerant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Venue(_Strict):
    """Where it happens: a place (name, address) or a digital meeting (a link), or both."""

    name: Text
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    digital_link: AnyHttpUrl | None = Field(default=None, description="Link for a digital meeting")

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if not self.address and self.digital_link is None:
            raise ValueError("a venue needs an address or a digital link")
        return self


class VenueInfo(_Tolerant):
    """A venue as events carry it (read tolerantly)."""

    name: str
    address: str | None = None
    digital_link: str | None = None


class Invitee(_Tolerant):
    """Who an invitation is for: a person (by id), or a municipality as such."""

    invitation_id: UUID
    person_id: UUID | None = None
    municipality_number: str | None = None
    branch_id: str | None = None
    role: InviteeRole


class Guest(_Strict):
    """Another actor invited to a dialogmøte (a partner, a municipality's officer, ...): the
    name and address travel on scheduling's restricted contacts topic only, never on events."""

    name: Text
    email: EmailStr
    language: Language = Language.BOKMAAL
    organisation: Annotated[str, StringConstraints(max_length=200)] | None = None


class _Times(_Strict):
    starts_at: AwareDatetime = Field(description="Start, with offset; shown in Europe/Oslo")
    ends_at: AwareDatetime = Field(description="End, after the start")

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("a gathering must end after it starts")
        return self


# --- commands ------------------------------------------------------------------------------------


class PlanSemester(Command):
    """Programme management sets a semester's dates in a region's calendar of a round."""

    TYPE: ClassVar[str] = f"{PREFIX}.plan-semester.v1"
    SERVICE: ClassVar[str] = "scheduling"

    round_id: RoundId
    region: RegionId
    number: int = Field(ge=0, le=3, description="0: the pre-round (presamlinger); 1-3: semesters")
    starts_on: date
    ends_on: date

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.ends_on < self.starts_on:
            raise ValueError("a semester must end on or after the day it starts")
        return self

    KEY: ClassVar[str | None] = "region"


class ScheduleGathering(Command, _Times):
    """Programme management schedules a gathering; invitations follow from its kind."""

    TYPE: ClassVar[str] = f"{PREFIX}.schedule-gathering.v1"
    SERVICE: ClassVar[str] = "scheduling"

    gathering_id: UUID | None = Field(
        default=None, description="Chosen by the caller to make retries safe; else assigned"
    )
    round_id: RoundId
    region: RegionId
    kind: GatheringKind
    title: Text
    venue: Venue
    capacity: int | None = Field(default=None, ge=1, description="Seats; absent: no limit")
    semester: int | None = Field(default=None, ge=0, le=3)
    also_invite: list[MunicipalityNumber] = Field(
        default_factory=list, max_length=100, description="Municipalities invited as well"
    )
    override_reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = (
        Field(
            default=None,
            description="Why the programme's shape (two presamlinger in October and November, "
            "six samlinger over three semesters) is set aside this time; recorded in the event",
        )
    )
    proposal_id: UUID | None = Field(
        default=None,
        description="A delingsarena: the county board's proposal it takes up (same round and "
        "region, not taken up before)",
    )

    KEY: ClassVar[str | None] = "region"


class RescheduleGathering(Command, _Times):
    """New times (and venue); the gathering keeps its identity, its sequence goes up."""

    TYPE: ClassVar[str] = f"{PREFIX}.reschedule-gathering.v1"
    SERVICE: ClassVar[str] = "scheduling"

    gathering_id: UUID
    venue: Venue | None = None
    capacity: int | None = Field(default=None, ge=1)
    reason: Reason = ""
    override_reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = (
        Field(default=None, description="Why a presamling may move outside October and November")
    )

    KEY: ClassVar[str | None] = "gathering_id"


class CancelGathering(Command):
    TYPE: ClassVar[str] = f"{PREFIX}.cancel-gathering.v1"
    SERVICE: ClassVar[str] = "scheduling"

    gathering_id: UUID
    reason: Reason = ""

    KEY: ClassVar[str | None] = "gathering_id"


class RequestDialogueMeeting(Command):
    """A county board asks programme management for a dialogue meeting."""

    TYPE: ClassVar[str] = f"{PREFIX}.request-dialogue-meeting.v1"
    SERVICE: ClassVar[str] = "scheduling"

    request_id: UUID | None = Field(default=None, description="Chosen by the caller, or assigned")
    round_id: RoundId
    region: RegionId
    topic: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    wished_dates: list[date] = Field(default_factory=list, max_length=10)

    KEY: ClassVar[str | None] = "region"


class ScheduleDialogueMeeting(Command, _Times):
    """Programme management answers a request: the meeting with that county's board and
    whoever else it names."""

    TYPE: ClassVar[str] = f"{PREFIX}.schedule-dialogue-meeting.v1"
    SERVICE: ClassVar[str] = "scheduling"

    request_id: UUID
    gathering_id: UUID | None = None
    title: Text | None = None
    venue: Venue
    capacity: int | None = Field(default=None, ge=1)
    also_invite: list[MunicipalityNumber] = Field(default_factory=list, max_length=100)
    guests: list[Guest] = Field(
        default_factory=list, max_length=20, description="Other actors invited, by name and address"
    )

    KEY: ClassVar[str | None] = "request_id"


class ProposeDialogueMeeting(Command, _Times):
    """Programme management proposes a dialogmøte with a county itself, without a request:
    the region's board, the municipalities and the other actors it names are invited."""

    TYPE: ClassVar[str] = f"{PREFIX}.propose-dialogue-meeting.v1"
    SERVICE: ClassVar[str] = "scheduling"

    request_id: UUID | None = Field(
        default=None, description="Chosen by the caller to make retries safe; else assigned"
    )
    gathering_id: UUID | None = None
    round_id: RoundId
    region: RegionId
    topic: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    title: Text | None = None
    venue: Venue
    capacity: int | None = Field(default=None, ge=1)
    also_invite: list[MunicipalityNumber] = Field(default_factory=list, max_length=100)
    guests: list[Guest] = Field(
        default_factory=list, max_length=20, description="Other actors invited, by name and address"
    )

    KEY: ClassVar[str | None] = "region"


class ProposeDelingsarena(Command):
    """A county board proposes a delingsarena in its own region, for programme management to
    take up: what it is about, when and where it could be."""

    TYPE: ClassVar[str] = f"{PREFIX}.propose-delingsarena.v1"
    SERVICE: ClassVar[str] = "scheduling"

    proposal_id: UUID | None = Field(
        default=None, description="Chosen by the caller to make retries safe; else assigned"
    )
    round_id: RoundId
    region: RegionId
    title: Text
    description: Annotated[str, StringConstraints(max_length=4000)] = ""
    wished_dates: list[date] = Field(default_factory=list, max_length=10)
    venue: Venue | None = Field(default=None, description="Where it could be held, if known")

    KEY: ClassVar[str | None] = "region"


class EraseGuest(Command):
    """Programme management erases another actor's name and address (a guest's): their
    invitations still ahead are withdrawn, downstream is told by a tombstone and an event."""

    TYPE: ClassVar[str] = f"{PREFIX}.erase-guest.v1"
    SERVICE: ClassVar[str] = "scheduling"

    person_id: UUID

    KEY: ClassVar[str | None] = "person_id"


class BookSupervision(Command, _Times):
    """Programme management books a supervisor (veiledning) for one admitted municipality."""

    TYPE: ClassVar[str] = f"{PREFIX}.book-supervision.v1"
    SERVICE: ClassVar[str] = "scheduling"

    gathering_id: UUID | None = None
    round_id: RoundId
    municipality_number: MunicipalityNumber
    supervisor_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,100}$")] = Field(
        description="The supervisor, by an id of programme management's choosing (no name)"
    )
    title: Text = "Veiledning"
    venue: Venue

    KEY: ClassVar[str | None] = "municipality_number"


class RecordRsvp(Command):
    """An invitee's answer, as the region's board or programme management records it."""

    TYPE: ClassVar[str] = f"{PREFIX}.record-rsvp.v1"
    SERVICE: ClassVar[str] = "scheduling"

    gathering_id: UUID
    region: RegionId
    person_id: UUID | None = None
    municipality_number: MunicipalityNumber | None = Field(
        default=None, description="For an invitation of a municipality as such"
    )
    response: Rsvp

    @model_validator(mode="after")
    def _one_invitee(self) -> Self:
        if (self.person_id is None) == (self.municipality_number is None):
            raise ValueError("name either person_id or municipality_number")
        return self

    KEY: ClassVar[str | None] = "gathering_id"


class RecordAttendance(Command):
    """Who came, after the gathering: everyone invited and not named is recorded absent."""

    TYPE: ClassVar[str] = f"{PREFIX}.record-attendance.v1"
    SERVICE: ClassVar[str] = "scheduling"

    gathering_id: UUID
    region: RegionId
    present_persons: list[UUID] = Field(default_factory=list, max_length=500)
    present_municipalities: list[MunicipalityNumber] = Field(default_factory=list, max_length=400)

    KEY: ClassVar[str | None] = "gathering_id"


class SetInterimWork(Command):
    """Programme management sets the mellomarbeid every kommunegruppe of the region does
    after a samling and before the next."""

    TYPE: ClassVar[str] = f"{PREFIX}.set-interim-work.v1"
    SERVICE: ClassVar[str] = "scheduling"

    interim_work_id: UUID | None = Field(
        default=None, description="Chosen by the caller to make retries safe; else assigned"
    )
    after_gathering_id: UUID = Field(description="The samling the work follows")
    title: Text
    description: Annotated[str, StringConstraints(max_length=4000)] = ""
    due_on: date = Field(description="Done by the end of this day (Europe/Oslo)")

    KEY: ClassVar[str | None] = "after_gathering_id"


class ReportInterimWork(Command):
    """A municipality's county board marks its mellomarbeid done, with a short report."""

    TYPE: ClassVar[str] = f"{PREFIX}.report-interim-work.v1"
    SERVICE: ClassVar[str] = "scheduling"

    interim_work_id: UUID
    region: RegionId
    municipality_number: MunicipalityNumber
    report: Annotated[str, StringConstraints(min_length=1, max_length=2000)]

    KEY: ClassVar[str | None] = "interim_work_id"


# --- events ----------------------------------------------------------------------------------------


class SemesterPlanned(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.semester-planned.v1"
    SERVICE: ClassVar[str] = "scheduling"

    round_id: str
    region: str
    number: int
    starts_on: date
    ends_on: date

    KEY: ClassVar[str | None] = "region"


class _GatheringFacts(Event):
    gathering_id: UUID
    round_id: str
    region: str
    kind: GatheringKind
    title: str
    venue: VenueInfo
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: str = "Europe/Oslo"
    capacity: int | None = None
    sequence: int = Field(ge=0, description="iCalendar SEQUENCE: raised by every change")

    KEY: ClassVar[str | None] = "gathering_id"


class GatheringScheduled(_GatheringFacts):
    TYPE: ClassVar[str] = f"{PREFIX}.gathering-scheduled.v1"
    SERVICE: ClassVar[str] = "scheduling"

    semester: int | None = None
    supervisor_id: str | None = None
    overridden: list[str] = Field(
        default_factory=list, description="The shape rules set aside (problem type slugs)"
    )
    override_reason: str | None = None
    proposed_by_programme: bool = Field(
        default=False,
        description="A dialogmøte programme management proposed itself, without a board's request",
    )
    arranged_by_branch: str | None = Field(
        default=None,
        description="A delingsarena a county board scheduled itself: the board's branch id",
    )


class GatheringRescheduled(_GatheringFacts):
    """Same gathering (same id, same calendar UID), new times or venue; tells the invitees."""

    TYPE: ClassVar[str] = f"{PREFIX}.gathering-rescheduled.v1"
    SERVICE: ClassVar[str] = "scheduling"

    previous_starts_at: AwareDatetime
    previous_ends_at: AwareDatetime
    reason: str
    invitees: list[Invitee]
    overridden: list[str] = Field(
        default_factory=list, description="The shape rules set aside (problem type slugs)"
    )
    override_reason: str | None = None


class GatheringCancelled(Event):
    """Everyone invited at the time of cancelling is named, so each can be told."""

    TYPE: ClassVar[str] = f"{PREFIX}.gathering-cancelled.v1"
    SERVICE: ClassVar[str] = "scheduling"

    gathering_id: UUID
    round_id: str
    region: str
    kind: GatheringKind
    title: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    sequence: int
    reason: str
    invitees: list[Invitee]
    # A veiledning released because its municipality left: whom it booked, for whom, why.
    supervisor_id: str | None = None
    municipality_number: str | None = None
    cause: CancellationCause | None = Field(
        default=None, description="Set when the service cancelled it itself (absent: by hand)"
    )

    KEY: ClassVar[str | None] = "gathering_id"


class _InvitationFacts(Event):
    invitation_id: UUID
    gathering_id: UUID
    round_id: str
    region: str
    kind: GatheringKind
    person_id: UUID | None = None
    municipality_number: str | None = None
    branch_id: str | None = None
    role: InviteeRole
    sequence: int = Field(ge=0, description="The gathering's sequence at the time")

    KEY: ClassVar[str | None] = "gathering_id"


class InterimWorkDue(_Tolerant):
    """Mellomarbeid due before a samling, as its invitations list it."""

    interim_work_id: UUID
    title: str
    due_on: date


class InvitationIssued(_InvitationFacts):
    TYPE: ClassVar[str] = f"{PREFIX}.invitation-issued.v1"
    SERVICE: ClassVar[str] = "scheduling"

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    interim_work_due: list[InterimWorkDue] | None = Field(
        default=None,
        description="A samling's invitation: the mellomarbeid set after the samling before it",
    )


class InvitationWithdrawn(_InvitationFacts):
    TYPE: ClassVar[str] = f"{PREFIX}.invitation-withdrawn.v1"
    SERVICE: ClassVar[str] = "scheduling"

    reason: str


class RsvpRecorded(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.rsvp-recorded.v1"
    SERVICE: ClassVar[str] = "scheduling"

    invitation_id: UUID
    gathering_id: UUID
    person_id: UUID | None = None
    municipality_number: str | None = None
    response: Rsvp
    confirmed: int = Field(description="Yes answers for the gathering, this one included")
    capacity: int | None = None

    KEY: ClassVar[str | None] = "gathering_id"


class AttendanceRecorded(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.attendance-recorded.v1"
    SERVICE: ClassVar[str] = "scheduling"

    gathering_id: UUID
    round_id: str
    region: str
    present: list[Invitee]
    absent: list[Invitee]

    KEY: ClassVar[str | None] = "gathering_id"


class SupervisionBooked(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.supervision-booked.v1"
    SERVICE: ClassVar[str] = "scheduling"

    gathering_id: UUID
    round_id: str
    region: str
    municipality_number: str
    supervisor_id: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    KEY: ClassVar[str | None] = "gathering_id"


class DialogueMeetingRequested(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.dialogue-meeting-requested.v1"
    SERVICE: ClassVar[str] = "scheduling"

    request_id: UUID
    round_id: str
    region: str
    topic: str
    wished_dates: list[date]
    requested_at: AwareDatetime

    KEY: ClassVar[str | None] = "request_id"


class DialogueMeetingScheduled(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.dialogue-meeting-scheduled.v1"
    SERVICE: ClassVar[str] = "scheduling"

    request_id: UUID
    gathering_id: UUID
    region: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    proposed_by_programme: bool = Field(
        default=False,
        description="Programme management proposed it without a board's request (the request "
        "id is then one it made for the proposal)",
    )

    KEY: ClassVar[str | None] = "request_id"


class DelingsarenaProposed(Event):
    """A county board proposed a delingsarena in its region (ids and facts, no contact data)."""

    TYPE: ClassVar[str] = f"{PREFIX}.delingsarena-proposed.v1"
    SERVICE: ClassVar[str] = "scheduling"

    proposal_id: UUID
    round_id: str
    region: str
    title: str
    description: str
    wished_dates: list[date]
    venue: VenueInfo | None = None
    proposed_at: AwareDatetime

    KEY: ClassVar[str | None] = "proposal_id"


class GuestErased(Event):
    """A guest's contact data is erased: forget everything held for the person id. Kept on the
    events topic, so a consumer away longer than the tombstone's day learns of it too."""

    TYPE: ClassVar[str] = f"{PREFIX}.guest-erased.v1"
    SERVICE: ClassVar[str] = "scheduling"

    person_id: UUID
    erased_at: AwareDatetime

    KEY: ClassVar[str | None] = "person_id"


class GuestContact(Contract):
    """An invited actor's contact data, on scheduling's restricted compacted contacts topic only.

    Keyed by person id (the id invitations name with the role `guest`); erasure is a tombstone
    under the same key. Read tolerantly, like an event."""

    model_config = TOLERANT

    TYPE: ClassVar[str] = f"{PREFIX}.guest-contact.v1"
    SERVICE: ClassVar[str] = "scheduling"
    KIND: ClassVar[str] = "contact"
    TOPIC: ClassVar[str] = CONTACTS

    person_id: UUID
    name: str
    email: EmailStr
    language: Language = Language.BOKMAAL
    organisation: str | None = None

    KEY: ClassVar[str | None] = "person_id"


class GroupRecipient(_Tolerant):
    """A kommunegruppe member who is to be told, by id and role."""

    person_id: UUID
    municipality_number: str
    role: InviteeRole


class InterimWorkSet(Event):
    """Mellomarbeid for the region's kommunegrupper until `due_on`; the members are named
    (ids and roles) so that each can be told."""

    TYPE: ClassVar[str] = f"{PREFIX}.interim-work-set.v1"
    SERVICE: ClassVar[str] = "scheduling"

    interim_work_id: UUID
    round_id: str
    region: str
    after_gathering_id: UUID
    title: str
    description: str
    due_on: date
    set_at: AwareDatetime
    municipality_numbers: list[str] = Field(description="The admitted municipalities it is for")
    recipients: list[GroupRecipient]

    KEY: ClassVar[str | None] = "interim_work_id"


class InterimWorkReported(Event):
    """A municipality's mellomarbeid marked done, with its report."""

    TYPE: ClassVar[str] = f"{PREFIX}.interim-work-reported.v1"
    SERVICE: ClassVar[str] = "scheduling"

    interim_work_id: UUID
    round_id: str
    region: str
    municipality_number: str
    report: str
    reported_at: AwareDatetime
    late: bool = Field(description="Reported after the end of the due day (Europe/Oslo)")

    KEY: ClassVar[str | None] = "interim_work_id"
