"""Contracts of the registration service: commands it takes, events it publishes."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from shared.contracts.events.base import TOLERANT, TYPE_PREFIX, Command, Contract, Event
from shared.contracts.topics import DEFAULT_PREFIX, topic_name

PREFIX = f"{TYPE_PREFIX}.registration"
CONTACTS = "contacts"  # the compacted topic `<prefix>.registration.contacts`


def contacts_topic(prefix: str = DEFAULT_PREFIX) -> str:
    """The restricted, compacted topic of `ContactDetails`, keyed by person; only the
    notification service reads it. Erasure is a tombstone there."""
    return topic_name("registration", CONTACTS, prefix)


MunicipalityNumber = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
CountyNumber = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
RoundId = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]


class Language(StrEnum):
    BOKMAAL = "nb"
    NYNORSK = "nn"
    ENGLISH = "en"


class ContactPerson(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: EmailStr
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ]{8,20}$")] | None = None
    language: Language = Language.BOKMAAL


class MunicipalityContact(BaseModel):
    """Whom the board names to speak for one interested municipality: the presamlinger are
    for the municipalities, so this person is invited and answers for it."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    municipality_number: MunicipalityNumber
    contact: ContactPerson


class MunicipalityContactRef(BaseModel):
    """A municipality's contact person as public events carry it: by id, no contact data."""

    model_config = TOLERANT

    municipality_number: str
    person_id: UUID


class RegisterInterest(Command):
    """A county branch board registers interest for its county and member municipalities."""

    TYPE: ClassVar[str] = f"{PREFIX}.register-interest.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId = Field(description="The programme round, by its starting year")
    branch: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The county branch (fylkesavdeling) by name, e.g. 'Vestland'"
    )
    municipality_numbers: list[MunicipalityNumber] = Field(
        default_factory=list,
        max_length=100,
        description="Interested member municipalities (kommunenummer); may be empty",
    )
    contact: ContactPerson
    message: Annotated[str, StringConstraints(max_length=4000)] = ""
    municipality_contacts: list[MunicipalityContact] = Field(
        default_factory=list,
        max_length=100,
        description="Optional: a contact person per interested municipality, who is then "
        "invited to the presamlinger in its name (instead of the board's contact)",
    )

    KEY: ClassVar[str | None] = "branch"


class InterestRegistered(Event):
    """A branch's interest is on record. Carries ids, not contact details."""

    TYPE: ClassVar[str] = f"{PREFIX}.interest-registered.v1"
    SERVICE: ClassVar[str] = "registration"

    registration_id: UUID
    round_id: RoundId
    branch_id: str = Field(description="Stable id of the county branch (slug of its name)")
    branch_name: str
    county_numbers: list[CountyNumber]
    municipality_numbers: list[MunicipalityNumber]
    contact_person_id: UUID
    message: str
    registered_at: AwareDatetime
    municipality_contacts: list[MunicipalityContactRef] | None = Field(
        default=None,
        description="The contact person named for each municipality that has one, by id "
        "(their contact data is on the restricted contacts topic)",
    )

    KEY: ClassVar[str | None] = "branch_id"


class ContactDetails(Contract):
    """Personal contact data, on the restricted compacted contacts topic only.

    Keyed by person id; erasure is a tombstone (null value) under the same key. Published
    data like an event, so read as tolerantly.
    """

    model_config = TOLERANT

    TYPE: ClassVar[str] = f"{PREFIX}.contact-details.v1"
    SERVICE: ClassVar[str] = "registration"
    KIND: ClassVar[str] = "contact"
    TOPIC: ClassVar[str] = CONTACTS

    person_id: UUID
    name: str
    email: EmailStr
    phone: str | None = None
    language: Language = Language.BOKMAAL
    handed_over: ContactHandover | None = Field(
        default=None,
        description="Set when this person is no longer a branch's contact: someone else now "
        "holds it (tell them so). A tombstone may follow under the same key.",
    )

    KEY: ClassVar[str | None] = "person_id"


