"""Programme management's decisions, the board's withdrawals, revocations, the wait-list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.registration.domain import decisions as rules
from services.registration.domain.decisions import Application
from services.registration.handlers.applications import load_application
from services.registration.handlers.context import Context, actor, load_round
from shared.contracts.events.base import Contract
from shared.contracts.events.registration import (
    AdmissionRevoked,
    DecideApplication,
    Decision,
    GroupMemberRef,
    GroupRole,
    MunicipalityAdmitted,
    MunicipalityDeclined,
    MunicipalityWaitlisted,
    MunicipalityWithdrawn,
    RevokeAdmission,
    WithdrawMunicipality,
)
from shared.messaging.bus import UnitOfWork

TARGET = {
    Decision.ADMIT: rules.ADMITTED,
    Decision.WAITLIST: rules.WAITLISTED,
    Decision.DECLINE: rules.DECLINED,
}


def _decided(app: Application, at: datetime, **more: Any) -> dict[str, Any]:
    return {
        "application_id": app.id,
        "round_id": app.round_id,
        "municipality_number": app.municipality_number,
        "county_number": app.county_number,
        "branch_id": app.branch_id,
        "decided_at": at,
        **more,
    }


async def _group_refs(uow: UnitOfWork, ctx: Context, application_id: Any) -> list[GroupMemberRef]:
    return [
        GroupMemberRef(person_id=m.person_id, role=GroupRole(m.role.value))
        for m in await ctx.store(uow).active_group(application_id)
        if m.person_id is not None  # always so once submitted: the type allows drafts
    ]


async def _admit(
    uow: UnitOfWork,
    ctx: Context,
    app: Application,
    capacity: int | None,
    *,
    promoted: bool,
    early_reason: str | None = None,
) -> MunicipalityAdmitted:
    admitted = await ctx.store(uow).count_status(app.round_id, app.branch_id, rules.ADMITTED)
    rules.require_place(capacity, admitted, ctx.branch(app.branch_id).name)
    now = ctx.clock()
    by = None if promoted else actor()  # a move up the wait-list is nobody's decision
    await ctx.store(uow).set_status(
        app.id,
        rules.ADMITTED,
        at=now,
        by=by,
        early_reason=early_reason,
        promoted=promoted,
    )
    event = MunicipalityAdmitted(
        **_decided(app, now, decided_by=by, early_reason=early_reason),
        promoted_from_waitlist=promoted,
        group=await _group_refs(uow, ctx, app.id),
    )
    await uow.emit(ctx.events, event)
    return event


async def decide_application(cmd: DecideApplication, uow: UnitOfWork, ctx: Context) -> Contract:
    found = await load_round(uow, ctx, cmd.round_id)
    app = await load_application(uow, ctx, cmd.round_id, cmd.municipality_number)
    await ctx.store(uow).lock_region(cmd.round_id, app.branch_id)
    early = cmd.early_reason.strip() or None
    window = await ctx.store(uow).get_window(cmd.round_id, app.county_number)
    rules.check_decision(
        app,
        TARGET[cmd.decision],
        reason=cmd.reason,
        early_reason=early,
        window_deadline=window.deadline if window is not None else None,
        now=ctx.clock(),
        name=ctx.municipality_name(cmd.municipality_number),
    )
    if cmd.decision is Decision.ADMIT:
        capacity = found.capacity(app.branch_id)
        return await _admit(uow, ctx, app, capacity, promoted=False, early_reason=early)
    now = ctx.clock()
    by = actor()
    event: Contract
    if cmd.decision is Decision.WAITLIST:
        await ctx.store(uow).set_status(
            app.id, rules.WAITLISTED, at=now, waitlist=True, by=by, early_reason=early
        )
        position = len(await ctx.store(uow).waitlist(cmd.round_id, app.branch_id))
        event = MunicipalityWaitlisted(
            **_decided(app, now, decided_by=by, early_reason=early), position=position
        )
    else:
        await ctx.store(uow).set_status(
            app.id,
            rules.DECLINED,
            at=now,
            reason=cmd.reason,
            by=by,
            early_reason=early,
        )
        event = MunicipalityDeclined(
            **_decided(app, now, decided_by=by, early_reason=early), reason=cmd.reason
        )
    await uow.emit(ctx.events, event)
    return event


async def _promote_first_waiting(
    uow: UnitOfWork, ctx: Context, app: Application, capacity: int | None
) -> None:
    """A freed place goes to the first on the region's wait-list."""
    first = rules.first_in_line(await ctx.store(uow).waitlist(app.round_id, app.branch_id))
    if first is None:
        return
    next_app = await load_application(uow, ctx, app.round_id, first.municipality_number)
    try:
        await _admit(uow, ctx, next_app, capacity, promoted=True)
    except rules.CapacityFull:
        pass  # capacity was lowered meanwhile: the wait-list keeps its order


async def withdraw_municipality(
    cmd: WithdrawMunicipality, uow: UnitOfWork, ctx: Context
) -> MunicipalityWithdrawn:
    found = await load_round(uow, ctx, cmd.round_id)
    app = await load_application(uow, ctx, cmd.round_id, cmd.municipality_number)
    await ctx.store(uow).lock_region(cmd.round_id, app.branch_id)
    rules.require_transition(
        app.status, rules.WITHDRAWN, ctx.municipality_name(cmd.municipality_number)
    )
    now = ctx.clock()
    by = actor()
    await ctx.store(uow).set_withdrawn(app.id, at=now, reason=cmd.reason, by=by)
    # `decided_at` is kept for readers of v1: it is when this step was taken.
    event = MunicipalityWithdrawn(
        **_decided(app, now),
        previous_status=app.status,
        reason=cmd.reason,
        withdrawn_at=now,
        withdrawn_by=by,
    )
    await uow.emit(ctx.events, event)
    if app.status == rules.ADMITTED:
        await _promote_first_waiting(uow, ctx, app, found.capacity(app.branch_id))
    return event


async def revoke_admission(cmd: RevokeAdmission, uow: UnitOfWork, ctx: Context) -> AdmissionRevoked:
    found = await load_round(uow, ctx, cmd.round_id)
    app = await load_application(uow, ctx, cmd.round_id, cmd.municipality_number)
    await ctx.store(uow).lock_region(cmd.round_id, app.branch_id)
    rules.require_transition(
        app.status, rules.REVOKED, ctx.municipality_name(cmd.municipality_number)
    )
    now = ctx.clock()
    by = actor()
    await ctx.store(uow).set_revoked(app.id, at=now, reason=cmd.reason, by=by)
    event = AdmissionRevoked(
        application_id=app.id,
        round_id=app.round_id,
        municipality_number=app.municipality_number,
        county_number=app.county_number,
        branch_id=app.branch_id,
        reason=cmd.reason,
        revoked_at=now,
        revoked_by=by,
    )
    await uow.emit(ctx.events, event)
    await _promote_first_waiting(uow, ctx, app, found.capacity(app.branch_id))
    return event
