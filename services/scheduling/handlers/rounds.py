"""The rounds registration opens, closes and cancels, and the semesters planned in them."""

from __future__ import annotations

from services.scheduling.domain.model import Round, Semester, require_round, round_opened
from services.scheduling.handlers.context import Context
from shared.contracts.events.registration import RoundClosed, RoundOpened
from shared.contracts.events.scheduling import PlanSemester, SemesterPlanned
from shared.messaging.bus import UnitOfWork


async def on_round_opened(event: RoundOpened, uow: UnitOfWork, ctx: Context) -> None:
    unit = ctx.unit(uow)
    opened = round_opened(await unit.rounds.get(event.round_id), event.round_id)
    if opened is not None:
        await unit.rounds.save(opened)


async def on_round_closed(event: RoundClosed, uow: UnitOfWork, ctx: Context) -> None:
    await ctx.unit(uow).rounds.save(Round(event.round_id, event.state))


async def plan_semester(cmd: PlanSemester, uow: UnitOfWork, ctx: Context) -> SemesterPlanned:
    ctx.region(cmd.region)
    unit = ctx.unit(uow)
    require_round(await unit.rounds.get(cmd.round_id), cmd.round_id)
    await unit.semesters.save(
        Semester(cmd.round_id, cmd.region, cmd.number, cmd.starts_on, cmd.ends_on)
    )
    event = SemesterPlanned(**cmd.model_dump())
    await unit.emit(ctx.events, event)
    return event
