"""Which mails an event causes, to whom, with which facts. Pure: the handler stores the result.

A planned mail's context holds the facts of the event (names, dates, places) but no personal
data: a recipient's name and address are looked up when the mail is sent, so erasure only has
to forget the recipient. Municipalities and counties are named, not numbered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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


def _unique(mails: Iterable[PlannedMail]) -> list[PlannedMail]:
    """One mail per recipient and template: a board contact who is also in the group once."""
    seen: dict[tuple[str, str], PlannedMail] = {}
    for mail in mails:
        seen.setdefault((mail.recipient_key, mail.template), mail)
    return list(seen.values())


# --- interest ---------------------------------------------------------------------------------


def mails_for_interest_registered(
    event: Mapping[str, Any],
    *,
    programme_mailbox: str,
    updated: bool = False,
    places: Places | None = None,
) -> list[PlannedMail]:
    """A receipt to the branch's contact, and a copy to the programme mailbox that names the
    contact and answers to them (Reply-To).

    For an update (`interest-updated`) the same two, saying it is an update, with what was
    added and removed when the event says so.
    """
    kind = "interest_updated" if updated else "interest"
    numbers = list(event["municipality_numbers"])
    context: dict[str, Any] = {
        "branch_name": event["branch_name"],
        "round_id": event["round_id"],
        "municipality_numbers": numbers,
        "municipalities": places.municipalities(numbers) if places else numbers,
        "county_numbers": event["county_numbers"],
        "counties": [places.county(c) for c in event["county_numbers"]]
        if places
        else list(event["county_numbers"]),
        "message": event["message"],
        "registered_at": event["updated_at"] if updated else event["registered_at"],
        "registration_id": event["registration_id"],
    }
    if updated:
        # Newer registration events say what changed; older ones do not (tolerant reader).
        added = _first(event, "added_municipality_numbers", "municipalities_added", "added")
        removed = _first(event, "removed_municipality_numbers", "municipalities_removed", "removed")
        if added is not None or removed is not None:
            context["added"] = places.municipalities(added or []) if places else added or []
            context["removed"] = places.municipalities(removed or []) if places else removed or []
    contact = str(event["contact_person_id"])
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


def _first(event: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if event.get(name) is not None:
            return event[name]
    return None


# --- rounds, windows, deadlines ----------------------------------------------------------------


def mails_for_round_opened(
    event: Mapping[str, Any], *, boards: Sequence[Board], programme_mailbox: str
) -> list[PlannedMail]:
    """Every county board hears of the new round: the interest deadline, and what to send
    where (the invitation's address and subject, the branch's name and its interest)."""
    mails = [
        person(
            board.person_id,
            "round_opened",
            {
                "round_id": event["round_id"],
                "branch_name": board.branch_name,
                "deadline": event["interest_deadline"],
                "programme_mailbox": programme_mailbox,
                "programme_subject": PROGRAMME_SUBJECT,
            },
        )
        for board in boards
    ]
    return _unique(mails)


def mails_for_window_opened(
    event: Mapping[str, Any], *, board: Board | None, places: Places
) -> list[PlannedMail]:
    """The county's board is told its municipalities can apply now, and until when."""
    if board is None:
        return []
    context = {
        "branch_name": board.branch_name,
        "round_id": event["round_id"],
        "county_name": places.county(event["county_number"]),
        "opens_on": event["opens_on"],
        "deadline": event["deadline"],
        "closes_at": event["closes_at"],
    }
    return [person(board.person_id, "application_window_opened", context)]


def mails_for_deadline_extended(
    event: Mapping[str, Any], *, boards: Sequence[Board], places: Places
) -> list[PlannedMail]:
    """An interest deadline: every board we know; an application deadline: the county's."""
    mails = []
    for board in boards:
        context = {
            "branch_name": board.branch_name,
            "round_id": event["round_id"],
            "kind": event["kind"],
            "county_name": places.county(event.get("county_number")),
            "previous_deadline": event["previous_deadline"],
            "new_deadline": event["new_deadline"],
            "closes_at": event["closes_at"],
        }
        mails.append(person(board.person_id, "deadline_extended", context))
    return _unique(mails)


# --- applications and decisions ----------------------------------------------------------------


def municipality_contact(group: Sequence[Member]) -> Member | None:
    """Who speaks for the municipality: its kulturskole's representative, if it has one."""
    for role in CONTACT_ROLES:
        for member in group:
            if member.role == role:
                return member
    return group[0] if group else None


def _application_context(
    event: Mapping[str, Any], board: Board | None, places: Places
) -> dict[str, Any]:
    number = event["municipality_number"]
    return {
        "round_id": event["round_id"],
        "municipality_number": number,
        "municipality_name": places.municipality(number),
        "county_name": places.county(event.get("county_number")),
        "branch_name": board.branch_name if board else places.branch_name(event["branch_id"]),
    }


