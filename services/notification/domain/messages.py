"""Which mails an event causes, to whom, with which facts. Pure: the handler loads what
these functions need, and stores what they return.

Each takes the event's typed model (`shared.contracts.events`) and what the handler read of
the projections (boards, groups, gatherings). A planned mail's context holds the facts of the
event (names, dates, places) as JSON, but no personal data: a recipient's name and address
are looked up when the mail is sent, so erasure only has to forget the recipient.
Municipalities and counties are named, not numbered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic_core import to_jsonable_python

from shared.contracts.events import registration as reg
from shared.contracts.events import scheduling as sched
from shared.reference import ReferenceData

PROGRAMME_SUBJECT = "Fremtidens kulturskole, Regionale program"
UID_DOMAIN = "kulturskoleradet.no"  # the same UID as scheduling's calendar feed gives

# Whom a kommunegruppe's applications and decisions are addressed to on the municipality's
# side, in this order of preference (its kulturskole first).
CONTACT_ROLES = ("kulturskole", "grunnskole", "barnehage", "sfo", "annen")


@dataclass(frozen=True)
class PlannedMail:
    recipient_key: str
    template: str
    context: dict[str, Any]
    person_id: str | None = None
    address: str | None = None
    language: str | None = None  # None: the recipient's own
    supervisor_id: str | None = None
    # The programme copy of interest answers to the board's contact person.
    reply_to_person_id: str | None = None
    # A reminder: not sent to a person who opted out of reminders.
    reminder: bool = False


@dataclass(frozen=True)
class Board:
    """A county branch's board, as far as mail goes: its name and its contact person."""

    branch_id: str
    branch_name: str
    person_id: str


@dataclass(frozen=True)
class Member:
    person_id: str
    role: str


@dataclass(frozen=True)
class Places:
    """Names of municipalities and counties, from the shared reference data."""

    reference: ReferenceData

    def municipality(self, number: str) -> str:
        found = self.reference.municipalities.get(number)
        return found.name if found else number

    def municipalities(self, numbers: Iterable[str]) -> list[str]:
        return [self.municipality(n) for n in numbers]

    def county(self, number: str | None) -> str:
        if not number:
            return ""
        return self.reference.counties.get(number, number)

    def branch_name(self, branch_id: str) -> str:
        found = self.reference.branch(branch_id)
        return found.name if found else branch_id


def person(person_id: object, template: str, context: dict[str, Any], **extra: Any) -> PlannedMail:
    return PlannedMail(f"person:{person_id}", template, context, person_id=str(person_id), **extra)


def mailbox(address: str, template: str, context: dict[str, Any], **extra: Any) -> PlannedMail:
    return PlannedMail(
        f"mailbox:{address}", template, context, address=address, language="nb", **extra
    )


def supervisor(supervisor_id: str, template: str, context: dict[str, Any]) -> PlannedMail:
    return PlannedMail(
        f"supervisor:{supervisor_id}", template, context, supervisor_id=supervisor_id
    )


def _json(value: Any) -> Any:
    """A value of an event as the mail's context stores it: as the event's JSON says it."""
    return to_jsonable_python(value)


def _unique(mails: Iterable[PlannedMail]) -> list[PlannedMail]:
    """One mail per recipient and template: a board contact who is also in the group once."""
    seen: dict[tuple[str, str], PlannedMail] = {}
    for mail in mails:
        seen.setdefault((mail.recipient_key, mail.template), mail)
    return list(seen.values())


# --- interest ---------------------------------------------------------------------------------


