"""Gatherings: load, let the calendar rules decide, save and emit."""

from __future__ import annotations

import uuid
from typing import Any

from services.scheduling.adapters.unit import Unit
from services.scheduling.domain.calendar import Slot
from services.scheduling.domain.gatherings import (
    Gathering,
    already_exists,
    require_direct,
    require_found,
    require_future,
    scheduled,
    shape_allowed,
)
from services.scheduling.domain.model import (
    require_in_semester,
    require_proposal,
    require_round,
)
from services.scheduling.handlers.context import Context
from services.scheduling.handlers.invitations import refresh
from shared.contracts.events.scheduling import (
    CancelGathering,
    GatheringCancelled,
    GatheringRescheduled,
    GatheringScheduled,
    RescheduleGathering,
    ScheduleGathering,
    Venue,
)
from shared.messaging.bus import UnitOfWork
from shared.runtime.auth import Role
from shared.runtime.commands import acting


def venue_json(venue: Venue) -> dict[str, Any]:
    return venue.model_dump(mode="json", exclude_none=True)


async def create_gathering(
    unit: Unit,
    ctx: Context,
    new: Gathering,
    *,
    overridden: list[str] | None = None,
    override_reason: str | None = None,
    proposed: bool = False,
) -> tuple[Gathering, GatheringScheduled]:
    """Store a new gathering, emit GatheringScheduled, invite whom its kind invites."""
    require_round(await unit.rounds.get(new.round_id), new.round_id)
    require_future(new.slot, ctx.clock())
    await unit.lock_round(new.round_id)  # see Unit.lock_round: no admission slips between
    if not await unit.gatherings.add(new):
        raise already_exists(new.id)
    event = scheduled(
        new, overridden=overridden, override_reason=override_reason, proposed=proposed
    )
    await unit.emit(ctx.events, event)
    return await refresh(unit, ctx, new, reason="scheduled"), event


async def schedule_gathering(
    cmd: ScheduleGathering, uow: UnitOfWork, ctx: Context
) -> GatheringScheduled:
    ctx.region(cmd.region)
    require_direct(cmd.kind)
    unit = ctx.unit(uow)
    slot = Slot.of(cmd.starts_at, cmd.ends_at)
    if cmd.semester is not None:
        require_in_semester(
            await unit.semesters.of_region(cmd.round_id, cmd.region),
            cmd.semester,
            slot,
            round_id=cmd.round_id,
            where=ctx.region_name(cmd.region),
        )
    require_round(await unit.rounds.get(cmd.round_id), cmd.round_id)
    await unit.lock_round(cmd.round_id)  # two at once cannot both pass the count
    # The same gathering sent again (a retry, a client that ran before) is a conflict on its
    # id, not a refusal by the programme's shape, which it counts itself in.
    if cmd.gathering_id is not None and await unit.gatherings.get(cmd.gathering_id, lock=False):
        raise already_exists(cmd.gathering_id)
    overridden = shape_allowed(
        kind=cmd.kind,
        round_id=cmd.round_id,
        slot=slot,
        semester=cmd.semester,
        planned=await unit.gatherings.planned(cmd.round_id, cmd.region),
        override_reason=cmd.override_reason,
    )
    new = Gathering(
        id=cmd.gathering_id or uuid.uuid4(),
        round_id=cmd.round_id,
        region=cmd.region,
        kind=cmd.kind,
        title=cmd.title,
        venue=venue_json(cmd.venue),
        slot=slot,
        capacity=cmd.capacity,
        semester=cmd.semester,
        also_invite=tuple(cmd.also_invite),
        arranged_by=_arranging_board(),
    )
    proposal = None
    if cmd.proposal_id is not None:
        found = require_proposal(await unit.proposals.get(cmd.proposal_id), cmd.proposal_id)
        proposal = found.taken_up(
            kind=cmd.kind, round_id=cmd.round_id, region=cmd.region, gathering_id=new.id
        )
    _, event = await create_gathering(
        unit, ctx, new, overridden=overridden, override_reason=cmd.override_reason
    )
    if proposal is not None:
        await unit.proposals.save(proposal)
    return event


def _arranging_board() -> str | None:
    """The branch of the county board that schedules (a delingsarena it arranges), if one."""
    principal = acting()
    if principal is not None and principal.role is Role.COUNTY_BOARD:
        return principal.branch_id
    return None


async def reschedule_gathering(
    cmd: RescheduleGathering, uow: UnitOfWork, ctx: Context
) -> GatheringRescheduled:
    unit = ctx.unit(uow)
    gathering = require_found(await unit.gatherings.get(cmd.gathering_id), cmd.gathering_id)
    booked = []
    if gathering.supervisor_id is not None:
        await unit.lock_supervisor(gathering.supervisor_id)
        booked = await unit.gatherings.supervisor_slots(
            gathering.supervisor_id, besides=gathering.id
        )
    moved, event = gathering.rescheduled(
        Slot.of(cmd.starts_at, cmd.ends_at),
        capacity=cmd.capacity,
        venue=venue_json(cmd.venue) if cmd.venue is not None else None,
        now=ctx.clock(),
        reason=cmd.reason,
        override_reason=cmd.override_reason,
        booked=booked,
    )
    await unit.gatherings.save(moved)
    await unit.emit(ctx.events, event)
    return event


async def cancel_gathering(
    cmd: CancelGathering, uow: UnitOfWork, ctx: Context
) -> GatheringCancelled:
    unit = ctx.unit(uow)
    gathering = require_found(await unit.gatherings.get(cmd.gathering_id), cmd.gathering_id)
    cancelled, event = gathering.cancelled(now=ctx.clock(), reason=cmd.reason)
    await unit.gatherings.save(cancelled)
    await unit.emit(ctx.events, event)
    return event
