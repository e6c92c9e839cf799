"""Semesters and gatherings: load, let the calendar rules decide, save and emit."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import asyncpg

from services.scheduling.adapters import repository as repo
from services.scheduling.domain.calendar import OSLO, Gathering, Slot, clashes
from services.scheduling.domain.errors import Conflict, DomainError, NotFound
from services.scheduling.handlers.context import Context
from services.scheduling.handlers.invitations import refresh
from shared.auth import Role
from shared.commands import acting
from shared.events.scheduling import (
    CancelGathering,
    GatheringCancelled,
    GatheringKind,
    GatheringRescheduled,
    GatheringScheduled,
    Invitee,
    InviteeRole,
    PlanSemester,
    RescheduleGathering,
    ScheduleGathering,
    SemesterPlanned,
    Venue,
    VenueInfo,
)
from shared.messaging import UnitOfWork

# Kinds scheduled directly; a dialogmøte answers a request, veiledning is a booking.
DIRECT_KINDS = {GatheringKind.PRESAMLING, GatheringKind.SAMLING, GatheringKind.DELINGSARENA}


def venue_json(venue: Venue) -> dict[str, Any]:
    return venue.model_dump(mode="json", exclude_none=True)


def facts(row: asyncpg.Record) -> dict[str, Any]:
    """A gathering row as its events state it."""
    return {
        "gathering_id": row["id"],
        "round_id": row["round_id"],
        "region": row["region"],
        "kind": GatheringKind(row["kind"]),
        "title": row["title"],
        "venue": VenueInfo(**repo.venue_of(row)),
        # In the programme's zone, so a reader sees the wall-clock time the invitation says.
        "starts_at": row["starts_at"].astimezone(OSLO),
        "ends_at": row["ends_at"].astimezone(OSLO),
        "capacity": row["capacity"],
        "sequence": row["sequence"],
    }


async def invitee_list(conn: asyncpg.Connection, gathering_id: UUID) -> list[Invitee]:
    return [
        Invitee(
            invitation_id=r["id"],
            person_id=r["person_id"],
            municipality_number=r["municipality_number"],
            branch_id=r["branch_id"],
            role=InviteeRole(r["role"]),
        )
        for r in await repo.invitations(conn, gathering_id)
    ]


async def load_gathering(uow: UnitOfWork, gathering_id: UUID) -> tuple[asyncpg.Record, Gathering]:
    row = await repo.get_gathering(uow.conn, gathering_id, lock=True)
    if row is None:
        raise NotFound(f"no gathering {gathering_id}")
    return row, repo.as_gathering(row, await repo.confirmed(uow.conn, gathering_id))


async def plan_semester(cmd: PlanSemester, uow: UnitOfWork, ctx: Context) -> SemesterPlanned:
    ctx.region(cmd.region)
    await repo.plan_semester(
        uow.conn,
        round_id=cmd.round_id,
        region=cmd.region,
        number=cmd.number,
        starts_on=cmd.starts_on,
        ends_on=cmd.ends_on,
    )
    event = SemesterPlanned(**cmd.model_dump())
    await uow.emit(ctx.events, event)
    return event


async def create_gathering(
    uow: UnitOfWork,
    ctx: Context,
    *,
    gathering_id: UUID | None,
    round_id: str,
    region: str,
    kind: GatheringKind,
    title: str,
    venue: Venue,
    slot: Slot,
    capacity: int | None,
    semester: int | None = None,
    also_invite: list[str] | None = None,
    municipality_number: str | None = None,
    supervisor_id: str | None = None,
    request_id: UUID | None = None,
    guests: list[UUID] | None = None,
    proposed: bool = False,
    arranged_by: str | None = None,
) -> tuple[asyncpg.Record, GatheringScheduled]:
    """Store a new gathering, invite whom its kind invites, emit GatheringScheduled."""
    if slot.starts_at <= ctx.clock():
        raise DomainError("a gathering cannot be scheduled to start in the past")
    new_id = gathering_id or uuid.uuid4()
    await repo.lock_round(uow.conn, round_id)  # see lock_round: no admission slips between
    stored = await repo.insert_gathering(
        uow.conn,
        id=new_id,
        round_id=round_id,
        region=region,
        kind=kind.value,
        title=title,
        venue=venue_json(venue),
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        capacity=capacity,
        semester=semester,
        also_invite=also_invite or [],
        municipality_number=municipality_number,
        supervisor_id=supervisor_id,
        request_id=request_id,
        arranged_by=arranged_by,
    )
    if not stored:
        raise Conflict(f"a gathering {new_id} exists already")
    if guests:
        await repo.add_gathering_guests(uow.conn, new_id, guests)
    row = await repo.get_gathering(uow.conn, new_id)
    assert row is not None
    event = GatheringScheduled(
        **facts(row),
        semester=semester,
        supervisor_id=supervisor_id,
        proposed_by_programme=proposed,
        arranged_by_branch=arranged_by,
    )
    await uow.emit(ctx.events, event)
    await refresh(uow, ctx, row, reason="scheduled")
    return row, event


async def schedule_gathering(
    cmd: ScheduleGathering, uow: UnitOfWork, ctx: Context
) -> GatheringScheduled:
    ctx.region(cmd.region)
    if cmd.kind not in DIRECT_KINDS:
        raise DomainError(
            f"a {cmd.kind} is not scheduled directly: a dialogmøte answers a board's request "
            "(/dialogue-meetings), veiledning is booked (/supervisions)"
        )
    slot = Slot.of(cmd.starts_at, cmd.ends_at)
    if cmd.semester is not None:
        planned = {r["number"]: r for r in await repo.semesters(uow.conn, cmd.round_id, cmd.region)}
        semester = planned.get(cmd.semester)
        if semester is None:
            raise DomainError(
                f"semester {cmd.semester} of round {cmd.round_id} in {cmd.region} is not planned"
            )
        if not semester["starts_on"] <= slot.local_start.date() <= semester["ends_on"]:
            raise DomainError(
                f"{slot.local_start:%Y-%m-%d} is outside semester {cmd.semester} "
                f"({semester['starts_on']} to {semester['ends_on']})"
            )
    proposal = await _proposal_taken_up(uow, cmd)
    row, event = await create_gathering(
        uow,
        ctx,
        gathering_id=cmd.gathering_id,
        round_id=cmd.round_id,
        region=cmd.region,
        kind=cmd.kind,
        title=cmd.title,
        venue=cmd.venue,
        slot=slot,
        capacity=cmd.capacity,
        semester=cmd.semester,
        also_invite=cmd.also_invite,
        arranged_by=_arranging_board(),
    )
    if proposal is not None:
        await repo.take_up_proposal(uow.conn, proposal, row["id"])
    return event


async def _proposal_taken_up(uow: UnitOfWork, cmd: ScheduleGathering) -> UUID | None:
    """The board's delingsarena proposal the command takes up, if it names one that fits."""
    if cmd.proposal_id is None:
        return None
    found = await repo.get_delingsarena_proposal(uow.conn, cmd.proposal_id)
    if found is None:
        raise NotFound(f"no delingsarena proposal {cmd.proposal_id}")
    if cmd.kind is not GatheringKind.DELINGSARENA or (found["round_id"], found["region"]) != (
        cmd.round_id,
        cmd.region,
    ):
        raise DomainError(
            f"proposal {cmd.proposal_id} is for a delingsarena in {found['region']}, round "
            f"{found['round_id']}"
        )
    if found["gathering_id"] is not None:
        raise Conflict(f"the proposal is taken up already: gathering {found['gathering_id']}")
    proposal: UUID = found["id"]
    return proposal


