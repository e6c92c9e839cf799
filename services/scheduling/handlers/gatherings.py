"""Semesters and gatherings: load, let the calendar rules decide, save and emit."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import asyncpg

from services.scheduling.adapters import repository as repo
from services.scheduling.domain.calendar import OSLO, Gathering, Slot, clashes
from services.scheduling.domain.programme import shape_breaches
from services.scheduling.handlers.context import Context
from services.scheduling.handlers.invitations import refresh
from services.scheduling.handlers.rounds import require_round
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.scheduling import (
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
from shared.messaging.bus import UnitOfWork
from shared.runtime.auth import Role
from shared.runtime.commands import acting

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
        raise NotFound(
            f"no gathering {gathering_id}",
            nb="Samlingen finnes ikke.",
            nn="Samlinga finst ikkje.",
            field="gathering_id",
        )
    return row, repo.as_gathering(row, await repo.confirmed(uow.conn, gathering_id))


async def plan_semester(cmd: PlanSemester, uow: UnitOfWork, ctx: Context) -> SemesterPlanned:
    ctx.region(cmd.region)
    await require_round(uow, cmd.round_id)
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
    overridden: list[str] | None = None,
    override_reason: str | None = None,
    guests: list[UUID] | None = None,
    proposed: bool = False,
    arranged_by: str | None = None,
) -> tuple[asyncpg.Record, GatheringScheduled]:
    """Store a new gathering, invite whom its kind invites, emit GatheringScheduled."""
    await require_round(uow, round_id)
    if slot.starts_at <= ctx.clock():
        raise DomainError(
            "a gathering cannot be scheduled to start in the past",
            nb="En samling kan ikke settes opp til å begynne i fortiden.",
            nn="Ei samling kan ikkje setjast opp til å byrje i fortida.",
            field="starts_at",
            slug="in-the-past",
        )
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
        raise Conflict(
            f"a gathering {new_id} exists already",
            nb="Det finnes allerede en samling med denne id-en.",
            nn="Det finst alt ei samling med denne id-en.",
            field="gathering_id",
            slug="already-exists",
        )
    if guests:
        await repo.add_gathering_guests(uow.conn, new_id, guests)
    row = await repo.get_gathering(uow.conn, new_id)
    assert row is not None
    event = GatheringScheduled(
        **facts(row),
        semester=semester,
        supervisor_id=supervisor_id,
        overridden=overridden or [],
        override_reason=override_reason,
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
            "(/dialogue-meetings), veiledning is booked (/supervisions)",
            nb="Et dialogmøte svarer på en forespørsel fra et fylkesstyre (/dialogue-meetings), "
            "og veiledning bestilles (/supervisions): de settes ikke opp her.",
            nn="Eit dialogmøte svarar på ein førespurnad frå eit fylkesstyre (/dialogue-meetings), "
            "og rettleiing vert bestilt (/supervisions): dei vert ikkje sette opp her.",
            field="kind",
            slug="wrong-route",
        )
    slot = Slot.of(cmd.starts_at, cmd.ends_at)
    if cmd.semester is not None:
        planned = {r["number"]: r for r in await repo.semesters(uow.conn, cmd.round_id, cmd.region)}
        semester = planned.get(cmd.semester)
        if semester is None:
            where = ctx.region_name(cmd.region)
            raise DomainError(
                f"semester {cmd.semester} of round {cmd.round_id} in {where} is not planned",
                nb=f"Semester {cmd.semester} i runde {cmd.round_id} er ikke planlagt for {where}.",
                nn=f"Semester {cmd.semester} i runde {cmd.round_id} er ikkje planlagt for {where}.",
                field="semester",
                slug="semester-not-planned",
            )
        if not semester["starts_on"] <= slot.local_start.date() <= semester["ends_on"]:
            first, last = semester["starts_on"], semester["ends_on"]
            raise DomainError(
                f"{slot.local_start:%d.%m.%Y} is outside semester {cmd.semester} "
                f"({first:%d.%m.%Y} to {last:%d.%m.%Y})",
                nb=f"{slot.local_start:%d.%m.%Y} er utenfor semester {cmd.semester} "
                f"({first:%d.%m.%Y} til {last:%d.%m.%Y}).",
                nn=f"{slot.local_start:%d.%m.%Y} er utanfor semester {cmd.semester} "
                f"({first:%d.%m.%Y} til {last:%d.%m.%Y}).",
                field="starts_at",
                slug="outside-semester",
            )
    await require_round(uow, cmd.round_id)
    await repo.lock_round(uow.conn, cmd.round_id)  # two at once cannot both pass the count
    breaches = shape_breaches(
        kind=cmd.kind.value,
        round_id=cmd.round_id,
        local_start=slot.local_start,
        semester=cmd.semester,
        planned=await repo.planned(uow.conn, cmd.round_id, cmd.region),
    )
    overridden = allow(breaches, cmd.override_reason)
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
        overridden=overridden,
        override_reason=cmd.override_reason,
        arranged_by=_arranging_board(),
    )
    if proposal is not None:
        await repo.take_up_proposal(uow.conn, proposal, row["id"])
    return event


def allow(breaches: list[DomainError], override_reason: str | None) -> list[str]:
    """The shape's breaches refused, unless a reason sets them aside: then their slugs, to
    record in the event."""
    if breaches and override_reason is None:
        first = breaches[0]
        raise DomainError(
            f"{first.en} (give override_reason to make an exception)",
            nb=f"{first.nb} Oppgi override_reason for å gjøre unntak.",
            nn=f"{first.nn} Oppgi override_reason for å gjere unntak.",
            field=first.field,
            slug=first.slug,
        )
    return [b.slug for b in breaches]


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
        raise DomainError(
            "a gathering cannot be moved to the past",
            nb="En samling kan ikke flyttes til fortiden.",
            nn="Ei samling kan ikkje flyttast til fortida.",
            field="starts_at",
            slug="in-the-past",
        )
    changed = gathering.rescheduled(slot, cmd.capacity, ctx.clock())
    breaches = [
        b
        for b in shape_breaches(
            kind=row["kind"],
            round_id=row["round_id"],
            local_start=slot.local_start,
            semester=row["semester"],
            planned=[],
        )
        if b.field == "starts_at"  # moving changes the date, not the counts
    ]
    overridden = allow(breaches, cmd.override_reason)
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
        overridden=overridden,
        override_reason=cmd.override_reason,
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
        when = f"{first.local_start:%d.%m.%Y} kl. {first.local_start:%H:%M}\u2013{first.local_end:%H:%M}"
        raise Conflict(
            f"supervisor {supervisor_id} is already booked from {first.local_start:%d.%m.%Y %H:%M}"
            f" to {first.local_end:%H:%M} (Europe/Oslo)",
            nb=f"Veilederen er allerede booket {when}.",
            nn=f"Rettleiaren er alt booka {when}.",
            field="starts_at",
            slug="supervisor-booked",
        )
