"""Mellomarbeid: set after a samling by programme management, reported by each board."""

from __future__ import annotations

import uuid

from services.scheduling.domain.model import interim_work_after, require_work, work_exists
from services.scheduling.handlers.context import Context
from shared.contracts.events.scheduling import (
    GroupRecipient,
    InterimWorkReported,
    InterimWorkSet,
    ReportInterimWork,
    SetInterimWork,
)
from shared.messaging.bus import UnitOfWork


async def set_interim_work(cmd: SetInterimWork, uow: UnitOfWork, ctx: Context) -> InterimWorkSet:
    unit = ctx.unit(uow)
    work = interim_work_after(
        await unit.gatherings.get(cmd.after_gathering_id, lock=False),
        cmd.after_gathering_id,
        work_id=cmd.interim_work_id or uuid.uuid4(),
        title=cmd.title,
        description=cmd.description,
        due_on=cmd.due_on,
        now=ctx.clock(),
    )
    state = await unit.region_state(work.round_id, work.region)
    if not await unit.interim_work.add(work):
        raise work_exists(work.id)
    event = InterimWorkSet(
        interim_work_id=work.id,
        round_id=work.round_id,
        region=work.region,
        after_gathering_id=work.after_gathering_id,
        title=work.title,
        description=work.description,
        due_on=work.due_on,
        set_at=work.set_at,
        municipality_numbers=sorted(state.groups),
        recipients=[
            GroupRecipient(person_id=m.person_id, municipality_number=number, role=m.role)
            for number in sorted(state.groups)
            for m in state.groups[number]
        ],
    )
    await unit.emit(ctx.events, event)
    return event


async def report_interim_work(
    cmd: ReportInterimWork, uow: UnitOfWork, ctx: Context
) -> InterimWorkReported:
    unit = ctx.unit(uow)
    work = require_work(await unit.interim_work.get(cmd.interim_work_id), cmd.interim_work_id)
    work.require_region(ctx.region(cmd.region).id)
    now = ctx.clock()
    reported = work.reported(
        await unit.participants.get(work.round_id, cmd.municipality_number),
        cmd.municipality_number,
        cmd.report,
        now,
    )
    await unit.interim_work.save(reported)
    event = InterimWorkReported(
        interim_work_id=work.id,
        round_id=work.round_id,
        region=work.region,
        municipality_number=cmd.municipality_number,
        report=cmd.report,
        reported_at=now,
        late=work.late(now),
    )
    await unit.emit(ctx.events, event)
    return event
