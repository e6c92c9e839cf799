"""Events in; projections, reminders and planned mails out, inside one unit of work.

Each handler loads what it needs from the projections, lets the pure rules in `domain/`
decide which mails the event causes, and stores them under the event's id: a redelivered
event plans nothing twice (the inbox skips it, and deliveries are unique per event,
recipient and template).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.notification.adapters import repository as repo
from services.notification.domain import messages as rules
from services.notification.domain.messages import Board, Gathering, InvitationTarget, Member, Places
from services.notification.domain.reminders import ReminderKind, plan
from shared.contracts.events import registration as reg
from shared.contracts.events import scheduling as sched
from shared.messaging.bus import Handler, Rejected, Tombstone, UnitOfWork, tombstone_handler
from shared.runtime import answer_links

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    programme_mailbox: str
    # The restricted, compacted topic of contact details: a tombstone there erases the person.
    contacts_topic: str
    places: Places
    # Scheduling's restricted, compacted topic of invited guests' contact details.
    guest_contacts_topic: str = ""
    gathering_reminder_days: tuple[int, ...] = (7, 1)
    deadline_reminder_days: tuple[int, ...] = (7, 1)
    clock: Callable[[], datetime] = field(default=_now)
    # Answer links in invitations (shared.runtime.answer_links); either empty: none.
    answer_secret: str = field(default="", repr=False)
    answer_base_url: str = ""

    def answer_links(self, invitation_id: uuid.UUID, expires_at: datetime) -> dict[str, str]:
        """yes/no/maybe -> the signed link to scheduling's answer form, valid until the end."""
        if not (self.answer_secret and self.answer_base_url):
            return {}
        token = answer_links.sign(invitation_id, expires_at, self.answer_secret)
        url = f"{self.answer_base_url}/answers/{token}"
        return {r.value: f"{url}?response={r.value}" for r in sched.Rsvp}


async def _plan(uow: UnitOfWork, mails: list[rules.PlannedMail]) -> None:
    await repo.plan_deliveries(uow.conn, event_id=uow.caused_by.id, mails=mails)


def _data(event: Any) -> dict[str, Any]:
    data: dict[str, Any] = event.model_dump(mode="json")
    return data


def _members(refs: Any) -> list[Member]:
    return [Member(str(r.person_id), str(r.role)) for r in refs]


async def _boards_for(
    conn: asyncpg.Connection, targets: list[tuple[InvitationTarget, str | None]]
) -> dict[str, Board]:
    """The board that speaks for each municipality invited as such (it has no group yet)."""
    found: dict[str, Board] = {}
    for target, branch_id in targets:
        number = target.municipality_number
        if target.person_id or not number or number in found:
            continue
        board = await repo.board_of_branch(conn, branch_id) or await repo.board_of_county(
            conn, number[:2]
        )
        if board is not None:
            found[number] = board
    return found


