"""Invitations follow registration: its events update what we keep of it, then every
gathering still ahead in the region is brought in line (`refresh`), emitting what changed.

A redelivered or replayed event is harmless twice over: the inbox skips a known event id,
and `refresh` compares desired with actual, so it has nothing left to do the second time.
"""

from __future__ import annotations

from uuid import UUID

from services.scheduling.adapters.unit import Unit
from services.scheduling.domain.gatherings import Gathering
from services.scheduling.domain.invitations import RegionState
from services.scheduling.domain.model import Interest, Participant, ParticipantStatus
from services.scheduling.handlers.context import Context
from shared.contracts.events.registration import (
    AdmissionRevoked,
    ApplicationSubmitted,
    GroupMemberAdded,
    GroupMemberRemoved,
    InterestRegistered,
    InterestUpdated,
    MunicipalityAdmitted,
    MunicipalityWithdrawn,
    PersonErased,
)
from shared.contracts.events.scheduling import CancellationCause, GatheringKind, InviteeRole
from shared.messaging.bus import UnitOfWork


async def refresh(
    unit: Unit,
    ctx: Context,
    gathering: Gathering,
    *,
    reason: str,
    state: RegionState | None = None,
) -> Gathering:
    """Invite exactly whom the gathering should invite now; emit each change."""
    if state is None:
        state = await unit.region_state(gathering.round_id, gathering.region)
    changes = gathering.changes(state)
    if not changes:
        return gathering
    # A samling's invitations list the mellomarbeid set after the samling before it.
    due = (
        await unit.interim_work.due_before(
            gathering.round_id, gathering.region, gathering.slot.starts_at
        )
        if changes.issue and gathering.kind is GatheringKind.SAMLING
        else None
    )
    changed, events = gathering.brought_in_line(changes, reason=reason, due=due)
    await unit.gatherings.save(changed)
    for event in events:
        await unit.emit(ctx.events, event)
    return changed


async def refresh_region(
    unit: Unit, ctx: Context, round_id: str, region: str | None, *, reason: str
) -> None:
    """Every gathering ahead in the round's region (or all regions) brought in line."""
    await unit.lock_round(round_id)
    states: dict[str, RegionState] = {}
    for gathering in await unit.gatherings.ahead(round_id, region, ctx.clock()):
        where = gathering.region
        if where not in states:
            states[where] = await unit.region_state(round_id, where)
        await refresh(unit, ctx, gathering, reason=reason, state=states[where])


# --- registration's events --------------------------------------------------------------------


async def interest_registered(
    event: InterestRegistered | InterestUpdated, uow: UnitOfWork, ctx: Context
) -> None:
    unit = ctx.unit(uow)
    named = event.municipality_contacts or []  # absent in events from before contacts
    await unit.interests.save(
        Interest(
            round_id=event.round_id,
            branch_id=event.branch_id,
            contact_person_id=event.contact_person_id,
            municipality_numbers=tuple(event.municipality_numbers),
            municipality_contacts={
                c.municipality_number: c.person_id
                for c in named
                if c.municipality_number in event.municipality_numbers
            },
        )
    )
    await refresh_region(
        unit, ctx, event.round_id, event.branch_id, reason="the region's interest changed"
    )


def _participant(
    event: ApplicationSubmitted | MunicipalityAdmitted | MunicipalityWithdrawn | AdmissionRevoked,
    status: ParticipantStatus,
) -> Participant:
    return Participant(
        event.round_id, event.municipality_number, event.branch_id, event.county_number, status
    )


async def _save_group(unit: Unit, event: ApplicationSubmitted | MunicipalityAdmitted) -> None:
    group = await unit.groups.get(event.round_id, event.municipality_number)
    await unit.groups.save(
        group.replaced([(m.person_id, InviteeRole(m.role.value)) for m in event.group])
    )


async def application_submitted(event: ApplicationSubmitted, uow: UnitOfWork, ctx: Context) -> None:
    unit = ctx.unit(uow)
    current = await unit.participants.get(event.round_id, event.municipality_number)
    if current is not None and current.admitted:
        return  # a late copy of an older event: admission has the group since
    await unit.participants.save(_participant(event, ParticipantStatus.SUBMITTED))
    await _save_group(unit, event)


