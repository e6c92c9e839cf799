"""The programme round: opening, capacity, closing or cancelling; windows and deadlines."""

from __future__ import annotations

from collections.abc import Mapping

from services.registration.domain import decisions as rules
from services.registration.domain.deadlines import (
    closes_at,
    default_interest_deadline,
    require_later,
    require_not_past,
)
from services.registration.domain.rounds import RoundState as State
from services.registration.handlers.context import Context, actor, load_round
from shared.contracts.errors import Conflict, DomainError, NotFound
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
    RoundState,
)
from shared.messaging.bus import UnitOfWork


def capacities_by_id(ctx: Context, given: Mapping[str, int]) -> dict[str, int]:
    """Places per region, keyed by branch id whether the caller named it by id or name."""
    found: dict[str, int] = {}
    for key, places in given.items():
        if places < 0:
            raise DomainError(
                f"capacity of {key!r} must be a number ≥ 0",
                nb="Antall plasser må være 0 eller mer.",
                nn="Talet på plassar må vere 0 eller meir.",
                field="capacity_per_branch",
            )
        found[ctx.branch(key, field="capacity_per_branch").id] = places
    return found


async def open_round(cmd: OpenRound, uow: UnitOfWork, ctx: Context) -> RoundOpened:
    capacity = capacities_by_id(ctx, cmd.capacity_per_branch)
    deadline = cmd.interest_deadline or default_interest_deadline(cmd.round_id)
    if not cmd.allow_past_deadline:
        require_not_past(
            deadline, ctx.clock(), f"round {cmd.round_id}'s interest deadline", "interest_deadline"
        )
    if not await ctx.store(uow).add_round(
        round_id=cmd.round_id, interest_deadline=deadline, capacity_per_branch=capacity
    ):
        raise Conflict(
            f"round {cmd.round_id} is already open",
            nb=f"Programrunden {cmd.round_id} er allerede åpnet.",
            nn=f"Programrunden {cmd.round_id} er alt opna.",
            field="round_id",
        )
    event = RoundOpened(
        round_id=cmd.round_id,
        interest_deadline=deadline,
        interest_closes_at=closes_at(deadline),
        capacity_per_branch=capacity,
    )
    await uow.emit(ctx.events, event)
    return event


async def change_capacity(
    cmd: ChangeCapacity, uow: UnitOfWork, ctx: Context
) -> RoundCapacityChanged:
    found = await load_round(uow, ctx, cmd.round_id, changes=True)
    changes = capacities_by_id(ctx, cmd.capacity_per_branch)
    for branch_id, places in changes.items():
        # Serialised with decisions in the region, so that the count stays true.
        await ctx.store(uow).lock_region(cmd.round_id, branch_id)
        admitted = await ctx.store(uow).count_status(cmd.round_id, branch_id, rules.ADMITTED)
        rules.require_capacity_holds(places, admitted, ctx.branch(branch_id).name)
    capacity = {**found.capacity_per_branch, **changes}
    await ctx.store(uow).set_capacity(cmd.round_id, capacity)
    event = RoundCapacityChanged(
        round_id=cmd.round_id, capacity_per_branch=capacity, changed_by=actor()
    )
    await uow.emit(ctx.events, event)
    return event


async def _end_round(
    uow: UnitOfWork, ctx: Context, round_id: str, state: RoundState, reason: str
) -> RoundClosed:
    found = await load_round(uow, ctx, round_id, changes=True)
    if state is RoundState.CLOSED:
        found.require_not_closed()
    await ctx.store(uow).set_round_state(round_id, State(state.value), reason)
    event = RoundClosed(
        round_id=round_id, state=state, reason=reason, closed_at=ctx.clock(), closed_by=actor()
    )
    await uow.emit(ctx.events, event)
    return event


async def close_round(cmd: CloseRound, uow: UnitOfWork, ctx: Context) -> RoundClosed:
    return await _end_round(uow, ctx, cmd.round_id, RoundState.CLOSED, cmd.reason)