def mails_for_interest_registered(
    event: reg.InterestRegistered | reg.InterestUpdated,
    *,
    programme_mailbox: str,
    places: Places | None = None,
) -> list[PlannedMail]:
    """A receipt to the branch's contact, and a copy to the programme mailbox that names the
    contact and answers to them (Reply-To).

    For an update (`interest-updated`) the same two, saying it is an update, with what was
    added and removed when the event says so.
    """
    updated = isinstance(event, reg.InterestUpdated)
    kind = "interest_updated" if updated else "interest"
    numbers = list(event.municipality_numbers)
    context: dict[str, Any] = {
        "branch_name": event.branch_name,
        "round_id": event.round_id,
        "municipality_numbers": numbers,
        "municipalities": places.municipalities(numbers) if places else numbers,
        "county_numbers": list(event.county_numbers),
        "counties": [places.county(c) for c in event.county_numbers]
        if places
        else list(event.county_numbers),
        "message": event.message,
        "registered_at": _json(
            event.updated_at if isinstance(event, reg.InterestUpdated) else event.registered_at
        ),
        "registration_id": str(event.registration_id),
    }
    if isinstance(event, reg.InterestUpdated):
        # Newer registration events say what changed; older ones do not (tolerant reader).
        added, removed = event.added_municipality_numbers, event.removed_municipality_numbers
        if added is not None or removed is not None:
            context["added"] = places.municipalities(added or []) if places else added or []
            context["removed"] = places.municipalities(removed or []) if places else removed or []
    contact = str(event.contact_person_id)
    return [
        person(contact, f"{kind}_receipt", context),
        mailbox(programme_mailbox, f"{kind}_programme_copy", context, reply_to_person_id=contact),
    ]


@dataclass(frozen=True)
class Handover:
    """A branch's contact person was replaced: the former one is told someone else holds it."""

    registration_id: str
    round_id: str
    branch_name: str
    former_person_id: str
    new_person_id: str

    @classmethod
    def of(cls, contact: reg.ContactDetails) -> Handover | None:
        """The handover a contact record tells of, if it tells of one (newer records do)."""
        handed = contact.handed_over
        if handed is None:
            return None
        return cls(
            str(handed.registration_id),
            handed.round_id,
            handed.branch_name,
            str(contact.person_id),
            str(handed.new_contact_person_id),
        )

    @property
    def key(self) -> str:
        """One mail per handover, however often the contact record comes again."""
        return f"handover:{self.registration_id}:{self.former_person_id}:{self.new_person_id}"

    def mails(self, *, name: str, address: str, language: str) -> list[PlannedMail]:
        """The notice, addressed from the contact record itself: registration erases the
        former contact right behind it, so their details may be gone here already."""
        if self.former_person_id == self.new_person_id:
            return []
        context = {
            "branch_name": self.branch_name,
            "round_id": self.round_id,
            "recipient_name": name,
        }
        return [
            PlannedMail(
                f"person:{self.former_person_id}",
                "contact_replaced",
                context,
                person_id=self.former_person_id,
                address=address,
                language=language,
            )
        ]


# --- rounds, windows, deadlines ----------------------------------------------------------------


def round_letters_key(round_id: str) -> str:
    """The round's letter to boards is planned under the round's own key, so the round's event
    and a board contact set around it (another partition, so in either order) never write it
    twice, nor miss a board."""
    return f"round-opened:{round_id}"


def mails_for_round_opened(
    round_id: str, interest_deadline: date, *, boards: Sequence[Board], programme_mailbox: str
) -> list[PlannedMail]:
    """Every county board hears of the new round: the interest deadline, and what to send
    where (the invitation's address and subject, the branch's name and its interest)."""
    mails = [
        person(
            board.person_id,
            "round_opened",
            {
                "round_id": round_id,
                "branch_name": board.branch_name,
                "deadline": _json(interest_deadline),
                "programme_mailbox": programme_mailbox,
                "programme_subject": PROGRAMME_SUBJECT,
            },
        )
        for board in boards
    ]
    return _unique(mails)


def mails_for_window_opened(
    event: reg.ApplicationWindowOpened, *, board: Board | None, places: Places
) -> list[PlannedMail]:
    """The county's board is told its municipalities can apply now, and until when."""
    if board is None:
        return []
    context = {
        "branch_name": board.branch_name,
        "round_id": event.round_id,
        "county_name": places.county(event.county_number),
        "opens_on": _json(event.opens_on),
        "deadline": _json(event.deadline),
        "closes_at": _json(event.closes_at),
    }
    return [person(board.person_id, "application_window_opened", context)]


def mails_for_deadline_extended(
    event: reg.DeadlineExtended, *, boards: Sequence[Board], places: Places
) -> list[PlannedMail]:
    """An interest deadline: every board we know; an application deadline: the county's."""
    mails = []
    for board in boards:
        context = {
            "branch_name": board.branch_name,
            "round_id": event.round_id,
            "kind": event.kind.value,
            "county_name": places.county(event.county_number),
            "previous_deadline": _json(event.previous_deadline),
            "new_deadline": _json(event.new_deadline),
            "closes_at": _json(event.closes_at),
        }
        mails.append(person(board.person_id, "deadline_extended", context))
    return _unique(mails)


