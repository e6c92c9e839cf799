"""The programme round: opening, capacity, closing or cancelling; windows and deadlines."""

from __future__ import annotations

from services.registration.domain import rounds
from services.registration.domain.rounds import RoundState
from services.registration.handlers.context import Context, actor, emit_all, load_round
from shared.contracts.events.registration import (
    ApplicationWindowOpened,
    CancelRound,
    ChangeCapacity,
    CloseRound,
    DeadlineExtended,
    DeadlineKind,
    ExtendDeadline,
    OpenApplicationWindow,
    OpenRound,
    RoundCapacityChanged,
    RoundClosed,
    RoundOpened,
)
from shared.messaging.bus import UnitOfWork


async def open_round(cmd: OpenRound, uow: UnitOfWork, ctx: Context) -> RoundOpened:
    opened, events = rounds.open_round(
        cmd.round_id,
        interest_deadline=cmd.interest_deadline,
        capacity_per_branch=rounds.capacities(ctx.reference, cmd.capacity_per_branch),
        allow_past_deadline=cmd.allow_past_deadline,
        now=ctx.clock(),
    )
    if not await ctx.repositories(uow).rounds.add(opened):
        raise rounds.round_exists(cmd.round_id)
    await emit_all(uow, ctx.events, events)
    return events[0]


async def change_capacity(
    cmd: ChangeCapacity, uow: UnitOfWork, ctx: Context
) -> RoundCapacityChanged:
    repos = ctx.repositories(uow)
    found = await load_round(repos, cmd.round_id, changes=True)
    changes = rounds.capacities(ctx.reference, cmd.capacity_per_branch)
    # Each region read under its lock, serialised with its decisions: the count stays true.
    admitted = {b: (await repos.applications.region(cmd.round_id, b)).admitted for b in changes}
    names = {b: ctx.branch(b).name for b in changes}
    changed, events = found.change_capacity(changes, admitted, names, by=actor())
    await repos.rounds.save(changed)
    await emit_all(uow, ctx.events, events)
    return events[0]


async def _end_round(
    uow: UnitOfWork, ctx: Context, round_id: str, state: RoundState, reason: str
) -> RoundClosed:
    repos = ctx.repositories(uow)
    found = await load_round(repos, round_id, changes=True)
    ended, events = found.end(state, reason, now=ctx.clock(), by=actor())
    await repos.rounds.save(ended)
    await emit_all(uow, ctx.events, events)
    return events[0]


async def close_round(cmd: CloseRound, uow: UnitOfWork, ctx: Context) -> RoundClosed:
    return await _end_round(uow, ctx, cmd.round_id, RoundState.CLOSED, cmd.reason)


async def cancel_round(cmd: CancelRound, uow: UnitOfWork, ctx: Context) -> RoundClosed:
    return await _end_round(uow, ctx, cmd.round_id, RoundState.CANCELLED, cmd.reason)


async def open_application_window(
    cmd: OpenApplicationWindow, uow: UnitOfWork, ctx: Context
) -> ApplicationWindowOpened:
    repos = ctx.repositories(uow)
    await load_round(repos, cmd.round_id, intake=True)
    window, events = rounds.open_window(
        ctx.reference,
        cmd.round_id,
        cmd.county_number,
        opens_on=cmd.opens_on,
        deadline=cmd.deadline,
        now=ctx.clock(),
    )
    if not await repos.rounds.add_window(window):
        raise rounds.window_exists(cmd.county_number)
    await emit_all(uow, ctx.events, events)
    return events[0]


async def extend_deadline(cmd: ExtendDeadline, uow: UnitOfWork, ctx: Context) -> DeadlineExtended:
    repos = ctx.repositories(uow)
    found = await load_round(repos, cmd.round_id, changes=True)
    if cmd.kind is DeadlineKind.INTEREST:
        extended, events = found.extend_interest(cmd.new_deadline)
        await repos.rounds.save(extended)
    else:
        county = cmd.county_number
        window = await repos.rounds.window(cmd.round_id, county) if county is not None else None
        if window is None:
            raise rounds.no_window(cmd.round_id, county)
        longer, events = window.extend(cmd.new_deadline)
        await repos.rounds.save_window(longer)
    await emit_all(uow, ctx.events, events)
    return events[0]
