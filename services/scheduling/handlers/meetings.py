"""Dialogue meetings on a board's request, and supervision (veiledning) bookings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from services.scheduling.adapters import repository as repo
from services.scheduling.domain.calendar import OSLO, Slot
from services.scheduling.handlers.context import Context
from services.scheduling.handlers.gatherings import check_supervisor_free, create_gathering
from services.scheduling.handlers.invitations import invitation_facts
from services.scheduling.handlers.rounds import require_round
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.scheduling import (
    BookSupervision,
    DialogueMeetingRequested,
    DialogueMeetingScheduled,
    EraseGuest,
    GatheringKind,
    Guest,
    GuestContact,
    GuestErased,
    InvitationWithdrawn,
    ProposeDialogueMeeting,
    RequestDialogueMeeting,
    ScheduleDialogueMeeting,
    SupervisionBooked,
    Venue,
)
from shared.messaging.bus import UnitOfWork
from shared.messaging.outbox import add_to_outbox
from shared.runtime.commands import acting


def _requested_by() -> str | None:
    principal = acting()
    return principal.name if principal is not None else None


async def request_dialogue_meeting(
    cmd: RequestDialogueMeeting, uow: UnitOfWork, ctx: Context
) -> DialogueMeetingRequested:
    ctx.region(cmd.region)
    await require_round(uow, cmd.round_id)
    request_id = cmd.request_id or uuid.uuid4()
    now = ctx.clock()
    if not await repo.insert_request(
        uow.conn,
        id=request_id,
        round_id=cmd.round_id,
        region=cmd.region,
        topic=cmd.topic,
        wished_dates=cmd.wished_dates,
        requested_at=now,
        requested_by=_requested_by(),
    ):
        raise Conflict(
            f"a dialogue meeting request {request_id} exists already",
            nb="Det finnes allerede en forespørsel om dialogmøte med denne id-en.",
            nn="Det finst alt ein førespurnad om dialogmøte med denne id-en.",
            field="request_id",
            slug="already-exists",
        )
    event = DialogueMeetingRequested(
        request_id=request_id,
        round_id=cmd.round_id,
        region=cmd.region,
        topic=cmd.topic,
        wished_dates=cmd.wished_dates,
        requested_at=now,
    )
    await uow.emit(ctx.events, event)
    return event


async def invite_guests(uow: UnitOfWork, ctx: Context, guests: Sequence[Guest]) -> list[UUID]:
    """Keep each guest (one person id per address) and tell notification their contact data
    on the restricted contacts topic; the events name them by id only."""
    person_ids = []
    for guest in guests:
        person_id = await repo.save_guest(
            uow.conn,
            person_id=uuid.uuid4(),
            name=guest.name,
            email=str(guest.email),
            language=guest.language.value,
            organisation=guest.organisation,
        )
        await uow.emit(
            ctx.contacts,
            GuestContact(
                person_id=person_id,
                name=guest.name,
                email=guest.email,
                language=guest.language,
                organisation=guest.organisation,
            ),
        )
        person_ids.append(person_id)
    return person_ids


async def erase_guest(cmd: EraseGuest, uow: UnitOfWork, ctx: Context) -> GuestErased:
    """Their invitations ahead withdrawn, their name and address gone, downstream told."""
    now = ctx.clock()
    ahead = await repo.gatherings_ahead_of_person(uow.conn, cmd.person_id, now)
    if not await repo.erase_guest(uow.conn, cmd.person_id, ctx.contacts):
        raise NotFound(f"no guest {cmd.person_id}")
    reason = "personal data erased"
    for gathering in ahead:
        withdrawn = await repo.withdraw_invitation(
            uow.conn, gathering["id"], f"person:{cmd.person_id}", reason
        )
        if withdrawn is not None:
            await uow.emit(
                ctx.events,
                InvitationWithdrawn(**invitation_facts(gathering, withdrawn), reason=reason),
            )
    await add_to_outbox(
        uow.conn,
        topic=ctx.contacts,
        key=str(cmd.person_id),
        envelope=None,
        tombstone_id=f"tombstone:{cmd.person_id}:{now.isoformat()}",
    )
    event = GuestErased(person_id=cmd.person_id, erased_at=now)
    await uow.emit(ctx.events, event)
    return event


async def _meet(
    uow: UnitOfWork,
    ctx: Context,
    *,
    request: Any,
    gathering_id: UUID | None,
    title: str | None,
    venue: Venue,
    slot: Slot,
    capacity: int | None,
    also_invite: list[str],
    guests: Sequence[Guest],
    proposed: bool,
) -> DialogueMeetingScheduled:
    """The dialogmøte that answers `request` (a board's, or the one made for a proposal)."""
    row, _ = await create_gathering(
        uow,
        ctx,
        gathering_id=gathering_id,
        round_id=request["round_id"],
        region=request["region"],
        kind=GatheringKind.DIALOGMOTE,
        title=title or f"Dialogmøte: {request['topic']}"[:200],
        venue=venue,
        slot=slot,
        capacity=capacity,
        also_invite=also_invite,
        request_id=request["id"],
        guests=await invite_guests(uow, ctx, guests),
        proposed=proposed,
    )
    await repo.answer_request(uow.conn, request["id"], row["id"])
    event = DialogueMeetingScheduled(
        request_id=request["id"],
        gathering_id=row["id"],
        region=row["region"],
        starts_at=row["starts_at"].astimezone(OSLO),
        ends_at=row["ends_at"].astimezone(OSLO),
        proposed_by_programme=proposed,
    )
    await uow.emit(ctx.events, event)
    return event


async def schedule_dialogue_meeting(
    cmd: ScheduleDialogueMeeting, uow: UnitOfWork, ctx: Context
) -> DialogueMeetingScheduled:
    request = await repo.get_request(uow.conn, cmd.request_id, lock=True)
    if request is None:
        raise NotFound(
            f"no dialogue meeting request {cmd.request_id}",
            nb="Forespørselen om dialogmøte finnes ikke.",
            nn="Førespurnaden om dialogmøte finst ikkje.",
            field="request_id",
        )
    if request["gathering_id"] is not None:
        raise Conflict(
            f"the request is answered already: gathering {request['gathering_id']}",
            nb="Forespørselen er allerede besvart med et dialogmøte.",
            nn="Førespurnaden er alt svara med eit dialogmøte.",
            field="request_id",
            slug="already-answered",
        )
    return await _meet(
        uow,
        ctx,
        request=request,
        gathering_id=cmd.gathering_id,
        title=cmd.title,
        venue=cmd.venue,
        slot=Slot.of(cmd.starts_at, cmd.ends_at),
        capacity=cmd.capacity,
        also_invite=cmd.also_invite,
        guests=cmd.guests,
        proposed=False,
    )


async def propose_dialogue_meeting(
    cmd: ProposeDialogueMeeting, uow: UnitOfWork, ctx: Context
) -> DialogueMeetingScheduled:
    """Programme management's own initiative: a request of its own, answered at once (so a
    dialogmøte always has a request, and the list shows who took the initiative)."""
    ctx.region(cmd.region)
    request_id = cmd.request_id or uuid.uuid4()
    slot = Slot.of(cmd.starts_at, cmd.ends_at)
    if not await repo.insert_request(
        uow.conn,
        id=request_id,
        round_id=cmd.round_id,
        region=cmd.region,
        topic=cmd.topic,
        wished_dates=[slot.local_start.date()],
        requested_at=ctx.clock(),
        origin="programme",
        requested_by=_requested_by(),
    ):
        raise Conflict(f"a dialogue meeting request {request_id} exists already")
    request = await repo.get_request(uow.conn, request_id, lock=True)
    return await _meet(
        uow,
        ctx,
        request=request,
        gathering_id=cmd.gathering_id,
        title=cmd.title,
        venue=cmd.venue,
        slot=slot,
        capacity=cmd.capacity,
        also_invite=cmd.also_invite,
        guests=cmd.guests,
        proposed=True,
    )


async def book_supervision(
    cmd: BookSupervision, uow: UnitOfWork, ctx: Context
) -> SupervisionBooked:
    found = await repo.participant(uow.conn, cmd.round_id, cmd.municipality_number)
    if found is None or found["status"] != "admitted":
        name = ctx.municipality(cmd.municipality_number)
        raise DomainError(
            f"{name} is not admitted to round {cmd.round_id}: "
            "veiledning is for participating municipalities",
            nb=f"{name} er ikke tatt opp i runde {cmd.round_id}: "
            "veiledning er for kommunene som deltar.",
            nn=f"{name} er ikkje teken opp i runde {cmd.round_id}: "
            "rettleiing er for kommunane som deltek.",
            field="municipality_number",
            slug="not-admitted",
        )
    slot = Slot.of(cmd.starts_at, cmd.ends_at)
    # One booking of a supervisor at a time: the lock makes check-then-insert safe.
    await repo.lock_supervisor(uow.conn, cmd.supervisor_id)
    check_supervisor_free(
        cmd.supervisor_id, slot, await repo.supervisor_slots(uow.conn, cmd.supervisor_id)
    )
    row, _ = await create_gathering(
        uow,
        ctx,
        gathering_id=cmd.gathering_id,
        round_id=cmd.round_id,
        region=found["branch_id"],
        kind=GatheringKind.VEILEDNING,
        title=cmd.title,
        venue=cmd.venue,
        slot=slot,
        capacity=None,
        municipality_number=cmd.municipality_number,
        supervisor_id=cmd.supervisor_id,
    )
    event = SupervisionBooked(
        gathering_id=row["id"],
        round_id=cmd.round_id,
        region=row["region"],
        municipality_number=cmd.municipality_number,
        supervisor_id=cmd.supervisor_id,
        starts_at=row["starts_at"].astimezone(OSLO),
        ends_at=row["ends_at"].astimezone(OSLO),
    )
    await uow.emit(ctx.events, event)
    return event