# --- applications and decisions ----------------------------------------------------------------


def members_of(refs: Iterable[reg.GroupMemberRef]) -> list[Member]:
    return [Member(str(r.person_id), r.role.value) for r in refs]


def municipality_contact(group: Sequence[Member]) -> Member | None:
    """Who speaks for the municipality: its kulturskole's representative, if it has one."""
    for role in CONTACT_ROLES:
        for member in group:
            if member.role == role:
                return member
    return group[0] if group else None


Decision = (
    reg.MunicipalityAdmitted
    | reg.MunicipalityWaitlisted
    | reg.MunicipalityDeclined
    | reg.MunicipalityWithdrawn
    | reg.AdmissionRevoked
)


def _application_context(
    event: reg.ApplicationSubmitted | Decision, board: Board | None, places: Places
) -> dict[str, Any]:
    return _municipality_context(
        event.round_id,
        event.municipality_number,
        event.county_number,
        event.branch_id,
        board,
        places,
    )


def _municipality_context(
    round_id: str,
    municipality_number: str,
    county_number: str | None,
    branch_id: str,
    board: Board | None,
    places: Places,
) -> dict[str, Any]:
    return {
        "round_id": round_id,
        "municipality_number": municipality_number,
        "municipality_name": places.municipality(municipality_number),
        "county_name": places.county(county_number),
        "branch_name": board.branch_name if board else places.branch_name(branch_id),
    }


def mails_for_application_submitted(
    event: reg.ApplicationSubmitted,
    *,
    board: Board | None,
    group: Sequence[Member],
    programme_mailbox: str,
    places: Places,
) -> list[PlannedMail]:
    context = {
        **_application_context(event, board, places),
        "development_areas": list(event.development_areas),
        # Newer events carry them; older ones do not (tolerant reader).
        "own_development_areas": list(event.own_development_areas or []),
        "themes": list(event.themes or []),
        "group_size": len(group),
        "submitted_at": _json(event.submitted_at),
    }
    mails = []
    if board is not None:
        mails.append(person(board.person_id, "application_received", context))
    contact = municipality_contact(group)
    if contact is not None:
        mails.append(person(contact.person_id, "application_received", context))
    mails.append(mailbox(programme_mailbox, "application_received", {**context, "copy": True}))
    return _unique(mails)


@dataclass(frozen=True)
class Decided:
    """What a decision means here: the application's status, the letter, and whether the
    whole kommunegruppe is told (it takes part, or did) or only the municipality's contact."""

    status: str
    template: str
    whole_group: bool
    facts: dict[str, Any] = field(default_factory=dict)


def decided(event: Decision) -> Decided:
    if isinstance(event, reg.MunicipalityAdmitted):
        template = "moved_up" if event.promoted_from_waitlist else "admitted"
        return Decided("admitted", template, True)
    if isinstance(event, reg.MunicipalityWaitlisted):
        return Decided("waitlisted", "waitlisted", False, {"position": event.position})
    if isinstance(event, reg.MunicipalityDeclined):
        return Decided("declined", "declined", False, {"reason": event.reason})
    if isinstance(event, reg.MunicipalityWithdrawn):
        return Decided("withdrawn", "withdrawal_confirmed", True, {"reason": event.reason})
    return Decided("revoked", "revoked", True, {"reason": event.reason})


def mails_for_decision(
    event: Decision, *, board: Board | None, group: Sequence[Member], places: Places
) -> list[PlannedMail]:
    """A decision goes to the board and the municipality: its whole kommunegruppe where the
    group takes part (admitted, moved up, withdrawn, revoked), else its contact."""
    found = decided(event)
    # A revocation carries its own moment (`revoked_at`), not a decision's.
    decided_at = None if isinstance(event, reg.AdmissionRevoked) else event.decided_at
    context = {
        **_application_context(event, board, places),
        "decided_at": _json(decided_at),
        **found.facts,
    }
    mails = []
    if board is not None:
        mails.append(person(board.person_id, found.template, {**context, "to_board": True}))
    members = list(group) if found.whole_group else [m for m in [municipality_contact(group)] if m]
    mails += [person(m.person_id, found.template, {**context, "to_board": False}) for m in members]
    return _unique(mails)