async def cancel_round(cmd: CancelRound, uow: UnitOfWork, ctx: Context) -> RoundClosed:
    return await _end_round(uow, ctx, cmd.round_id, RoundState.CANCELLED, cmd.reason)


async def open_application_window(
    cmd: OpenApplicationWindow, uow: UnitOfWork, ctx: Context
) -> ApplicationWindowOpened:
    await load_round(uow, ctx, cmd.round_id, intake=True)
    if cmd.county_number not in ctx.reference.counties:
        raise DomainError(
            f"unknown county number {cmd.county_number} (2024 structure)",
            nb=f"Ukjent fylkesnummer {cmd.county_number} (fylkesinndelingen fra 2024).",
            nn=f"Ukjent fylkesnummer {cmd.county_number} (fylkesinndelinga frå 2024).",
            field="county_number",
        )
    if cmd.deadline < cmd.opens_on:
        raise DomainError(
            "the application deadline cannot come before the window opens",
            nb="Søknadsfristen kan ikke være før søknadsperioden åpner.",
            nn="Søknadsfristen kan ikkje vere før søknadsperioden opnar.",
            field="deadline",
        )
    require_not_past(cmd.deadline, ctx.clock(), "the application window", "deadline")
    if not await ctx.store(uow).add_window(
        round_id=cmd.round_id,
        county=cmd.county_number,
        opens_on=cmd.opens_on,
        deadline=cmd.deadline,
    ):
        raise Conflict(
            f"the application window of county {cmd.county_number} is already open; "
            "extend its deadline instead",
            nb=f"Fylke {cmd.county_number} har allerede en søknadsperiode; forleng fristen i "
            "stedet.",
            nn=f"Fylke {cmd.county_number} har alt ein søknadsperiode; forleng fristen i staden.",
            field="county_number",
        )
    event = ApplicationWindowOpened(
        round_id=cmd.round_id,
        county_number=cmd.county_number,
        opens_on=cmd.opens_on,
        deadline=cmd.deadline,
        closes_at=closes_at(cmd.deadline),
    )
    await uow.emit(ctx.events, event)
    return event


async def extend_deadline(cmd: ExtendDeadline, uow: UnitOfWork, ctx: Context) -> DeadlineExtended:
    found = await load_round(uow, ctx, cmd.round_id, changes=True)
    if cmd.kind is DeadlineKind.INTEREST:
        previous = found.interest_deadline
        require_later(previous, cmd.new_deadline)
        await ctx.store(uow).set_interest_deadline(cmd.round_id, cmd.new_deadline)
    else:
        if cmd.county_number is None:
            raise DomainError(
                "an application deadline belongs to a county: give county_number",
                nb="En søknadsfrist hører til et fylke: oppgi county_number.",
                nn="Ein søknadsfrist høyrer til eit fylke: oppgje county_number.",
                field="county_number",
            )
        window = await ctx.store(uow).get_window(cmd.round_id, cmd.county_number)
        if window is None:
            raise NotFound(
                f"county {cmd.county_number} has no application window in round {cmd.round_id}",
                nb=f"Fylke {cmd.county_number} har ingen søknadsperiode i runde {cmd.round_id}.",
                nn=f"Fylke {cmd.county_number} har ingen søknadsperiode i runde {cmd.round_id}.",
                field="county_number",
            )
        previous = window.deadline
        require_later(previous, cmd.new_deadline)
        await ctx.store(uow).set_window_deadline(cmd.round_id, cmd.county_number, cmd.new_deadline)
    event = DeadlineExtended(
        round_id=cmd.round_id,
        kind=cmd.kind,
        county_number=cmd.county_number if cmd.kind is DeadlineKind.APPLICATION else None,
        previous_deadline=previous,
        new_deadline=cmd.new_deadline,
        closes_at=closes_at(cmd.new_deadline),
    )
    await uow.emit(ctx.events, event)
    return event
