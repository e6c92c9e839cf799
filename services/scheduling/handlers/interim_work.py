"""Mellomarbeid: set after a samling by programme management, reported by each board."""

from __future__ import annotations

import uuid

from services.scheduling.adapters import interim_work as store
from services.scheduling.adapters import repository as repo
from services.scheduling.domain.interim_work import is_late, require_after_samling
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
    after = await repo.get_gathering(uow.conn, cmd.after_gathering_id)
    if after is None:
        raise NotFound(f"no gathering {cmd.after_gathering_id}")
    require_after_samling(after["kind"], after["status"], after["ends_at"], cmd.due_on)
    the_id = cmd.interim_work_id or uuid.uuid4()
    now = ctx.clock()
    state = await repo.region_state(uow.conn, after["round_id"], after["region"])
    added = await store.insert(
        uow.conn,
        id=the_id,
        round_id=after["round_id"],
        region=after["region"],
        after_gathering_id=after["id"],
        title=cmd.title,
        description=cmd.description,
        due_on=cmd.due_on,
        set_at=now,
    )
    if not added:
        raise Conflict(f"interim work {the_id} is already set")
    event = InterimWorkSet(
        interim_work_id=the_id,
        round_id=after["round_id"],
        region=after["region"],
        after_gathering_id=after["id"],
        title=cmd.title,
        description=cmd.description,
        due_on=cmd.due_on,
        set_at=now,
        municipality_numbers=sorted(state.groups),
        recipients=[
            GroupRecipient(person_id=m.person_id, municipality_number=number, role=m.role)
            for number in sorted(state.groups)
            for m in state.groups[number]
        ],
    )
    await uow.emit(ctx.events, event)
    return event


async def report_interim_work(
    cmd: ReportInterimWork, uow: UnitOfWork, ctx: Context
) -> InterimWorkReported:
    work = await store.get(uow.conn, cmd.interim_work_id)
    if work is None:
        raise NotFound(f"no interim work {cmd.interim_work_id}")
    if work["region"] != ctx.region(cmd.region).id:
        raise DomainError(f"the interim work is in the region {work['region']}, not {cmd.region}")
    found = await repo.participant(uow.conn, work["round_id"], cmd.municipality_number)
    # Admitted, or admitted once: work done before leaving may still be reported.
    if (
        found is None
        or found["branch_id"] != work["region"]
        or found["status"] not in ("admitted", "withdrawn")
    ):
        raise DomainError(
            f"{cmd.municipality_number} is not an admitted municipality of {work['region']}"
        )
    now = ctx.clock()
    await store.save_report(uow.conn, work["id"], cmd.municipality_number, cmd.report, now)
    event = InterimWorkReported(
        interim_work_id=work["id"],
        round_id=work["round_id"],
        region=work["region"],
        municipality_number=cmd.municipality_number,
        report=cmd.report,
        reported_at=now,
        late=is_late(work["due_on"], now),
    )
    await uow.emit(ctx.events, event)
    return event
