"""Programme management's decisions, the board's withdrawals, revocations, the wait-list."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from services.registration.adapters.repositories import Repositories
from services.registration.domain import decisions as rules
from services.registration.domain.decisions import Application
from services.registration.domain.rounds import Round
from services.registration.handlers.applications import load_application
from services.registration.handlers.context import Context, actor, emit_all, load_round
from shared.contracts.events.registration import (
    AdmissionRevoked,
    DecideApplication,
    Decision,
    MunicipalityAdmitted,
    MunicipalityDeclined,
    MunicipalityWaitlisted,
    MunicipalityWithdrawn,
    RevokeAdmission,
    WithdrawMunicipality,
)
from shared.messaging.bus import UnitOfWork

E = TypeVar("E", MunicipalityWithdrawn, AdmissionRevoked)

TARGET = {
    Decision.ADMIT: rules.ADMITTED,
    Decision.WAITLIST: rules.WAITLISTED,
    Decision.DECLINE: rules.DECLINED,
}


async def _in_region(
    repos: Repositories, ctx: Context, round_id: str, municipality: str
) -> tuple[Round, Application, rules.Region]:
    """The round, the application and its region, the region under its lock."""
    found = await load_round(repos, round_id)
    app = await load_application(repos, ctx, round_id, municipality)
    region = await repos.applications.region(round_id, app.branch_id)
    return found, app, region


async def decide_application(
    cmd: DecideApplication, uow: UnitOfWork, ctx: Context
) -> MunicipalityAdmitted | MunicipalityWaitlisted | MunicipalityDeclined:
    repos = ctx.repositories(uow)
    found, app, region = await _in_region(repos, ctx, cmd.round_id, cmd.municipality_number)
    window = await repos.rounds.window(cmd.round_id, app.county_number)
    admits = cmd.decision is Decision.ADMIT
    decided, events = rules.decide(
        app,
        TARGET[cmd.decision],
        reason=cmd.reason,
        early_reason=cmd.early_reason.strip() or None,
        window_deadline=window.deadline if window is not None else None,
        region=region,
        capacity=found.capacity(app.branch_id),
        region_name=ctx.branch(app.branch_id).name,
        group=await repos.applications.group(app.id) if admits else (),
        now=ctx.clock(),
        by=actor(),
        name=ctx.municipality_name(cmd.municipality_number),
    )
    await repos.applications.save(decided)
    await emit_all(uow, ctx.events, events)
    return events[0]


async def _promote_first_waiting(
    uow: UnitOfWork, ctx: Context, repos: Repositories, found: Round, app: Application
) -> None:
    """A freed place goes to the first on the region's wait-list."""
    region = await repos.applications.region(app.round_id, app.branch_id)
    first = rules.first_in_line(region.waiting)
    if first is None:
        return
    next_app = await load_application(repos, ctx, app.round_id, first.municipality_number)
    try:
        promoted, events = rules.admit(
            next_app,
            region=region,
            capacity=found.capacity(app.branch_id),
            region_name=ctx.branch(app.branch_id).name,
            group=await repos.applications.group(next_app.id),
            now=ctx.clock(),
            by=None,  # a move up the wait-list is nobody's decision
            promoted=True,
        )
    except rules.CapacityFull:
        return  # capacity was lowered meanwhile: the wait-list keeps its order
    await repos.applications.save(promoted)
    await emit_all(uow, ctx.events, events)


async def _take_back(
    uow: UnitOfWork,
    ctx: Context,
    cmd: WithdrawMunicipality | RevokeAdmission,
    step: Callable[..., tuple[Application, list[E]]],
) -> E:
    """A withdrawal or a revocation; a place it frees goes to the first waiting."""
    repos = ctx.repositories(uow)
    found, app, _ = await _in_region(repos, ctx, cmd.round_id, cmd.municipality_number)
    taken, events = step(
        app,
        reason=cmd.reason,
        now=ctx.clock(),
        by=actor(),
        name=ctx.municipality_name(cmd.municipality_number),
    )
    await repos.applications.save(taken)
    await emit_all(uow, ctx.events, events)
    if rules.frees_a_place(app.status):
        await _promote_first_waiting(uow, ctx, repos, found, app)
    return events[0]


async def withdraw_municipality(
    cmd: WithdrawMunicipality, uow: UnitOfWork, ctx: Context
) -> MunicipalityWithdrawn:
    return await _take_back(uow, ctx, cmd, rules.withdraw)


async def revoke_admission(cmd: RevokeAdmission, uow: UnitOfWork, ctx: Context) -> AdmissionRevoked:
    return await _take_back(uow, ctx, cmd, rules.revoke)