def mails_for_member_added(
    event: reg.GroupMemberAdded, *, board: Board | None, places: Places
) -> list[PlannedMail]:
    """Welcome to a new kommunegruppe member: what they have committed to."""
    county = county_of(event.municipality_number)
    context = _municipality_context(
        event.round_id, event.municipality_number, county, "", board, places
    )
    context["role"] = event.role.value
    return [person(event.person_id, "welcome_group_member", context)]


def county_of(municipality_number: str) -> str:
    """A kommunenummer begins with its county's number."""
    return municipality_number[:2]


# --- gatherings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gathering:
    gathering_id: str
    round_id: str
    region: str
    kind: str
    title: str
    starts_at: str
    ends_at: str
    sequence: int
    venue: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        event: sched.GatheringScheduled | sched.GatheringRescheduled | sched.GatheringCancelled,
        *,
        venue: Mapping[str, Any] | None = None,
    ) -> Gathering:
        """The gathering as an event tells it; a cancellation names no venue: `venue` is the
        one known from before."""
        if not isinstance(event, sched.GatheringCancelled):
            venue = event.venue.model_dump(mode="json")
        return cls(
            gathering_id=str(event.gathering_id),
            round_id=event.round_id,
            region=event.region,
            kind=event.kind.value,
            title=event.title,
            starts_at=event.starts_at.isoformat(),
            ends_at=event.ends_at.isoformat(),
            sequence=event.sequence,
            venue=venue or {},
        )

    def context(self, places: Places) -> dict[str, Any]:
        return {
            "gathering_id": self.gathering_id,
            "round_id": self.round_id,
            "region_name": places.branch_name(self.region),
            "kind": self.kind,
            "title": self.title,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "venue_name": self.venue.get("name") or "",
            "venue_address": self.venue.get("address") or "",
            "digital_link": self.venue.get("digital_link") or "",
        }

    def calendar(self, method: str) -> dict[str, Any]:
        """What the mail's iCalendar part says; the UID is the same for every mail about
        this gathering (and in scheduling's feed), so calendars update one entry."""
        location = ", ".join(v for v in (self.venue.get("name"), self.venue.get("address")) if v)
        return {
            "method": method,
            "uid": f"{self.gathering_id}@{UID_DOMAIN}",
            "sequence": self.sequence,
            "summary": self.title,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "location": location,
            "url": self.venue.get("digital_link") or "",
        }


@dataclass(frozen=True)
class KnownGathering:
    """A gathering as this service keeps it, and whether it was cancelled."""

    gathering: Gathering
    cancelled: bool = False


# Which mail an invitation is, by the gathering's kind.
INVITATION_TEMPLATES = {
    "veiledning": "supervision_booked",
    "dialogmote": "dialogue_meeting_scheduled",
}
GUEST_ROLE = "guest"  # another actor invited to a dialogmøte by name


def invitation_template(kind: str, role: str, *, proposed_by_programme: bool) -> str:
    """A dialogmøte a board asked for says so to the board; one programme management proposed
    itself, or an invitation to a guest, is an invitation of programme management's."""
    if kind == "dialogmote" and (role == GUEST_ROLE or proposed_by_programme):
        return "dialogue_meeting_invitation"
    return INVITATION_TEMPLATES.get(kind, "gathering_invitation")


def mails_for_delingsarena_proposed(
    event: sched.DelingsarenaProposed, *, programme_mailbox: str, places: Places
) -> list[PlannedMail]:
    """Programme management is told of each delingsarena a county board proposes."""
    venue = event.venue
    context = {
        "round_id": event.round_id,
        "region_name": places.branch_name(event.region),
        "title": event.title,
        "description": event.description or "",
        "wished_dates": _json(list(event.wished_dates)),
        "venue_name": (venue.name if venue else "") or "",
        "venue_address": (venue.address if venue else "") or "",
        "digital_link": (venue.digital_link if venue else "") or "",
        "proposed_at": _json(event.proposed_at),
        "proposal_id": str(event.proposal_id),
    }
    return [mailbox(programme_mailbox, "delingsarena_proposed", context)]


def mails_for_delingsarena_arranged(
    gathering: Gathering, *, programme_mailbox: str, places: Places
) -> list[PlannedMail]:
    """Programme management is told of a delingsarena a county board scheduled itself."""
    return [mailbox(programme_mailbox, "delingsarena_arranged", gathering.context(places))]


