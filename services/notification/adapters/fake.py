"""An in-memory `Store` and unit of work, so the handler rules run in unit tests without
PostgreSQL. It keeps what the SQL keeps, as plain dicts and the domain's objects; the
integration tests hold the SQL itself to the same behaviour on the real database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from uuid import UUID

from services.notification.adapters.repository import OWED
from services.notification.domain.messages import (
    Board,
    Gathering,
    InvitationTarget,
    Invited,
    KnownGathering,
    Member,
    PlannedMail,
)
from services.notification.domain.reminders import Deadline, Reminder, ReminderKind


@dataclass
class Delivery:
    """A planned mail as the deliveries table keeps it."""

    event_id: str
    mail: PlannedMail
    status: str = "pending"


@dataclass
class FakeStore:
    recipients: dict[UUID, dict[str, str]] = field(default_factory=dict)
    erased: set[UUID] = field(default_factory=set)
    deliveries: list[Delivery] = field(default_factory=list)
    boards: dict[str, tuple[Board, list[str]]] = field(default_factory=dict)
    interest: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    deadlines: dict[tuple[str, str, str], Deadline] = field(default_factory=dict)
    closed_rounds: set[str] = field(default_factory=set)
    # (kind, subject) -> the pending reminders
    reminders: dict[tuple[ReminderKind, str], list[Reminder]] = field(default_factory=dict)
    applications: dict[tuple[str, str], str] = field(default_factory=dict)
    groups: dict[tuple[str, str], dict[str, Member]] = field(default_factory=dict)
    gatherings: dict[UUID, KnownGathering] = field(default_factory=dict)
    initiative: dict[UUID, bool] = field(default_factory=dict)
    invitations: dict[UUID, tuple[UUID, Invited, bool]] = field(default_factory=dict)
    opted_out_persons: set[UUID] = field(default_factory=set)
    supervisors: dict[str, dict[str, str]] = field(default_factory=dict)

    def planned(self, *, status: str = "pending") -> list[PlannedMail]:
        return [d.mail for d in self.deliveries if d.status == status]

    # --- recipients, erasure, planned mails ------------------------------------------------

    async def upsert_recipient(
        self, *, person_id: UUID, name: str, email: str, language: str
    ) -> bool:
        if person_id in self.erased:
            return False
        self.recipients[person_id] = {"name": name, "email": email, "language": language}
        return True

    async def erase_recipient(self, person_id: UUID) -> None:
        self.erased.add(person_id)
        self.recipients.pop(person_id, None)
        self.opted_out_persons.discard(person_id)
        for d in self.deliveries:
            owed = d.mail.template in OWED and d.mail.address is not None
            if d.mail.person_id == str(person_id) and d.status == "pending" and not owed:
                d.status = "cancelled"

    async def plan(self, event_id: str, mails: Sequence[PlannedMail]) -> None:
        seen = {(d.event_id, d.mail.recipient_key, d.mail.template) for d in self.deliveries}
        for mail in mails:
            if (event_id, mail.recipient_key, mail.template) in seen:
                continue
            erased = (
                mail.address is None
                and mail.person_id is not None
                and UUID(mail.person_id) in self.erased
            )
            if erased:
                self.deliveries.append(Delivery(event_id, replace(mail, context={}), "cancelled"))
            else:
                self.deliveries.append(Delivery(event_id, mail))

    # --- boards, interest, deadlines -------------------------------------------------------

    async def save_board(
        self, *, branch_id: str, branch_name: str, county_numbers: Sequence[str], person_id: UUID
    ) -> None:
        board = Board(branch_id, branch_name, str(person_id))
        self.boards.pop(branch_id, None)  # the latest set is the last (`updated_at`)
        self.boards[branch_id] = (board, list(county_numbers))

    async def save_board_and_interest(
        self,
        *,
        branch_id: str,
        branch_name: str,
        county_numbers: Sequence[str],
        person_id: UUID,
        round_id: str,
        municipality_numbers: Sequence[str],
    ) -> None:
        await self.save_board(
            branch_id=branch_id,
            branch_name=branch_name,
            county_numbers=county_numbers,
            person_id=person_id,
        )
        self.interest[(round_id, branch_id)] = list(municipality_numbers)

    async def board_of_branch(self, branch_id: str | None) -> Board | None:
        found = self.boards.get(branch_id or "")
        return found[0] if found else None

    async def board_of_county(self, county: str | None) -> Board | None:
        found = [board for board, counties in self.boards.values() if county in counties]
        return found[-1] if county and found else None

    async def all_boards(self) -> list[Board]:
        return [self.boards[b][0] for b in sorted(self.boards)]

    async def interest_of_round(self, round_id: str) -> dict[str, list[str]]:
        return {b: list(n) for (r, b), n in self.interest.items() if r == round_id}

    async def save_deadline(
        self,
        *,
        round_id: str,
        kind: str,
        county_number: str | None,
        deadline: date,
        closes_at: datetime,
    ) -> None:
        self.deadlines[(round_id, kind, county_number or "")] = Deadline(deadline, closes_at)

    async def deadline_of(
        self, round_id: str, kind: str, county_number: str | None
    ) -> Deadline | None:
        return self.deadlines.get((round_id, kind, county_number or ""))

    async def close_round(self, round_id: str) -> None:
        self.closed_rounds.add(round_id)

    async def rounds_taking_interest(self, now: datetime) -> list[tuple[str, date]]:
        return sorted(
            (round_id, d.deadline)
            for (round_id, kind, _), d in self.deadlines.items()
            if kind == "interest" and d.closes_at > now and round_id not in self.closed_rounds
        )

    # --- reminders -------------------------------------------------------------------------

    async def replace_reminders(
        self, kind: ReminderKind, subject: str, reminders: Sequence[Reminder]
    ) -> None:
        self.reminders[(kind, subject)] = list(reminders)

    async def drop_reminders(self, kind: ReminderKind, subject: str) -> None:
        self.reminders.pop((kind, subject), None)

    async def drop_round_reminders(self, round_id: str) -> None:
        for kind, subject in list(self.reminders):
            deadline = kind is not ReminderKind.GATHERING
            if deadline and (subject == round_id or subject.startswith(f"{round_id}:")):
                del self.reminders[(kind, subject)]

    # --- applications and kommunegrupper ---------------------------------------------------

    async def save_application(
        self,
        *,
        round_id: str,
        municipality_number: str,
        county_number: str,
        branch_id: str,
        status: str,
    ) -> None:
        self.applications[(round_id, municipality_number)] = status

    async def submitted_municipalities(self, round_id: str) -> set[str]:
        return {n for r, n in self.applications if r == round_id}

    async def replace_group(
        self, round_id: str, municipality_number: str, members: Sequence[Member]
    ) -> None:
        self.groups[(round_id, municipality_number)] = {m.person_id: m for m in members}

    async def add_member(self, round_id: str, municipality_number: str, member: Member) -> None:
        self.groups.setdefault((round_id, municipality_number), {})[member.person_id] = member

    async def remove_member(self, round_id: str, municipality_number: str, person_id: UUID) -> None:
        self.groups.get((round_id, municipality_number), {}).pop(str(person_id), None)

    async def group_of(self, round_id: str, municipality_number: str) -> list[Member]:
        group = self.groups.get((round_id, municipality_number), {})
        return [group[p] for p in sorted(group, key=UUID)]

    # --- gatherings and invitations --------------------------------------------------------

    async def save_gathering(self, gathering: Gathering) -> None:
        key = UUID(gathering.gathering_id)
        known = self.gatherings.get(key)
        if known is None:
            self.gatherings[key] = KnownGathering(gathering)
        elif known.gathering.sequence <= gathering.sequence:
            # As the SQL: the kind, round and region stay as first told.
            kept = known.gathering
            self.gatherings[key] = replace(
                known,
                gathering=replace(
                    gathering, round_id=kept.round_id, region=kept.region, kind=kept.kind
                ),
            )

    async def gathering(self, gathering_id: UUID) -> KnownGathering | None:
        return self.gatherings.get(gathering_id)

    async def cancel_gathering(self, gathering_id: UUID) -> None:
        known = self.gatherings.get(gathering_id)
        if known is not None:
            self.gatherings[gathering_id] = replace(known, cancelled=True)

    async def raise_gathering_sequence(self, gathering_id: UUID, sequence: int) -> None:
        known = self.gatherings.get(gathering_id)
        if known is not None and known.gathering.sequence < sequence:
            raised = replace(known.gathering, sequence=sequence)
            self.gatherings[gathering_id] = replace(known, gathering=raised)

    async def save_initiative(self, gathering_id: UUID, *, proposed_by_programme: bool) -> None:
        self.initiative[gathering_id] = proposed_by_programme

    async def proposed_by_programme(self, gathering_id: UUID) -> bool:
        return self.initiative.get(gathering_id, False)

    async def save_invitation(
        self,
        *,
        invitation_id: UUID,
        gathering_id: UUID,
        person_id: UUID | None,
        municipality_number: str | None,
        branch_id: str | None,
        role: str,
        active: bool,
    ) -> None:
        found = self.invitations.get(invitation_id)
        if found is not None:
            self.invitations[invitation_id] = (found[0], found[1], active)
            return
        target = InvitationTarget(str(person_id) if person_id else None, municipality_number, role)
        self.invitations[invitation_id] = (gathering_id, (target, branch_id), active)

    async def active_invitations(self, gathering_id: UUID) -> list[Invited]:
        return [
            invited
            for _, (gathering, invited, active) in sorted(self.invitations.items())
            if gathering == gathering_id and active
        ]

    # --- programme management's settings ---------------------------------------------------

    async def set_opt_out(self, person_id: UUID, opted_out: bool) -> None:
        if opted_out:
            self.opted_out_persons.add(person_id)
        else:
            self.opted_out_persons.discard(person_id)

    async def opted_out(self, person_ids: Sequence[str]) -> set[str]:
        return {p for p in person_ids if UUID(p) in self.opted_out_persons}

    async def save_supervisor(
        self, supervisor_id: str, *, name: str, email: str, language: str
    ) -> None:
        self.supervisors[supervisor_id] = {"name": name, "email": email, "language": language}

    async def delete_supervisor(self, supervisor_id: str) -> bool:
        for d in self.deliveries:
            if d.mail.supervisor_id == supervisor_id and d.status == "pending":
                d.status = "cancelled"
        return self.supervisors.pop(supervisor_id, None) is not None