def _arranging_board() -> str | None:
    """The branch of the county board that schedules (a delingsarena it arranges), if one."""
    principal = acting()
    if principal is not None and principal.role is Role.COUNTY_BOARD:
        return principal.branch_id
    return None


async def reschedule_gathering(
    cmd: RescheduleGathering, uow: UnitOfWork, ctx: Context
) -> GatheringRescheduled:
    row, gathering = await load_gathering(uow, cmd.gathering_id)
    slot = Slot.of(cmd.starts_at, cmd.ends_at)
    if slot.starts_at <= ctx.clock():
        raise DomainError("a gathering cannot be moved to the past")
    changed = gathering.rescheduled(slot, cmd.capacity, ctx.clock())
    if row["supervisor_id"] is not None:
        await repo.lock_supervisor(uow.conn, row["supervisor_id"])
        check_supervisor_free(
            row["supervisor_id"],
            slot,
            await repo.supervisor_slots(uow.conn, row["supervisor_id"], besides=row["id"]),
        )
    await repo.save_gathering(
        uow.conn,
        row["id"],
        changed,
        venue=venue_json(cmd.venue) if cmd.venue is not None else None,
    )
    updated = await repo.get_gathering(uow.conn, row["id"])
    assert updated is not None
    event = GatheringRescheduled(
        **facts(updated),
        previous_starts_at=row["starts_at"].astimezone(OSLO),
        previous_ends_at=row["ends_at"].astimezone(OSLO),
        reason=cmd.reason,
        invitees=await invitee_list(uow.conn, row["id"]),
    )
    await uow.emit(ctx.events, event)
    return event


async def cancel_gathering(
    cmd: CancelGathering, uow: UnitOfWork, ctx: Context
) -> GatheringCancelled:
    row, gathering = await load_gathering(uow, cmd.gathering_id)
    changed = gathering.cancelled(ctx.clock())
    await repo.save_gathering(uow.conn, row["id"], changed)
    event = GatheringCancelled(
        gathering_id=row["id"],
        round_id=row["round_id"],
        region=row["region"],
        kind=GatheringKind(row["kind"]),
        title=row["title"],
        starts_at=row["starts_at"].astimezone(OSLO),
        ends_at=row["ends_at"].astimezone(OSLO),
        sequence=changed.sequence,
        reason=cmd.reason,
        invitees=await invitee_list(uow.conn, row["id"]),
    )
    await uow.emit(ctx.events, event)
    return event


def check_supervisor_free(supervisor_id: str, slot: Slot, booked: list[tuple[UUID, Slot]]) -> None:
    taken = clashes(slot, [s for _, s in booked])
    if taken:
        first = taken[0]
        raise Conflict(
            f"supervisor {supervisor_id} is already booked from {first.local_start:%Y-%m-%d %H:%M}"
            f" to {first.local_end:%H:%M} (Europe/Oslo)"
        )