def mails_for_dialogue_requested(
    event: sched.DialogueMeetingRequested, *, programme_mailbox: str, places: Places
) -> list[PlannedMail]:
    """Programme management is told of each board's request for a dialogmøte."""
    context = {
        "round_id": event.round_id,
        "region_name": places.branch_name(event.region),
        "topic": event.topic,
        "wished_dates": _json(list(event.wished_dates)),
        "requested_at": _json(event.requested_at),
        "request_id": str(event.request_id),
    }
    return [mailbox(programme_mailbox, "dialogue_requested", context)]


@dataclass(frozen=True)
class InvitationTarget:
    """Whom an invitation reaches: a person, or for a municipality invited as such (it has no
    kommunegruppe yet) its county board's contact, on the municipality's behalf."""

    person_id: str | None
    municipality_number: str | None = None
    role: str = ""

    @classmethod
    def of(
        cls, invitee: sched.Invitee | sched.InvitationIssued | sched.InvitationWithdrawn
    ) -> InvitationTarget:
        return cls(
            str(invitee.person_id) if invitee.person_id else None,
            invitee.municipality_number,
            invitee.role.value,
        )


# Each invitation with the branch that invited a municipality as such (its board speaks for it).
Invited = tuple[InvitationTarget, str | None]


def invited(invitees: Iterable[sched.Invitee]) -> list[Invited]:
    return [(InvitationTarget.of(i), i.branch_id) for i in invitees]


def invitation_recipient(
    target: InvitationTarget, board_of: Mapping[str, Board]
) -> tuple[str, str | None] | None:
    """(person id, municipality it is on behalf of) or None if nobody can be reached."""
    if target.person_id:
        return target.person_id, None
    if target.municipality_number and target.municipality_number in board_of:
        return board_of[target.municipality_number].person_id, target.municipality_number
    return None


def mails_for_gathering(
    template: str,
    gathering: Gathering,
    targets: Sequence[InvitationTarget],
    *,
    board_of: Mapping[str, Board],
    method: str,
    places: Places,
    **facts: Any,
) -> list[PlannedMail]:
    """Invitation, change or cancellation: one mail per person reached, with the calendar."""
    mails = []
    base = {**gathering.context(places), **facts, "calendar": gathering.calendar(method)}
    for target in targets:
        found = invitation_recipient(target, board_of)
        if found is None:
            continue
        person_id, on_behalf_of = found
        context = {
            **base,
            "on_behalf_of": places.municipality(on_behalf_of) if on_behalf_of else "",
        }
        mails.append(person(person_id, template, context))
    return _unique(mails)


def with_sequence(known: KnownGathering, sequence: int) -> Gathering:
    """The gathering at least at `sequence`: an invitation or withdrawal raised the SEQUENCE
    in between, and a calendar program ignores a mail that carries a lower one."""
    gathering = known.gathering
    return dataclasses.replace(gathering, sequence=max(gathering.sequence, sequence))


def mails_for_invitation(
    event: sched.InvitationIssued,
    gathering: Gathering,
    *,
    proposed_by_programme: bool,
    board_of: Mapping[str, Board],
    answer_links: Mapping[str, str],
    places: Places,
) -> list[PlannedMail]:
    """The invitation, with the calendar, what is due before a samling, and the links to
    answer it."""
    role = event.role.value
    template = invitation_template(
        gathering.kind, role, proposed_by_programme=proposed_by_programme
    )
    facts: dict[str, Any] = {"guest": role == GUEST_ROLE}
    if event.interim_work_due:  # newer invitations of a samling
        facts["interim_work_due"] = [d.model_dump(mode="json") for d in event.interim_work_due]
    if answer_links:
        facts["answer_links"] = dict(answer_links)
    return _about_one_invitation(
        template, "REQUEST", event, gathering, board_of=board_of, places=places, **facts
    )


def _about_one_invitation(
    template: str,
    method: str,
    event: sched.InvitationIssued | sched.InvitationWithdrawn,
    gathering: Gathering,
    *,
    board_of: Mapping[str, Board],
    places: Places,
    **facts: Any,
) -> list[PlannedMail]:
    """The mail to whom one invitation reaches, naming the municipality it is for, if any."""
    if event.municipality_number:
        facts["municipality_name"] = places.municipality(event.municipality_number)
    targets = [InvitationTarget.of(event)]
    return mails_for_gathering(
        template, gathering, targets, board_of=board_of, method=method, places=places, **facts
    )


