"""Dialogue meetings on a board's request, and supervision (veiledning) bookings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from uuid import UUID

from services.scheduling.adapters.unit import Unit
from services.scheduling.domain.calendar import Slot
from services.scheduling.domain.gatherings import Gathering, check_supervisor_free
from services.scheduling.domain.model import (
    DialogueRequest,
    Guest,
    Origin,
    own_request_exists,
    request_exists,
    require_admitted,
    require_guest,
    require_request,
    require_round,
)
from services.scheduling.handlers.context import Context
from services.scheduling.handlers.gatherings import create_gathering, venue_json
from services.scheduling.handlers.invitations import withdraw_person
from shared.contracts.events.scheduling import (
    BookSupervision,
    DialogueMeetingRequested,
    DialogueMeetingScheduled,
    EraseGuest,
    GatheringKind,
    GuestContact,
    GuestErased,
    ProposeDialogueMeeting,
    RequestDialogueMeeting,
    ScheduleDialogueMeeting,
    SupervisionBooked,
    Venue,
)
from shared.contracts.events.scheduling import Guest as GuestData
from shared.messaging.bus import UnitOfWork
from shared.runtime.commands import acting


def _requested_by() -> str | None:
    principal = acting()
    return principal.name if principal is not None else None


async def request_dialogue_meeting(
    cmd: RequestDialogueMeeting, uow: UnitOfWork, ctx: Context
) -> DialogueMeetingRequested:
    ctx.region(cmd.region)
    unit = ctx.unit(uow)
    require_round(await unit.rounds.get(cmd.round_id), cmd.round_id)
    request = DialogueRequest(
        id=cmd.request_id or uuid.uuid4(),
        round_id=cmd.round_id,
        region=cmd.region,
        topic=cmd.topic,
        wished_dates=tuple(cmd.wished_dates),
        requested_at=ctx.clock(),
        requested_by=_requested_by(),
    )
    if not await unit.requests.add(request):
        raise request_exists(request.id)
    event = DialogueMeetingRequested(
        request_id=request.id,
        round_id=request.round_id,
        region=request.region,
        topic=request.topic,
        wished_dates=list(request.wished_dates),
        requested_at=request.requested_at,
    )
    await unit.emit(ctx.events, event)
    return event


async def invite_guests(unit: Unit, ctx: Context, guests: Sequence[GuestData]) -> list[UUID]:
    """Keep each guest (one person id per address) and tell notification their contact data
    on the restricted contacts topic; the events name them by id only."""
    person_ids = []
    for guest in guests:
        person_id = await unit.guests.save(
            Guest(
                person_id=uuid.uuid4(),
                name=guest.name,
                email=str(guest.email),
                language=guest.language.value,
                organisation=guest.organisation,
            )
        )
        await unit.emit(
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
    unit = ctx.unit(uow)
    now = ctx.clock()
    require_guest(await unit.guests.get(cmd.person_id), cmd.person_id)
    await withdraw_person(unit, ctx, cmd.person_id, "personal data erased")
    await unit.guests.remove(cmd.person_id, ctx.contacts)
    await unit.tombstone(
        ctx.contacts, str(cmd.person_id), f"tombstone:{cmd.person_id}:{now.isoformat()}"
    )
    event = GuestErased(person_id=cmd.person_id, erased_at=now)
    await unit.emit(ctx.events, event)
    return event


async def _meet(
    unit: Unit,
    ctx: Context,
    *,
    request: DialogueRequest,
    gathering_id: UUID | None,
    title: str | None,
    venue: Venue,
    slot: Slot,
    capacity: int | None,
    also_invite: list[str],
    guests: Sequence[GuestData],
    proposed: bool,
) -> DialogueMeetingScheduled:
    """The dialogmøte that answers `request` (a board's, or the one made for a proposal)."""
    gathering, _ = await create_gathering(
        unit,
        ctx,
        Gathering(
            id=gathering_id or uuid.uuid4(),
            round_id=request.round_id,
            region=request.region,
            kind=GatheringKind.DIALOGMOTE,
            title=title or f"Dialogmøte: {request.topic}"[:200],
            venue=venue_json(venue),
            slot=slot,
            capacity=capacity,
            also_invite=tuple(also_invite),
            request_id=request.id,
            guests=tuple(await invite_guests(unit, ctx, guests)),
        ),
        proposed=proposed,
    )
    await unit.requests.save(request.answered_by(gathering.id))
    event = DialogueMeetingScheduled(
        request_id=request.id,
        gathering_id=gathering.id,
        region=gathering.region,
        starts_at=gathering.slot.local_start,
        ends_at=gathering.slot.local_end,
        proposed_by_programme=proposed,
    )
    await unit.emit(ctx.events, event)
    return event


async def schedule_dialogue_meeting(
    cmd: ScheduleDialogueMeeting, uow: UnitOfWork, ctx: Context
) -> DialogueMeetingScheduled:
    unit = ctx.unit(uow)
    request = require_request(await unit.requests.get(cmd.request_id), cmd.request_id)
    return await _meet(
        unit,
        ctx,
        request=request.require_unanswered(),
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
    unit = ctx.unit(uow)
    slot = Slot.of(cmd.starts_at, cmd.ends_at)
    request = DialogueRequest(
        id=cmd.request_id or uuid.uuid4(),
        round_id=cmd.round_id,
        region=cmd.region,
        topic=cmd.topic,
        wished_dates=(slot.local_start.date(),),
        requested_at=ctx.clock(),
        origin=Origin.PROGRAMME,
        requested_by=_requested_by(),
    )
    if not await unit.requests.add(request):
        raise own_request_exists(request.id)
    return await _meet(
        unit,
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
    unit = ctx.unit(uow)
    found = require_admitted(
        await unit.participants.get(cmd.round_id, cmd.municipality_number),
        round_id=cmd.round_id,
        name=ctx.municipality(cmd.municipality_number),
    )
    slot = Slot.of(cmd.starts_at, cmd.ends_at)
    # One booking of a supervisor at a time: the lock makes check-then-insert safe.
    await unit.lock_supervisor(cmd.supervisor_id)
    check_supervisor_free(
        cmd.supervisor_id, slot, await unit.gatherings.supervisor_slots(cmd.supervisor_id)
    )
    gathering, _ = await create_gathering(
        unit,
        ctx,
        Gathering(
            id=cmd.gathering_id or uuid.uuid4(),
            round_id=cmd.round_id,
            region=found.branch_id,
            kind=GatheringKind.VEILEDNING,
            title=cmd.title,
            venue=venue_json(cmd.venue),
            slot=slot,
            municipality_number=cmd.municipality_number,
            supervisor_id=cmd.supervisor_id,
        ),
    )
    event = SupervisionBooked(
        gathering_id=gathering.id,
        round_id=cmd.round_id,
        region=gathering.region,
        municipality_number=cmd.municipality_number,
        supervisor_id=cmd.supervisor_id,
        starts_at=gathering.slot.local_start,
        ends_at=gathering.slot.local_end,
    )
    await unit.emit(ctx.events, event)
    return event
