"""Dialogue meetings on a board's request, and supervision (veiledning) bookings."""

from __future__ import annotations

import uuid

from services.scheduling.adapters import repository as repo
from services.scheduling.domain.calendar import OSLO, Slot
from services.scheduling.domain.errors import Conflict, DomainError, NotFound
from services.scheduling.handlers.context import Context
from services.scheduling.handlers.gatherings import check_supervisor_free, create_gathering
from services.scheduling.handlers.rounds import require_round
from shared.events.scheduling import (
    BookSupervision,
    DialogueMeetingRequested,
    DialogueMeetingScheduled,
    GatheringKind,
    RequestDialogueMeeting,
    ScheduleDialogueMeeting,
    SupervisionBooked,
)
from shared.messaging import UnitOfWork


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
    row, _ = await create_gathering(
        uow,
        ctx,
        gathering_id=cmd.gathering_id,
        round_id=request["round_id"],
        region=request["region"],
        kind=GatheringKind.DIALOGMOTE,
        title=cmd.title or f"Dialogmøte: {request['topic']}"[:200],
        venue=cmd.venue,
        slot=Slot.of(cmd.starts_at, cmd.ends_at),
        capacity=cmd.capacity,
        also_invite=cmd.also_invite,
        request_id=cmd.request_id,
    )
    await repo.answer_request(uow.conn, cmd.request_id, row["id"])
    event = DialogueMeetingScheduled(
        request_id=cmd.request_id,
        gathering_id=row["id"],
        region=row["region"],
        starts_at=row["starts_at"].astimezone(OSLO),
        ends_at=row["ends_at"].astimezone(OSLO),
    )
    await uow.emit(ctx.events, event)
    return event


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
