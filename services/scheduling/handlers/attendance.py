"""Answers before a gathering (RSVP) and who came after it (attendance)."""

from __future__ import annotations

from services.scheduling.domain.gatherings import invitee_of, require_found
from services.scheduling.domain.invitations import Invitee
from services.scheduling.handlers.context import Context
from shared.contracts.events.scheduling import (
    AttendanceRecorded,
    InviteeRole,
    RecordAttendance,
    RecordRsvp,
    RsvpRecorded,
)
from shared.messaging.bus import UnitOfWork


async def record_rsvp(cmd: RecordRsvp, uow: UnitOfWork, ctx: Context) -> RsvpRecorded:
    unit = ctx.unit(uow)
    gathering = require_found(await unit.gatherings.get(cmd.gathering_id), cmd.gathering_id)
    gathering.require_region(cmd.region, ctx.region_names)
    answered, event = gathering.answered(
        invitee_of(person_id=cmd.person_id, municipality_number=cmd.municipality_number),
        cmd.response,
        now=ctx.clock(),
        name=ctx.municipality(str(cmd.municipality_number)),
    )
    await unit.gatherings.save(answered)
    await unit.emit(ctx.events, event)
    return event


async def record_attendance(
    cmd: RecordAttendance, uow: UnitOfWork, ctx: Context
) -> AttendanceRecorded:
    unit = ctx.unit(uow)
    gathering = require_found(await unit.gatherings.get(cmd.gathering_id), cmd.gathering_id)
    gathering.require_region(cmd.region, ctx.region_names)
    present = [Invitee.person(p, InviteeRole.OTHER).key for p in cmd.present_persons]
    present += [Invitee.municipality(m).key for m in cmd.present_municipalities]
    attended, event = gathering.attended(present, now=ctx.clock(), names=ctx.municipality_names)
    await unit.gatherings.save(attended)
    await unit.emit(ctx.events, event)
    return event
