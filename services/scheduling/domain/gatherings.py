"""The gathering aggregate: one gathering with its guests and every invitation it ever issued.

Each decision takes the aggregate as loaded and what the command or event says, and returns
the new aggregate and the events to emit; it refuses with a `DomainError`. Nothing here does
I/O: the handlers load, call one of these, save and emit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from services.scheduling.domain.calendar import Gathering as Timing
from services.scheduling.domain.calendar import Slot, Status, clashes, require_started
from services.scheduling.domain.invitations import (
    Changes,
    Invitee,
    RegionState,
    invitation_id,
    invitees,
    reconcile,
)
from services.scheduling.domain.programme import Planned, shape_breaches
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.scheduling import (
    AttendanceRecorded,
    CancellationCause,
    GatheringCancelled,
    GatheringKind,
    GatheringRescheduled,
    GatheringScheduled,
    InterimWorkDue,
    InvitationIssued,
    InvitationWithdrawn,
    InviteeRole,
    Rsvp,
    RsvpRecorded,
    VenueInfo,
)
from shared.contracts.events.scheduling import Invitee as InviteeFacts

# Kinds scheduled directly; a dialogmøte answers a request, veiledning is a booking.
DIRECT_KINDS = {GatheringKind.PRESAMLING, GatheringKind.SAMLING, GatheringKind.DELINGSARENA}


@dataclass(frozen=True)
class Invitation:
    """One invitee of one gathering, for good: withdrawing deactivates, re-inviting
    reactivates, so its id (uuid5 of gathering and invitee) never changes."""

    id: UUID
    invitee: Invitee
    active: bool = True
    rsvp: Rsvp | None = None
    attended: bool | None = None
    withdrawn_reason: str | None = None

    @property
    def key(self) -> str:
        return self.invitee.key

    def facts(self) -> InviteeFacts:
        return InviteeFacts(
            invitation_id=self.id,
            person_id=self.invitee.person_id,
            municipality_number=self.invitee.municipality_number,
            branch_id=self.invitee.branch_id,
            role=self.invitee.role,
        )


@dataclass(frozen=True)
class Gathering:
    id: UUID
    round_id: str
    region: str
    kind: GatheringKind
    title: str
    venue: Mapping[str, Any]
    slot: Slot
    status: Status = Status.SCHEDULED
    sequence: int = 0
    capacity: int | None = None
    semester: int | None = None
    also_invite: tuple[str, ...] = ()
    municipality_number: str | None = None  # veiledning: the municipality it is for
    supervisor_id: str | None = None  # veiledning: who supervises
    request_id: UUID | None = None  # dialogmøte: the request it answers
    arranged_by: str | None = None  # a delingsarena a county board scheduled itself
    guests: tuple[UUID, ...] = ()  # a dialogmøte's guests, invited by name
    invitations: tuple[Invitation, ...] = ()

    # --- reading ---------------------------------------------------------------------------

    @property
    def active(self) -> list[Invitation]:
        return sorted((i for i in self.invitations if i.active), key=lambda i: i.key)

    @property
    def confirmed(self) -> int:
        return sum(1 for i in self.invitations if i.active and i.rsvp is Rsvp.YES)

    @property
    def timing(self) -> Timing:
        """What the calendar rules need of it."""
        return Timing(self.slot, self.status, self.sequence, self.capacity, self.confirmed)

    def invitation(self, key: str) -> Invitation | None:
        """The active invitation of `key`, if any."""
        return next((i for i in self.invitations if i.key == key and i.active), None)

    def facts(self) -> dict[str, Any]:
        """The gathering as its events state it."""
        return {
            "gathering_id": self.id,
            "round_id": self.round_id,
            "region": self.region,
            "kind": self.kind,
            "title": self.title,
            "venue": VenueInfo(**self.venue),
            # In the programme's zone, so a reader sees the wall-clock time the invitation says.
            "starts_at": self.slot.local_start,
            "ends_at": self.slot.local_end,
            "capacity": self.capacity,
            "sequence": self.sequence,
        }

    def invitation_facts(self, invitation: Invitation) -> dict[str, Any]:
        """An invitation of the gathering as its events state it."""
        return {
            "invitation_id": invitation.id,
            "gathering_id": self.id,
            "round_id": self.round_id,
            "region": self.region,
            "kind": self.kind,
            "person_id": invitation.invitee.person_id,
            "municipality_number": invitation.invitee.municipality_number,
            "branch_id": invitation.invitee.branch_id,
            "role": invitation.invitee.role,
            "sequence": self.sequence,
        }

    def invitees(self) -> list[InviteeFacts]:
        return [i.facts() for i in self.active]

    def _with(self, changed: Iterable[Invitation]) -> tuple[Invitation, ...]:
        by_id = {i.id: i for i in self.invitations}
        by_id.update({i.id: i for i in changed})
        return tuple(by_id.values())

    # --- invitations follow registration ---------------------------------------------------

    def changes(self, state: RegionState) -> Changes:
        """Whom to invite and whom to withdraw so that exactly whom it should invite is."""
        desired = invitees(
            self.kind,
            state,
            municipality=self.municipality_number,
            also_invite=self.also_invite,
            guests=self.guests,
        )
        return reconcile(desired, [i.key for i in self.active])

    def brought_in_line(
        self, changes: Changes, *, reason: str, due: list[InterimWorkDue] | None = None
    ) -> tuple[Gathering, list[InvitationIssued | InvitationWithdrawn]]:
        """`changes` made: each invitee issued (a new invitation or one reactivated, its
        answer cleared), each key withdrawn; `due`: a samling's mellomarbeid to list."""
        gathering = self
        if changes.withdraw:
            # Whoever is no longer invited gets a calendar CANCEL, which a calendar program
            # only takes with a SEQUENCE above the one it holds: the gathering's goes up.
            gathering = replace(gathering, sequence=gathering.sequence + 1)
        issued: list[Invitation] = []
        for invitee in changes.issue:
            known = next((i for i in gathering.invitations if i.key == invitee.key), None)
            if known is not None and known.active:
                continue
            issued.append(
                Invitation(invitation_id(self.id, invitee.key), invitee)
                if known is None
                else replace(
                    known,
                    invitee=replace(invitee, person_id=known.invitee.person_id),
                    active=True,
                    rsvp=None,
                    withdrawn_reason=None,
                )
            )
        withdrawn = [
            replace(i, active=False, withdrawn_reason=reason)
            for key in changes.withdraw
            if (i := gathering.invitation(key)) is not None
        ]
        gathering = replace(gathering, invitations=gathering._with([*issued, *withdrawn]))
        events: list[InvitationIssued | InvitationWithdrawn] = [
            InvitationIssued(
                **gathering.invitation_facts(i),
                starts_at=gathering.slot.local_start,
                ends_at=gathering.slot.local_end,
                interim_work_due=due,
            )
            for i in issued
        ]
        events += [
            InvitationWithdrawn(**gathering.invitation_facts(i), reason=reason) for i in withdrawn
        ]
        return gathering, events

    def person_withdrawn(
        self, person_id: UUID, reason: str
    ) -> tuple[Gathering, list[InvitationWithdrawn]]:
        """The person's invitation withdrawn (their data erased), if they have one."""
        found = self.invitation(f"person:{person_id}")
        if found is None:
            return self, []
        gone = replace(found, active=False, withdrawn_reason=reason)
        changed = replace(self, invitations=self._with([gone]))
        return changed, [InvitationWithdrawn(**changed.invitation_facts(gone), reason=reason)]

    def person_forgotten(self, person_id: UUID) -> Gathering:
        """Past invitations keep their municipality (the attendance rate stays), not the
        person."""
        forgotten = [
            replace(i, invitee=replace(i.invitee, key=f"erased:{i.id}", person_id=None))
            for i in self.invitations
            if i.invitee.person_id == person_id
        ]
        return replace(self, invitations=self._with(forgotten))

    # --- changes by hand ---------------------------------------------------------------------

    def rescheduled(
        self,
        slot: Slot,
        *,
        capacity: int | None,
        venue: Mapping[str, Any] | None,
        now: datetime,
        reason: str,
        override_reason: str | None,
        booked: Sequence[tuple[UUID, Slot]] = (),
    ) -> tuple[Gathering, GatheringRescheduled]:
        """Same gathering, new times: the sequence goes up (RFC 5545 SEQUENCE). `booked`: the
        supervisor's other bookings, for a veiledning."""
        if slot.starts_at <= now:
            raise DomainError(
                "a gathering cannot be moved to the past",
                nb="En samling kan ikke flyttes til fortiden.",
                nn="Ei samling kan ikkje flyttast til fortida.",
                field="starts_at",
                slug="in-the-past",
            )
        timing = self.timing.rescheduled(slot, capacity, now)
        breaches = [
            b
            for b in shape_breaches(
                kind=self.kind.value,
                round_id=self.round_id,
                local_start=slot.local_start,
                semester=self.semester,
                planned=[],
            )
            if b.field == "starts_at"  # moving changes the date, not the counts
        ]
        overridden = allow(breaches, override_reason)
        if self.supervisor_id is not None:
            check_supervisor_free(self.supervisor_id, slot, booked)
        moved = replace(
            self,
            slot=timing.slot,
            capacity=timing.capacity,
            sequence=timing.sequence,
            venue=venue if venue is not None else self.venue,
        )
        event = GatheringRescheduled(
            **moved.facts(),
            previous_starts_at=self.slot.local_start,
            previous_ends_at=self.slot.local_end,
            reason=reason,
            invitees=moved.invitees(),
            overridden=overridden,
            override_reason=override_reason,
        )
        return moved, event

    def cancelled(
        self, *, now: datetime, reason: str, cause: CancellationCause | None = None
    ) -> tuple[Gathering, GatheringCancelled]:
        """By hand (`cause` None: it must be open), or by the service itself: a veiledning
        whose municipality left is released, so the supervisor is free again; the event
        names the supervisor and everyone invited, so each is told."""
        if cause is None:
            sequence = self.timing.cancelled(now).sequence
        else:
            sequence = self.sequence + 1
        done = replace(self, status=Status.CANCELLED, sequence=sequence)
        released = cause is not None
        event = GatheringCancelled(
            gathering_id=self.id,
            round_id=self.round_id,
            region=self.region,
            kind=self.kind,
            title=self.title,
            starts_at=self.slot.local_start,
            ends_at=self.slot.local_end,
            sequence=sequence,
            reason=reason,
            invitees=done.invitees(),
            supervisor_id=self.supervisor_id if released else None,
            municipality_number=self.municipality_number if released else None,
            cause=cause,
        )
        return done, event

    def require_region(self, region: str, names: Mapping[str, str]) -> None:
        if self.region != region:
            there, here = names.get(self.region, self.region), names.get(region, region)
            raise DomainError(
                f"the gathering is in the region {there}, not {here}",
                nb=f"Samlingen hører til {there}, ikke {here}.",
                nn=f"Samlinga høyrer til {there}, ikkje {here}.",
                field="region",
                slug="wrong-region",
            )

    def answered(
        self,
        invitee: Invitee,
        response: Rsvp,
        *,
        now: datetime,
        name: str,
    ) -> tuple[Gathering, RsvpRecorded]:
        """An invitee's answer; `name`: the municipality's, for a refusal."""
        invitation = self.invitation(invitee.key)
        if invitation is None:
            if invitee.person_id is not None:
                raise NotFound(
                    "the person is not invited to this gathering",
                    nb="Personen er ikke invitert til denne samlingen.",
                    nn="Personen er ikkje invitert til denne samlinga.",
                    field="person_id",
                    slug="not-invited",
                )
            raise NotFound(
                f"{name} is not invited to this gathering",
                nb=f"{name} er ikke invitert til denne samlingen.",
                nn=f"{name} er ikkje invitert til denne samlinga.",
                field="municipality_number",
                slug="not-invited",
            )
        timing = self.timing.with_answer(invitation.rsvp is Rsvp.YES, response is Rsvp.YES, now)
        answered = replace(self, invitations=self._with([replace(invitation, rsvp=response)]))
        event = RsvpRecorded(
            invitation_id=invitation.id,
            gathering_id=self.id,
            person_id=invitation.invitee.person_id,
            municipality_number=invitation.invitee.municipality_number,
            response=response,
            confirmed=timing.confirmed,
            capacity=timing.capacity,
        )
        return answered, event

    def attended(
        self, present: Sequence[str], *, now: datetime, names: Mapping[str, str]
    ) -> tuple[Gathering, AttendanceRecorded]:
        """Who came, by invitee key: every active invitation marked present or absent.
        `names`: municipality names by number, for a refusal."""
        if self.status is Status.CANCELLED:
            raise Conflict(
                "the gathering was cancelled: there is no attendance to record",
                nb="Samlingen ble avlyst: det er ikke noe oppmøte å registrere.",
                nn="Samlinga vart avlyst: det er ikkje noko oppmøte å registrere.",
                field="gathering_id",
                slug="cancelled",
            )
        require_started(self.slot, now)
        strangers = sorted(set(present) - {i.key for i in self.active})
        if strangers:
            persons = sum(1 for s in strangers if s.startswith("person:"))
            places = [
                names.get(number, number)
                for s in strangers
                if s.startswith("mun")
                for number in [s.split(":", 1)[1]]
            ]
            en = ", ".join([*places, *([f"{persons} person(s)"] if persons else [])])
            nb = ", ".join([*places, *([f"{persons} person(er)"] if persons else [])])
            raise DomainError(
                f"not invited to this gathering: {en}",
                nb=f"Ikke invitert til denne samlingen: {nb}.",
                nn=f"Ikkje invitert til denne samlinga: {nb}.",
                field="present_persons" if persons else "present_municipalities",
                slug="not-invited",
            )
        marked = [replace(i, attended=i.key in present) for i in self.active]
        done = replace(self, invitations=self._with(marked))
        event = AttendanceRecorded(
            gathering_id=self.id,
            round_id=self.round_id,
            region=self.region,
            present=[i.facts() for i in marked if i.attended],
            absent=[i.facts() for i in marked if not i.attended],
        )
        return done, event