async def municipality_admitted(event: MunicipalityAdmitted, uow: UnitOfWork, ctx: Context) -> None:
    unit = ctx.unit(uow)
    await unit.participants.save(_participant(event, ParticipantStatus.ADMITTED))
    await _save_group(unit, event)
    await refresh_region(
        unit, ctx, event.round_id, event.branch_id, reason="the municipality was admitted"
    )


async def municipality_withdrawn(
    event: MunicipalityWithdrawn | AdmissionRevoked, uow: UnitOfWork, ctx: Context
) -> None:
    """Withdrawn or revoked: its veiledning is released, its invitations ahead withdrawn."""
    unit = ctx.unit(uow)
    revoked = isinstance(event, AdmissionRevoked)
    status = ParticipantStatus.REVOKED if revoked else ParticipantStatus.WITHDRAWN
    await unit.participants.save(_participant(event, status))
    await unit.lock_round(event.round_id)
    cause = CancellationCause.ADMISSION_REVOKED if revoked else CancellationCause.WITHDRAWN
    now = ctx.clock()
    for booking in await unit.gatherings.supervisions_ahead(
        event.round_id, event.municipality_number, now
    ):
        released, cancelled = booking.cancelled(now=now, reason="", cause=cause)
        await unit.gatherings.save(released)
        await unit.emit(ctx.events, cancelled)
    await refresh_region(
        unit,
        ctx,
        event.round_id,
        event.branch_id,
        reason=f"{event.municipality_number} "
        + ("lost its admission" if revoked else "withdrew from the programme"),
    )


async def _group_changed(
    unit: Unit, ctx: Context, round_id: str, municipality: str, reason: str
) -> None:
    found = await unit.participants.get(round_id, municipality)
    if found is not None:
        await refresh_region(unit, ctx, round_id, found.branch_id, reason=reason)


async def group_member_added(event: GroupMemberAdded, uow: UnitOfWork, ctx: Context) -> None:
    unit = ctx.unit(uow)
    group = await unit.groups.get(event.round_id, event.municipality_number)
    await unit.groups.save(group.with_member(event.person_id, InviteeRole(event.role.value)))
    await _group_changed(
        unit, ctx, event.round_id, event.municipality_number, "joined the kommunegruppe"
    )


async def group_member_removed(event: GroupMemberRemoved, uow: UnitOfWork, ctx: Context) -> None:
    unit = ctx.unit(uow)
    group = await unit.groups.get(event.round_id, event.municipality_number)
    await unit.groups.save(group.without(event.person_id))
    await _group_changed(
        unit, ctx, event.round_id, event.municipality_number, "left the kommunegruppe"
    )


async def person_erased(event: PersonErased, uow: UnitOfWork, ctx: Context) -> None:
    """The person goes: future invitations are withdrawn, past ones keep only the
    municipality (for its attendance rate)."""
    unit = ctx.unit(uow)
    rounds: set[str] = set()
    for group in await unit.groups.of_person(event.person_id):
        await unit.groups.save(group.without(event.person_id))
        rounds.add(group.round_id)
    for interest in await unit.interests.of_person(event.person_id):
        await unit.interests.save(interest.without(event.person_id))
        rounds.add(interest.round_id)
    for round_id in sorted(rounds):  # one lock order for every handler
        await refresh_region(unit, ctx, round_id, None, reason="personal data erased")
    # Gatherings ahead that invited the person by name elsewhere (a round we know no group of).
    await withdraw_person(unit, ctx, event.person_id, "personal data erased")
    for gathering in await unit.gatherings.inviting(event.person_id):
        await unit.gatherings.save(gathering.person_forgotten(event.person_id))


async def withdraw_person(unit: Unit, ctx: Context, person_id: UUID, reason: str) -> None:
    """The person's invitations to gatherings ahead withdrawn, each told."""
    for gathering in await unit.gatherings.ahead_of_person(person_id, ctx.clock()):
        changed, events = gathering.person_withdrawn(person_id, reason)
        await unit.gatherings.save(changed)
        for event in events:
            await unit.emit(ctx.events, event)