class ContactHandover(BaseModel):
    """Where a former contact person was the contact, and who holds it now (by id)."""

    model_config = TOLERANT

    registration_id: UUID
    round_id: RoundId
    branch_id: str
    branch_name: str
    new_contact_person_id: UUID


# --- county branches ----------------------------------------------------------------------


class SetBranchContact(Command):
    """Programme management sets a county branch's board contact (reference data): the person
    told when a round opens and reminded before its interest deadline. The contact's data goes
    on the restricted contacts topic only; the event names them by id."""

    TYPE: ClassVar[str] = f"{PREFIX}.set-branch-contact.v1"
    SERVICE: ClassVar[str] = "registration"

    branch: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The county branch by name or id, e.g. 'Vestland' or 'more-og-romsdal'"
    )
    contact: ContactPerson

    KEY: ClassVar[str | None] = "branch"


class BranchContactSet(Event):
    """A county branch's board contact is set. Carries ids, not contact details."""

    TYPE: ClassVar[str] = f"{PREFIX}.branch-contact-set.v1"
    SERVICE: ClassVar[str] = "registration"

    branch_id: str
    branch_name: str
    county_numbers: list[CountyNumber]
    contact_person_id: UUID
    previous_contact_person_id: UUID | None = Field(
        default=None, description="The contact it replaces, when it is another person"
    )
    set_at: AwareDatetime
    set_by: str | None = None

    KEY: ClassVar[str | None] = "branch_id"


# --- programme rounds, windows and deadlines ---------------------------------------------

# A region by its branch id or name ("vestland", "Oslo og Viken"); stored by id.
Capacities = dict[Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f]{1,60}$")], int]


class OpenRound(Command):
    """Programme management opens a round, with its interest deadline and regional capacity."""

    TYPE: ClassVar[str] = f"{PREFIX}.open-round.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    interest_deadline: date | None = Field(
        default=None, description="Last day for interest (Europe/Oslo); default 15 September before"
    )
    capacity_per_branch: Capacities = Field(
        default_factory=dict,
        description="Places per region (branch id or name); absent: no limit",
    )
    allow_past_deadline: bool = Field(
        default=False,
        description="Open the round although its interest deadline has passed (say so "
        "explicitly; otherwise such a round is refused as a likely typo)",
    )

    KEY: ClassVar[str | None] = "round_id"


class RoundOpened(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.round-opened.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    interest_deadline: date
    interest_closes_at: AwareDatetime
    capacity_per_branch: dict[str, int]

    KEY: ClassVar[str | None] = "round_id"


class ChangeCapacity(Command):
    """Programme management changes places per region (the given regions only)."""

    TYPE: ClassVar[str] = f"{PREFIX}.change-capacity.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    capacity_per_branch: Capacities = Field(
        description="New places per region (branch id or name), each at least the number "
        "already admitted there; a region left out keeps its number",
        min_length=1,
    )

    KEY: ClassVar[str | None] = "round_id"