def require_found(gathering: Gathering | None, gathering_id: UUID) -> Gathering:
    if gathering is None:
        raise NotFound(
            f"no gathering {gathering_id}",
            nb="Samlingen finnes ikke.",
            nn="Samlinga finst ikkje.",
            field="gathering_id",
        )
    return gathering


def require_direct(kind: GatheringKind) -> None:
    if kind not in DIRECT_KINDS:
        raise DomainError(
            f"a {kind} is not scheduled directly: a dialogmøte answers a board's request "
            "(/dialogue-meetings), veiledning is booked (/supervisions)",
            nb="Et dialogmøte svarer på en forespørsel fra et fylkesstyre (/dialogue-meetings), "
            "og veiledning bestilles (/supervisions): de settes ikke opp her.",
            nn="Eit dialogmøte svarar på ein førespurnad frå eit fylkesstyre (/dialogue-meetings), "
            "og rettleiing vert bestilt (/supervisions): dei vert ikkje sette opp her.",
            field="kind",
            slug="wrong-route",
        )


def require_future(slot: Slot, now: datetime) -> None:
    if slot.starts_at <= now:
        raise DomainError(
            "a gathering cannot be scheduled to start in the past",
            nb="En samling kan ikke settes opp til å begynne i fortiden.",
            nn="Ei samling kan ikkje setjast opp til å byrje i fortida.",
            field="starts_at",
            slug="in-the-past",
        )