def make_handlers(ctx: Context) -> dict[str, Handler]:
    """The one table of what this service handles."""
    places = ctx.places

    # --- contacts and erasure -------------------------------------------------------------

    async def on_contact_details(contact: reg.ContactDetails, uow: UnitOfWork) -> None:
        kept = await repo.upsert_recipient(
            uow.conn,
            person_id=contact.person_id,
            name=contact.name,
            email=str(contact.email),
            language=contact.language.value,
        )
        if not kept:
            # Late or redelivered: an erased person stays erased.
            log.info("contact details of an erased person ignored", extra={"person": contact.key()})
        handed = getattr(contact, "handed_over", None)  # newer contact records say so
        if handed is not None:
            # Told even if the erasure that follows it was already seen on the public topic;
            # the mail keeps the address until it is sent, then nothing of theirs stays.
            handover = rules.Handover(
                str(handed.registration_id),
                handed.round_id,
                handed.branch_name,
                str(contact.person_id),
                str(handed.new_contact_person_id),
            )
            mails = handover.mails(
                name=contact.name, address=str(contact.email), language=contact.language.value
            )
            await repo.plan_deliveries(uow.conn, event_id=handover.key, mails=mails)

    async def on_guest_contact(contact: sched.GuestContact, uow: UnitOfWork) -> None:
        kept = await repo.upsert_recipient(
            uow.conn,
            person_id=contact.person_id,
            name=contact.name,
            email=str(contact.email),
            language=contact.language.value,
        )
        if not kept:
            log.info("contact details of an erased guest ignored", extra={"person": contact.key()})

    async def on_guest_erased(event: sched.GuestErased, uow: UnitOfWork) -> None:
        await repo.erase_recipient(uow.conn, event.person_id)

    async def on_person_erased(event: reg.PersonErased, uow: UnitOfWork) -> None:
        await repo.erase_recipient(uow.conn, event.person_id)

    async def on_contact_tombstone(tombstone: Tombstone, uow: UnitOfWork) -> None:
        try:
            person_id = uuid.UUID(tombstone.key)
        except ValueError as error:
            raise Rejected(f"a contacts tombstone's key must be a person id: {error}") from error
        await repo.erase_recipient(uow.conn, person_id)

    # --- interest, rounds and deadlines ------------------------------------------------------

    async def on_interest(
        event: reg.InterestRegistered | reg.InterestUpdated, uow: UnitOfWork
    ) -> None:
        updated = isinstance(event, reg.InterestUpdated)
        await repo.save_board_and_interest(
            uow.conn,
            branch_id=event.branch_id,
            branch_name=event.branch_name,
            county_numbers=event.county_numbers,
            person_id=event.contact_person_id,
            round_id=event.round_id,
            municipality_numbers=event.municipality_numbers,
        )
        data = _data(event)
        mails = rules.mails_for_interest_registered(
            data, programme_mailbox=ctx.programme_mailbox, updated=updated, places=places
        )
        await _plan(uow, mails)

    async def deadline_reminders(
        conn: asyncpg.Connection,
        round_id: str,
        kind: str,
        county: str | None,
        closes_at: datetime,
        deadline: Any,
    ) -> None:
        reminder = (
            ReminderKind.INTEREST_DEADLINE
            if kind == "interest"
            else ReminderKind.APPLICATION_DEADLINE
        )
        subject = round_id if kind == "interest" else f"{round_id}:{county}"
        found = plan(
            reminder, subject, str(deadline), closes_at, ctx.deadline_reminder_days, now=ctx.clock()
        )
        await repo.replace_reminders(conn, reminder, subject, found)

    async def on_round_opened(event: reg.RoundOpened, uow: UnitOfWork) -> None:
        await repo.save_deadline(
            uow.conn,
            round_id=event.round_id,
            kind="interest",
            county_number=None,
            deadline=event.interest_deadline,
            closes_at=event.interest_closes_at,
        )
        await deadline_reminders(
            uow.conn,
            event.round_id,
            "interest",
            None,
            event.interest_closes_at,
            event.interest_deadline,
        )
        if event.interest_closes_at <= ctx.clock():
            return  # opened after its deadline (on purpose): no invitation to meet it
        boards = await repo.all_boards(uow.conn)
        await round_letters(uow.conn, event.round_id, event.interest_deadline, boards)

    async def round_letters(
        conn: asyncpg.Connection, round_id: str, deadline: Any, boards: list[Board]
    ) -> None:
        """The round's letter to boards, once per round and person: under the round's own
        key, so the round's event and a board contact set around it (another partition, so
        in either order) never write it twice, nor miss a board."""
        facts = {"round_id": round_id, "interest_deadline": str(deadline)}
        mails = rules.mails_for_round_opened(
            facts, boards=boards, programme_mailbox=ctx.programme_mailbox
        )
        await repo.plan_deliveries(conn, event_id=f"round-opened:{round_id}", mails=mails)

    async def on_branch_contact_set(event: reg.BranchContactSet, uow: UnitOfWork) -> None:
        await repo.save_board(
            uow.conn,
            branch_id=event.branch_id,
            branch_name=event.branch_name,
            county_numbers=event.county_numbers,
            person_id=event.contact_person_id,
        )
        board = Board(event.branch_id, event.branch_name, str(event.contact_person_id))
        for found in await repo.rounds_taking_interest(uow.conn, ctx.clock()):
            await round_letters(uow.conn, found["round_id"], found["deadline"], [board])

    async def on_round_closed(event: reg.RoundClosed, uow: UnitOfWork) -> None:
        """Closed or cancelled: no more interest or applications, so no deadline reminders."""
        await repo.drop_round_reminders(uow.conn, event.round_id)
        await repo.close_round(uow.conn, event.round_id)

    async def on_window_opened(event: reg.ApplicationWindowOpened, uow: UnitOfWork) -> None:
        await repo.save_deadline(
            uow.conn,
            round_id=event.round_id,
            kind="application",
            county_number=event.county_number,
            deadline=event.deadline,
            closes_at=event.closes_at,
        )
        await deadline_reminders(
            uow.conn,
            event.round_id,
            "application",
            event.county_number,
            event.closes_at,
            event.deadline,
        )
        board = await repo.board_of_county(uow.conn, event.county_number)
        await _plan(uow, rules.mails_for_window_opened(_data(event), board=board, places=places))

    async def on_deadline_extended(event: reg.DeadlineExtended, uow: UnitOfWork) -> None:
        kind = event.kind.value
        await repo.save_deadline(
            uow.conn,
            round_id=event.round_id,
            kind=kind,
            county_number=event.county_number,
            deadline=event.new_deadline,
            closes_at=event.closes_at,
        )
        await deadline_reminders(
            uow.conn, event.round_id, kind, event.county_number, event.closes_at, event.new_deadline
        )
        if kind == "interest":
            boards = await repo.all_boards(uow.conn)
        else:
            board = await repo.board_of_county(uow.conn, event.county_number)
            boards = [board] if board else []
        await _plan(
            uow, rules.mails_for_deadline_extended(_data(event), boards=boards, places=places)
        )

    # --- applications, decisions, groups -------------------------------------------------------

    async def on_application_submitted(event: reg.ApplicationSubmitted, uow: UnitOfWork) -> None:
        group = _members(event.group)
        await repo.save_application(
            uow.conn,
            round_id=event.round_id,
            municipality_number=event.municipality_number,
            county_number=event.county_number,
            branch_id=event.branch_id,
            status="submitted",
        )
        await repo.replace_group(uow.conn, event.round_id, event.municipality_number, group)
        board = await repo.board_of_branch(uow.conn, event.branch_id)
        mails = rules.mails_for_application_submitted(
            _data(event),
            board=board,
            group=group,
            programme_mailbox=ctx.programme_mailbox,
            places=places,
        )
        await _plan(uow, mails)

    async def decided(
        event: Any, uow: UnitOfWork, template: str, status: str, *, whole_group: bool, **facts: Any
    ) -> None:
        await repo.save_application(
            uow.conn,
            round_id=event.round_id,
            municipality_number=event.municipality_number,
            county_number=event.county_number,
            branch_id=event.branch_id,
            status=status,
        )
        group = await repo.group_of(uow.conn, event.round_id, event.municipality_number)
        board = await repo.board_of_branch(uow.conn, event.branch_id)
        mails = rules.mails_for_decision(
            template,
            _data(event),
            board=board,
            group=group,
            whole_group=whole_group,
            places=places,
            **facts,
        )
        await _plan(uow, mails)

    async def on_admitted(event: reg.MunicipalityAdmitted, uow: UnitOfWork) -> None:
        await repo.replace_group(
            uow.conn, event.round_id, event.municipality_number, _members(event.group)
        )
        template = "moved_up" if event.promoted_from_waitlist else "admitted"
        await decided(event, uow, template, "admitted", whole_group=True)

    async def on_waitlisted(event: reg.MunicipalityWaitlisted, uow: UnitOfWork) -> None:
        await decided(
            event, uow, "waitlisted", "waitlisted", whole_group=False, position=event.position
        )

    async def on_declined(event: reg.MunicipalityDeclined, uow: UnitOfWork) -> None:
        await decided(event, uow, "declined", "declined", whole_group=False, reason=event.reason)

    async def on_withdrawn(event: reg.MunicipalityWithdrawn, uow: UnitOfWork) -> None:
        await decided(
            event, uow, "withdrawal_confirmed", "withdrawn", whole_group=True, reason=event.reason
        )

    async def on_revoked(event: reg.AdmissionRevoked, uow: UnitOfWork) -> None:
        await decided(event, uow, "revoked", "revoked", whole_group=True, reason=event.reason)

    async def on_member_added(event: reg.GroupMemberAdded, uow: UnitOfWork) -> None:
        member = Member(str(event.person_id), event.role.value)
        await repo.add_member(uow.conn, event.round_id, event.municipality_number, member)
        county = event.municipality_number[:2]
        board = await repo.board_of_county(uow.conn, county)
        data = {**_data(event), "county_number": county}
        await _plan(uow, rules.mails_for_member_added(data, board=board, places=places))

    async def on_member_removed(event: reg.GroupMemberRemoved, uow: UnitOfWork) -> None:
        await repo.remove_member(
            uow.conn, event.round_id, event.municipality_number, event.person_id
        )

    # --- gatherings ------------------------------------------------------------------------------

    def gathering_of(event: Any) -> Gathering:
        venue = getattr(event, "venue", None)
        return Gathering(
            gathering_id=str(event.gathering_id),
            round_id=event.round_id,
            region=event.region,
            kind=event.kind.value,
            title=event.title,
            starts_at=event.starts_at.isoformat(),
            ends_at=event.ends_at.isoformat(),
            sequence=event.sequence,
            venue=venue.model_dump(mode="json") if venue is not None else {},
        )

    async def gathering_reminders(conn: asyncpg.Connection, gathering: Gathering) -> None:
        found = plan(
            ReminderKind.GATHERING,
            gathering.gathering_id,
            str(gathering.sequence),
            datetime.fromisoformat(gathering.starts_at),
            ctx.gathering_reminder_days,
            now=ctx.clock(),
        )
        await repo.replace_reminders(conn, ReminderKind.GATHERING, gathering.gathering_id, found)

    async def on_gathering_scheduled(event: sched.GatheringScheduled, uow: UnitOfWork) -> None:
        gathering = gathering_of(event)
        await repo.save_gathering(uow.conn, gathering)
        await gathering_reminders(uow.conn, gathering)
        if event.proposed_by_programme:
            await repo.save_initiative(uow.conn, event.gathering_id, proposed_by_programme=True)
        if event.arranged_by_branch:
            mails = rules.mails_for_delingsarena_arranged(
                gathering, programme_mailbox=ctx.programme_mailbox, places=places
            )
            await _plan(uow, mails)

    async def on_delingsarena_proposed(event: sched.DelingsarenaProposed, uow: UnitOfWork) -> None:
        mails = rules.mails_for_delingsarena_proposed(
            _data(event), programme_mailbox=ctx.programme_mailbox, places=places
        )
        await _plan(uow, mails)

    async def on_dialogue_requested(event: sched.DialogueMeetingRequested, uow: UnitOfWork) -> None:
        mails = rules.mails_for_dialogue_requested(
            _data(event), programme_mailbox=ctx.programme_mailbox, places=places
        )
        await _plan(uow, mails)

    async def on_invitation_issued(event: sched.InvitationIssued, uow: UnitOfWork) -> None:
        await repo.save_invitation(
            uow.conn,
            invitation_id=event.invitation_id,
            gathering_id=event.gathering_id,
            person_id=event.person_id,
            municipality_number=event.municipality_number,
            branch_id=event.branch_id,
            role=event.role.value,
            active=True,
        )
        row = await repo.gathering(uow.conn, event.gathering_id)
        if row is None:
            # The gathering's own event comes first on its partition; without it there is
            # nothing to say (title, venue) — a gap in the history, not a reason to stop.
            log.warning(
                "invitation for an unknown gathering", extra={"gathering": str(event.gathering_id)}
            )
            return
        if row["cancelled"]:
            return
        # A withdrawal in between raised the SEQUENCE: a re-invitation must carry at least it.
        gathering = dataclasses.replace(
            repo.gathering_of(row), sequence=max(row["sequence"], event.sequence)
        )
        target = InvitationTarget(
            str(event.person_id) if event.person_id else None,
            event.municipality_number,
            event.role.value,
        )
        boards = await _boards_for(uow.conn, [(target, event.branch_id)])
        role = event.role.value
        proposed = gathering.kind == "dialogmote" and await repo.proposed_by_programme(
            uow.conn, event.gathering_id
        )
        template = rules.invitation_template(gathering.kind, role, proposed_by_programme=proposed)
        facts: dict[str, Any] = {"guest": role == rules.GUEST_ROLE}
        if event.municipality_number:
            facts["municipality_name"] = places.municipality(event.municipality_number)
        due = getattr(event, "interim_work_due", None)  # newer invitations of a samling
        if due:
            facts["interim_work_due"] = [d.model_dump(mode="json") for d in due]
        links = ctx.answer_links(event.invitation_id, event.ends_at)
        if links:
            facts["answer_links"] = links
        mails = rules.mails_for_gathering(
            template, gathering, [target], board_of=boards, method="REQUEST", places=places, **facts
        )
        await _plan(uow, mails)

    async def on_invitation_withdrawn(event: sched.InvitationWithdrawn, uow: UnitOfWork) -> None:
        await repo.save_invitation(
            uow.conn,
            invitation_id=event.invitation_id,
            gathering_id=event.gathering_id,
            person_id=event.person_id,
            municipality_number=event.municipality_number,
            branch_id=event.branch_id,
            role=event.role.value,
            active=False,
        )
        row = await repo.gathering(uow.conn, event.gathering_id)
        if row is None or row["cancelled"]:
            return  # nothing in anyone's calendar from us, or its cancellation said it all
        # The withdrawal raised the gathering's SEQUENCE; the CANCEL carries it, so that
        # the calendar program removes the entry it holds.
        gathering = dataclasses.replace(
            repo.gathering_of(row), sequence=max(row["sequence"], event.sequence)
        )
        await repo.raise_gathering_sequence(uow.conn, event.gathering_id, gathering.sequence)
        target = InvitationTarget(
            str(event.person_id) if event.person_id else None,
            event.municipality_number,
            event.role.value,
        )
        remaining = await repo.active_invitations(uow.conn, event.gathering_id)
        boards = await _boards_for(uow.conn, [(target, event.branch_id), *remaining])
        found = rules.invitation_recipient(target, boards)
        if found is None or rules.still_invited(found[0], [t for t, _ in remaining], boards):
            return
        facts: dict[str, Any] = {}
        if event.municipality_number:
            facts["municipality_name"] = places.municipality(event.municipality_number)
        mails = rules.mails_for_gathering(
            "invitation_withdrawn",
            gathering,
            [target],
            board_of=boards,
            method="CANCEL",
            places=places,
            **facts,
        )
        await _plan(uow, mails)

    async def on_gathering_rescheduled(event: sched.GatheringRescheduled, uow: UnitOfWork) -> None:
        gathering = gathering_of(event)
        await repo.save_gathering(uow.conn, gathering)
        await gathering_reminders(uow.conn, gathering)
        targets = [
            (
                InvitationTarget(
                    str(i.person_id) if i.person_id else None, i.municipality_number, i.role.value
                ),
                i.branch_id,
            )
            for i in event.invitees
        ]
        boards = await _boards_for(uow.conn, targets)
        mails = rules.mails_for_gathering(
            "gathering_changed",
            gathering,
            [t for t, _ in targets],
            board_of=boards,
            method="REQUEST",
            places=places,
            previous_starts_at=event.previous_starts_at.isoformat(),
            reason=event.reason,
        )
        await _plan(uow, mails)

    async def on_gathering_cancelled(event: sched.GatheringCancelled, uow: UnitOfWork) -> None:
        row = await repo.gathering(uow.conn, event.gathering_id)
        venue = repo.gathering_of(row).venue if row is not None else {}
        await repo.cancel_gathering(uow.conn, event.gathering_id)
        await repo.drop_reminders(uow.conn, ReminderKind.GATHERING, str(event.gathering_id))
        gathering = Gathering(
            gathering_id=str(event.gathering_id),
            round_id=event.round_id,
            region=event.region,
            kind=event.kind.value,
            title=event.title,
            starts_at=event.starts_at.isoformat(),
            ends_at=event.ends_at.isoformat(),
            sequence=event.sequence,
            venue=venue,
        )
        targets = [
            (
                InvitationTarget(
                    str(i.person_id) if i.person_id else None, i.municipality_number, i.role.value
                ),
                i.branch_id,
            )
            for i in event.invitees
        ]
        boards = await _boards_for(uow.conn, targets)
        mails = rules.mails_for_gathering(
            "gathering_cancelled",
            gathering,
            [t for t, _ in targets],
            board_of=boards,
            method="CANCEL",
            places=places,
            reason=event.reason,
            cause=event.cause.value if event.cause else "",
            municipality_name=places.municipality(event.municipality_number or ""),
        )
        if event.supervisor_id is not None and event.cause is not None:
            # Released because its municipality left: the supervisor is free again.
            mails += rules.mails_for_supervision_released(
                gathering, event.supervisor_id, event.municipality_number, places
            )
        await _plan(uow, mails)

    async def on_supervision_booked(event: sched.SupervisionBooked, uow: UnitOfWork) -> None:
        row = await repo.gathering(uow.conn, event.gathering_id)
        if row is None:
            log.warning(
                "supervision of an unknown gathering", extra={"gathering": str(event.gathering_id)}
            )
            return
        mails = rules.mails_for_supervisor(repo.gathering_of(row), _data(event), places)
        await _plan(uow, mails)

    async def on_interim_work_set(event: sched.InterimWorkSet, uow: UnitOfWork) -> None:
        await _plan(uow, rules.mails_for_interim_work(_data(event), places=places))

    table: dict[str, Handler] = {
        reg.ContactDetails.TYPE: on_contact_details,
        reg.PersonErased.TYPE: on_person_erased,
        tombstone_handler(ctx.contacts_topic): on_contact_tombstone,
        reg.InterestRegistered.TYPE: on_interest,
        reg.InterestUpdated.TYPE: on_interest,
        reg.RoundOpened.TYPE: on_round_opened,
        reg.BranchContactSet.TYPE: on_branch_contact_set,
        reg.ApplicationWindowOpened.TYPE: on_window_opened,
        reg.DeadlineExtended.TYPE: on_deadline_extended,
        reg.ApplicationSubmitted.TYPE: on_application_submitted,
        reg.MunicipalityAdmitted.TYPE: on_admitted,
        reg.MunicipalityWaitlisted.TYPE: on_waitlisted,
        reg.MunicipalityDeclined.TYPE: on_declined,
        reg.MunicipalityWithdrawn.TYPE: on_withdrawn,
        reg.GroupMemberAdded.TYPE: on_member_added,
        reg.GroupMemberRemoved.TYPE: on_member_removed,
        sched.GatheringScheduled.TYPE: on_gathering_scheduled,
        sched.GatheringRescheduled.TYPE: on_gathering_rescheduled,
        sched.GatheringCancelled.TYPE: on_gathering_cancelled,
        sched.InvitationIssued.TYPE: on_invitation_issued,
        sched.InvitationWithdrawn.TYPE: on_invitation_withdrawn,
        sched.SupervisionBooked.TYPE: on_supervision_booked,
        sched.DialogueMeetingRequested.TYPE: on_dialogue_requested,
        sched.GuestContact.TYPE: on_guest_contact,
        sched.GuestErased.TYPE: on_guest_erased,
        sched.DelingsarenaProposed.TYPE: on_delingsarena_proposed,
        sched.InterimWorkSet.TYPE: on_interim_work_set,
    }
    if ctx.guest_contacts_topic:
        table[tombstone_handler(ctx.guest_contacts_topic)] = on_contact_tombstone
    table[reg.AdmissionRevoked.TYPE] = on_revoked
    table[reg.RoundClosed.TYPE] = on_round_closed
    return table