class RoundCapacityChanged(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.round-capacity-changed.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    capacity_per_branch: dict[str, int] = Field(description="The whole capacity table now")
    changed_by: str | None = None

    KEY: ClassVar[str | None] = "round_id"


class RoundState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # no new interest or applications; decisions go on
    CANCELLED = "cancelled"  # nothing more happens in it


class CloseRound(Command):
    """No more interest or applications in the round; decisions and group changes go on."""

    TYPE: ClassVar[str] = f"{PREFIX}.close-round.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""

    KEY: ClassVar[str | None] = "round_id"


class CancelRound(Command):
    """The round will not take place (opened by mistake, or called off): nothing more in it."""

    TYPE: ClassVar[str] = f"{PREFIX}.cancel-round.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]

    KEY: ClassVar[str | None] = "round_id"


class RoundClosed(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.round-closed.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    state: RoundState
    reason: str
    closed_at: AwareDatetime
    closed_by: str | None = None

    KEY: ClassVar[str | None] = "round_id"


class OpenApplicationWindow(Command):
    """After a county's annual meeting its member municipalities get their own deadline."""

    TYPE: ClassVar[str] = f"{PREFIX}.open-application-window.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    county_number: CountyNumber
    opens_on: date
    deadline: date

    KEY: ClassVar[str | None] = "round_id"


class ApplicationWindowOpened(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.application-window-opened.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    county_number: CountyNumber
    opens_on: date
    deadline: date
    closes_at: AwareDatetime

    KEY: ClassVar[str | None] = "round_id"


class DeadlineKind(StrEnum):
    INTEREST = "interest"
    APPLICATION = "application"


class ExtendDeadline(Command):
    TYPE: ClassVar[str] = f"{PREFIX}.extend-deadline.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    kind: DeadlineKind
    county_number: CountyNumber | None = Field(
        default=None, description="For an application deadline"
    )
    new_deadline: date

    KEY: ClassVar[str | None] = "round_id"


class DeadlineExtended(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.deadline-extended.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    kind: DeadlineKind
    county_number: CountyNumber | None
    previous_deadline: date
    new_deadline: date
    closes_at: AwareDatetime

    KEY: ClassVar[str | None] = "round_id"


# --- membership ----------------------------------------------------------------------------


class ImportMembers(Command):
    """The membership list of Norsk kulturskoleråd, replaced whole (e.g. from a CSV export)."""

    TYPE: ClassVar[str] = f"{PREFIX}.import-members.v1"
    SERVICE: ClassVar[str] = "registration"

    municipality_numbers: list[MunicipalityNumber] = Field(max_length=400)

    FIXED_KEY: ClassVar[str | None] = "membership"


class MembershipChanged(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.membership-changed.v1"
    SERVICE: ClassVar[str] = "registration"

    added: list[MunicipalityNumber]
    removed: list[MunicipalityNumber]
    member_count: int

    FIXED_KEY: ClassVar[str | None] = "membership"


# --- interest -----------------------------------------------------------------------------


class InterestUpdated(Event):
    """A branch registered again before the deadline: the registration now reads like this."""

    TYPE: ClassVar[str] = f"{PREFIX}.interest-updated.v1"
    SERVICE: ClassVar[str] = "registration"

    registration_id: UUID
    round_id: RoundId
    branch_id: str
    branch_name: str
    county_numbers: list[CountyNumber]
    municipality_numbers: list[MunicipalityNumber]
    contact_person_id: UUID
    message: str
    updated_at: AwareDatetime
    added_municipality_numbers: list[MunicipalityNumber] | None = Field(
        default=None, description="Municipalities this update added to the list"
    )
    removed_municipality_numbers: list[MunicipalityNumber] | None = Field(
        default=None, description="Municipalities this update took off the list"
    )
    previous_contact_person_id: UUID | None = Field(
        default=None,
        description="Set when the contact person changed: the one who held it until now",
    )
    municipality_contacts: list[MunicipalityContactRef] | None = Field(
        default=None,
        description="The contact person named for each municipality that has one, by id "
        "(their contact data is on the restricted contacts topic)",
    )

    KEY: ClassVar[str | None] = "branch_id"


# --- applications and kommunegrupper ----------------------------------------------------------


class GroupRole(StrEnum):
    KULTURSKOLE = "kulturskole"
    BARNEHAGE = "barnehage"
    SFO = "sfo"
    GRUNNSKOLE = "grunnskole"
    OTHER = "annen"  # other local actors


class GroupMember(BaseModel):
    """A kommunegruppe representative, with contact details (stay in registration)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: EmailStr
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ]{8,20}$")] | None = None
    language: Language = Language.BOKMAAL
    role: GroupRole
    organisation: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    commits_to_gatherings: bool = Field(
        description="Commits to attend every gathering and the work between them (mellomarbeid)"
    )


DevelopmentArea = Annotated[str, StringConstraints(min_length=2, max_length=100)]


class Theme(StrEnum):
    """The programme's themes (the invitation: medvirkning, bærekraft, innovasjon og
    samskaping), which an application may be tagged with."""

    MEDVIRKNING = "medvirkning"
    BAEREKRAFT = "bærekraft"
    INNOVASJON = "innovasjon"
    SAMSKAPING = "samskaping"


class SetDevelopmentAreas(Command):
    """The development areas a county branch has adopted (utviklingsområder), for a round:
    its municipalities' applications pick from them. Replaces the branch's list."""

    TYPE: ClassVar[str] = f"{PREFIX}.set-development-areas.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    branch: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The county branch by name or id"
    )
    areas: list[DevelopmentArea] = Field(max_length=30, description="In the board's words")

    KEY: ClassVar[str | None] = "branch"


class DevelopmentAreasSet(Event):
    """A branch's adopted development areas for a round (the whole list now)."""

    TYPE: ClassVar[str] = f"{PREFIX}.development-areas-set.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    branch_id: str
    branch_name: str
    areas: list[str]
    set_at: AwareDatetime
    set_by: str | None = None

    KEY: ClassVar[str | None] = "branch_id"


class SaveApplicationDraft(Command):
    """The county board drafts an application on behalf of a member municipality."""

    TYPE: ClassVar[str] = f"{PREFIX}.save-application-draft.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    municipality_number: MunicipalityNumber
    motivation: Annotated[str, StringConstraints(max_length=8000)] = ""
    development_areas: list[DevelopmentArea] = Field(
        default_factory=list,
        max_length=10,
        description="Picked from the branch's adopted development areas for the round (any, "
        "while it has adopted none)",
    )
    own_development_areas: list[DevelopmentArea] = Field(
        default_factory=list, max_length=10, description="The municipality's own, beside them"
    )
    themes: list[Theme] = Field(
        default_factory=list, max_length=4, description="The programme's themes it works with"
    )
    co_creation_plan: Annotated[str, StringConstraints(max_length=8000)] = ""
    group: list[GroupMember] = Field(default_factory=list, max_length=30)

    KEY: ClassVar[str | None] = "municipality_number"


class SubmitApplication(Command):
    """Submit the municipality's draft: checked whole, the group registered all or nothing."""

    TYPE: ClassVar[str] = f"{PREFIX}.submit-application.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    municipality_number: MunicipalityNumber

    KEY: ClassVar[str | None] = "municipality_number"


class GroupMemberRef(BaseModel):
    """A group member as events name them: ids and roles, read tolerantly like the event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    person_id: UUID
    role: GroupRole


class ApplicationSubmitted(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.application-submitted.v1"
    SERVICE: ClassVar[str] = "registration"

    application_id: UUID
    round_id: RoundId
    municipality_number: MunicipalityNumber
    county_number: CountyNumber
    branch_id: str
    development_areas: list[str]
    group: list[GroupMemberRef]
    submitted_at: AwareDatetime
    own_development_areas: list[str] | None = Field(
        default=None, description="The municipality's own development areas, beside the branch's"
    )
    themes: list[str] | None = Field(
        default=None, description="The programme's themes the application is tagged with"
    )

    KEY: ClassVar[str | None] = "municipality_number"


# --- decisions and withdrawals ---------------------------------------------------------------


class Decision(StrEnum):
    ADMIT = "admit"
    WAITLIST = "waitlist"
    DECLINE = "decline"


class DecideApplication(Command):
    TYPE: ClassVar[str] = f"{PREFIX}.decide-application.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    municipality_number: MunicipalityNumber
    decision: Decision
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""
    early_reason: Annotated[str, StringConstraints(max_length=2000)] = Field(
        default="",
        description="Decide before the county's application window has closed, and why",
    )

    KEY: ClassVar[str | None] = "municipality_number"


class _DecisionEvent(Event):
    application_id: UUID
    round_id: RoundId
    municipality_number: MunicipalityNumber
    county_number: CountyNumber
    branch_id: str
    decided_at: AwareDatetime
    decided_by: str | None = Field(default=None, description="Who decided (principal name)")
    early_reason: str | None = Field(
        default=None, description="Why it was decided before the application window closed"
    )

    KEY: ClassVar[str | None] = "municipality_number"


class MunicipalityAdmitted(_DecisionEvent):
    TYPE: ClassVar[str] = f"{PREFIX}.municipality-admitted.v1"
    SERVICE: ClassVar[str] = "registration"

    promoted_from_waitlist: bool = False
    group: list[GroupMemberRef]


class MunicipalityWaitlisted(_DecisionEvent):
    TYPE: ClassVar[str] = f"{PREFIX}.municipality-waitlisted.v1"
    SERVICE: ClassVar[str] = "registration"

    position: int = Field(ge=1, description="Place on the region's wait-list")


class MunicipalityDeclined(_DecisionEvent):
    TYPE: ClassVar[str] = f"{PREFIX}.municipality-declined.v1"
    SERVICE: ClassVar[str] = "registration"

    reason: str


class WithdrawMunicipality(Command):
    TYPE: ClassVar[str] = f"{PREFIX}.withdraw-municipality.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    municipality_number: MunicipalityNumber
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""

    KEY: ClassVar[str | None] = "municipality_number"


class MunicipalityWithdrawn(_DecisionEvent):
    TYPE: ClassVar[str] = f"{PREFIX}.municipality-withdrawn.v1"
    SERVICE: ClassVar[str] = "registration"

    previous_status: str
    reason: str
    withdrawn_at: AwareDatetime | None = Field(
        default=None, description="When it was withdrawn (a withdrawal is not a decision)"
    )
    withdrawn_by: str | None = None


class RevokeAdmission(Command):
    """Programme management takes back an admission, with a reason."""

    TYPE: ClassVar[str] = f"{PREFIX}.revoke-admission.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    municipality_number: MunicipalityNumber
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]

    KEY: ClassVar[str | None] = "municipality_number"


class AdmissionRevoked(Event):
    TYPE: ClassVar[str] = f"{PREFIX}.admission-revoked.v1"
    SERVICE: ClassVar[str] = "registration"

    application_id: UUID
    round_id: RoundId
    municipality_number: MunicipalityNumber
    county_number: CountyNumber
    branch_id: str
    reason: str
    revoked_at: AwareDatetime
    revoked_by: str | None = None

    KEY: ClassVar[str | None] = "municipality_number"


# --- group changes after admission ----------------------------------------------------------------


class AddGroupMember(Command):
    TYPE: ClassVar[str] = f"{PREFIX}.add-group-member.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    municipality_number: MunicipalityNumber
    member: GroupMember

    KEY: ClassVar[str | None] = "municipality_number"


class RemoveGroupMember(Command):
    TYPE: ClassVar[str] = f"{PREFIX}.remove-group-member.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    municipality_number: MunicipalityNumber
    person_id: UUID

    KEY: ClassVar[str | None] = "municipality_number"


class ReplaceGroupMember(Command):
    TYPE: ClassVar[str] = f"{PREFIX}.replace-group-member.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId
    municipality_number: MunicipalityNumber
    person_id: UUID
    member: GroupMember

    KEY: ClassVar[str | None] = "municipality_number"


class _GroupChange(Event):
    application_id: UUID
    round_id: RoundId
    municipality_number: MunicipalityNumber
    person_id: UUID
    role: GroupRole
    changed_at: AwareDatetime

    KEY: ClassVar[str | None] = "municipality_number"


class GroupMemberAdded(_GroupChange):
    TYPE: ClassVar[str] = f"{PREFIX}.group-member-added.v1"
    SERVICE: ClassVar[str] = "registration"


class GroupMemberRemoved(_GroupChange):
    TYPE: ClassVar[str] = f"{PREFIX}.group-member-removed.v1"
    SERVICE: ClassVar[str] = "registration"


# --- personal data ------------------------------------------------------------------------------


class ErasePerson(Command):
    TYPE: ClassVar[str] = f"{PREFIX}.erase-person.v1"
    SERVICE: ClassVar[str] = "registration"

    person_id: UUID

    KEY: ClassVar[str | None] = "person_id"


class PersonErased(Event):
    """A person's contact data is gone here; downstream copies must go too."""

    TYPE: ClassVar[str] = f"{PREFIX}.person-erased.v1"
    SERVICE: ClassVar[str] = "registration"

    person_id: UUID
    erased_at: AwareDatetime
    erased_by: str | None = Field(
        default=None, description="Who asked for the erasure; null when it followed a change"
    )

    KEY: ClassVar[str | None] = "person_id"