def already_exists(gathering_id: UUID) -> Conflict:
    return Conflict(
        f"a gathering {gathering_id} exists already",
        nb="Det finnes allerede en samling med denne id-en.",
        nn="Det finst alt ei samling med denne id-en.",
        field="gathering_id",
        slug="already-exists",
    )


def scheduled(
    gathering: Gathering,
    *,
    overridden: list[str] | None = None,
    override_reason: str | None = None,
    proposed: bool = False,
) -> GatheringScheduled:
    return GatheringScheduled(
        **gathering.facts(),
        semester=gathering.semester,
        supervisor_id=gathering.supervisor_id,
        overridden=overridden or [],
        override_reason=override_reason,
        proposed_by_programme=proposed,
        arranged_by_branch=gathering.arranged_by,
    )


def shape_allowed(
    *,
    kind: GatheringKind,
    round_id: str,
    slot: Slot,
    semester: int | None,
    planned: Sequence[Planned],
    override_reason: str | None,
) -> list[str]:
    """The programme's shape checked for a new gathering: the slugs set aside."""
    breaches = shape_breaches(
        kind=kind.value,
        round_id=round_id,
        local_start=slot.local_start,
        semester=semester,
        planned=planned,
    )
    return allow(breaches, override_reason)


def allow(breaches: list[DomainError], override_reason: str | None) -> list[str]:
    """The shape's breaches refused, unless a reason sets them aside: then their slugs, to
    record in the event."""
    if breaches and override_reason is None:
        first = breaches[0]
        raise DomainError(
            f"{first.en} (give override_reason to make an exception)",
            nb=f"{first.nb} Oppgi override_reason for å gjøre unntak.",
            nn=f"{first.nn} Oppgi override_reason for å gjere unntak.",
            field=first.field,
            slug=first.slug,
        )
    return [b.slug for b in breaches]


def check_supervisor_free(
    supervisor_id: str, slot: Slot, booked: Sequence[tuple[UUID, Slot]]
) -> None:
    taken = clashes(slot, [s for _, s in booked])
    if taken:
        first = taken[0]
        when = f"{first.local_start:%d.%m.%Y} kl. {first.local_start:%H:%M}\u2013{first.local_end:%H:%M}"
        raise Conflict(
            f"supervisor {supervisor_id} is already booked from {first.local_start:%d.%m.%Y %H:%M}"
            f" to {first.local_end:%H:%M} (Europe/Oslo)",
            nb=f"Veilederen er allerede booket {when}.",
            nn=f"Rettleiaren er alt booka {when}.",
            field="starts_at",
            slug="supervisor-booked",
        )


def invitee_of(*, person_id: UUID | None, municipality_number: str | None) -> Invitee:
    """Whom an answer or an attendance names: a person, else a municipality."""
    if person_id is not None:
        return Invitee.person(person_id, InviteeRole.OTHER)
    return Invitee.municipality(str(municipality_number))
