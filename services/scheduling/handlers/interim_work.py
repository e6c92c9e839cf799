"""Mellomarbeid: set after a samling by programme management, reported by each board."""

from __future__ import annotations

import uuid

from services.scheduling.domain.interim_work import require_after_samling
from services.scheduling.domain.model import InterimWork
from services.scheduling.handlers.context import Context
from shared.contracts.errors import Conflict, DomainError, NotFound
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
    after = await unit.gatherings.get(cmd.after_gathering_id, lock=False)
    if after is None:
        raise NotFound(f"no gathering {cmd.after_gathering_id}")
    require_after_samling(after.kind.value, after.status.value, after.slot.ends_at, cmd.due_on)
    state = await unit.region_state(after.round_id, after.region)
    work = InterimWork(
        id=cmd.interim_work_id or uuid.uuid4(),
        round_id=after.round_id,
        region=after.region,
        after_gathering_id=after.id,
        title=cmd.title,
        description=cmd.description,
        due_on=cmd.due_on,
        set_at=ctx.clock(),
    )
    if not await unit.interim_work.add(work):
        raise Conflict(f"interim work {work.id} is already set")
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
    work = await unit.interim_work.get(cmd.interim_work_id)
    if work is None:
        raise NotFound(f"no interim work {cmd.interim_work_id}")
    if work.region != ctx.region(cmd.region).id:
        raise DomainError(f"the interim work is in the region {work.region}, not {cmd.region}")
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