def mails_for_application_submitted(
    event: Mapping[str, Any],
    *,
    board: Board | None,
    group: Sequence[Member],
    programme_mailbox: str,
    places: Places,
) -> list[PlannedMail]:
    context = {
        **_application_context(event, board, places),
        "development_areas": list(event.get("development_areas") or []),
        # Newer events carry them; older ones do not (tolerant reader).
        "own_development_areas": list(event.get("own_development_areas") or []),
        "themes": list(event.get("themes") or []),
        "group_size": len(group),
        "submitted_at": event["submitted_at"],
    }
    mails = []
    if board is not None:
        mails.append(person(board.person_id, "application_received", context))
    contact = municipality_contact(group)
    if contact is not None:
        mails.append(person(contact.person_id, "application_received", context))
    mails.append(mailbox(programme_mailbox, "application_received", {**context, "copy": True}))
    return _unique(mails)


def mails_for_decision(
    template: str,
    event: Mapping[str, Any],
    *,
    board: Board | None,
    group: Sequence[Member],
    whole_group: bool,
    places: Places,
    **facts: Any,
) -> list[PlannedMail]:
    """A decision goes to the board and the municipality: its whole kommunegruppe where the
    group takes part (admitted, moved up, withdrawn, revoked), else its contact."""
    context = {
        **_application_context(event, board, places),
        "decided_at": event.get("decided_at"),
        **facts,
    }
    mails = []
    if board is not None:
        mails.append(person(board.person_id, template, {**context, "to_board": True}))
    members = list(group) if whole_group else [m for m in [municipality_contact(group)] if m]
    mails += [person(m.person_id, template, {**context, "to_board": False}) for m in members]
    return _unique(mails)


def mails_for_member_added(
    event: Mapping[str, Any], *, board: Board | None, places: Places
) -> list[PlannedMail]:
    """Welcome to a new kommunegruppe member: what they have committed to."""
    context = {**_application_context({**event, "branch_id": ""}, board, places)}
    context["role"] = event["role"]
    return [person(event["person_id"], "welcome_group_member", context)]


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
    event: Mapping[str, Any], *, programme_mailbox: str, places: Places
) -> list[PlannedMail]:
    """Programme management is told of each delingsarena a county board proposes."""
    venue = event.get("venue") or {}
    context = {
        "round_id": event["round_id"],
        "region_name": places.branch_name(event["region"]),
        "title": event["title"],
        "description": event.get("description") or "",
        "wished_dates": list(event.get("wished_dates") or []),
        "venue_name": venue.get("name") or "",
        "venue_address": venue.get("address") or "",
        "digital_link": venue.get("digital_link") or "",
        "proposed_at": event["proposed_at"],
        "proposal_id": str(event["proposal_id"]),
    }
    return [mailbox(programme_mailbox, "delingsarena_proposed", context)]


def mails_for_delingsarena_arranged(
    gathering: Gathering, *, programme_mailbox: str, places: Places
) -> list[PlannedMail]:
    """Programme management is told of a delingsarena a county board scheduled itself."""
    return [mailbox(programme_mailbox, "delingsarena_arranged", gathering.context(places))]


def mails_for_dialogue_requested(
    event: Mapping[str, Any], *, programme_mailbox: str, places: Places
) -> list[PlannedMail]:
    """Programme management is told of each board's request for a dialogmøte."""
    context = {
        "round_id": event["round_id"],
        "region_name": places.branch_name(event["region"]),
        "topic": event["topic"],
        "wished_dates": list(event.get("wished_dates") or []),
        "requested_at": event["requested_at"],
        "request_id": str(event["request_id"]),
    }
    return [mailbox(programme_mailbox, "dialogue_requested", context)]


@dataclass(frozen=True)
class InvitationTarget:
    """Whom an invitation reaches: a person, or for a municipality invited as such (it has no
    kommunegruppe yet) its county board's contact, on the municipality's behalf."""

    person_id: str | None
    municipality_number: str | None = None
    role: str = ""


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


def mails_for_supervisor(
    gathering: Gathering, event: Mapping[str, Any], places: Places
) -> list[PlannedMail]:
    """The supervisor is told of the booking, with the calendar invitation."""
    number = event["municipality_number"]
    context = {
        **gathering.context(places),
        "municipality_name": places.municipality(number),
        "for_supervisor": True,
        "on_behalf_of": "",
        "calendar": gathering.calendar("REQUEST"),
    }
    return [supervisor(event["supervisor_id"], "supervision_booked", context)]


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


def mails_for_interim_work(event: Mapping[str, Any], *, places: Places) -> list[PlannedMail]:
    """Mellomarbeid set: every member of each kommunegruppe named is told, in their language."""
    facts = {
        "round_id": event["round_id"],
        "region_name": places.branch_name(event["region"]),
        "title": event["title"],
        "description": event["description"],
        "due_on": event["due_on"],
    }
    return _unique(
        [
            person(
                r["person_id"],
                "interim_work_set",
                {**facts, "municipality_name": places.municipality(r["municipality_number"])},
            )
            for r in event["recipients"]
        ]
    )