def mails_for_withdrawal(
    event: sched.InvitationWithdrawn,
    gathering: Gathering,
    *,
    remaining: Sequence[InvitationTarget],
    board_of: Mapping[str, Board],
    places: Places,
) -> list[PlannedMail]:
    """A CANCEL to whom the invitation reached, unless another active invitation still reaches
    them (the one calendar entry they share stays)."""
    found = invitation_recipient(InvitationTarget.of(event), board_of)
    if found is None or still_invited(found[0], remaining, board_of):
        return []
    return _about_one_invitation(
        "invitation_withdrawn", "CANCEL", event, gathering, board_of=board_of, places=places
    )


def mails_for_change(
    event: sched.GatheringRescheduled,
    gathering: Gathering,
    *,
    board_of: Mapping[str, Board],
    places: Places,
) -> list[PlannedMail]:
    """Everyone invited gets the moved gathering (REQUEST with the higher SEQUENCE)."""
    return mails_for_gathering(
        "gathering_changed",
        gathering,
        [t for t, _ in invited(event.invitees)],
        board_of=board_of,
        method="REQUEST",
        places=places,
        previous_starts_at=event.previous_starts_at.isoformat(),
        reason=event.reason,
    )


def mails_for_cancellation(
    event: sched.GatheringCancelled,
    gathering: Gathering,
    *,
    board_of: Mapping[str, Board],
    places: Places,
) -> list[PlannedMail]:
    """Everyone invited gets the CANCEL; the supervisor of a veiledning released because its
    municipality left is told they are free again."""
    mails = mails_for_gathering(
        "gathering_cancelled",
        gathering,
        [t for t, _ in invited(event.invitees)],
        board_of=board_of,
        method="CANCEL",
        places=places,
        reason=event.reason,
        cause=event.cause.value if event.cause else "",
        municipality_name=places.municipality(event.municipality_number or ""),
    )
    if event.supervisor_id is not None and event.cause is not None:
        mails += mails_for_supervision_released(
            gathering, event.supervisor_id, event.municipality_number, places
        )
    return mails


def mails_for_supervisor(
    gathering: Gathering, event: sched.SupervisionBooked, places: Places
) -> list[PlannedMail]:
    """The supervisor is told of the booking, with the calendar invitation."""
    context = {
        **gathering.context(places),
        "municipality_name": places.municipality(event.municipality_number),
        "for_supervisor": True,
        "on_behalf_of": "",
        "calendar": gathering.calendar("REQUEST"),
    }
    return [supervisor(event.supervisor_id, "supervision_booked", context)]


def mails_for_supervision_released(
    gathering: Gathering, supervisor_id: str, municipality_number: str | None, places: Places
) -> list[PlannedMail]:
    """The supervisor of a veiledning whose municipality left: the booking is off (CANCEL)."""
    context = {
        **gathering.context(places),
        "municipality_name": places.municipality(municipality_number or ""),
        "on_behalf_of": "",
        "calendar": gathering.calendar("CANCEL"),
    }
    return [supervisor(supervisor_id, "supervision_released", context)]


def still_invited(
    person_id: str,
    targets: Sequence[InvitationTarget],
    board_of: Mapping[str, Board],
) -> bool:
    """Whether `person_id` is still reached by one of a gathering's active invitations (a
    board holds its own and those of the municipalities it speaks for): then a CANCEL of
    the one calendar entry they share would take away what still stands."""
    for target in targets:
        found = invitation_recipient(target, board_of)
        if found is not None and found[0] == person_id:
            return True
    return False


def mails_for_interim_work(event: sched.InterimWorkSet, *, places: Places) -> list[PlannedMail]:
    """Mellomarbeid set: every member of each kommunegruppe named is told, in their language."""
    facts = {
        "round_id": event.round_id,
        "region_name": places.branch_name(event.region),
        "title": event.title,
        "description": event.description,
        "due_on": _json(event.due_on),
    }
    return _unique(
        [
            person(
                r.person_id,
                "interim_work_set",
                {**facts, "municipality_name": places.municipality(r.municipality_number)},
            )
            for r in event.recipients
        ]
    )
