"""County branches: each board's contact person (kept by programme management) and the
development areas each has adopted for a round."""

from __future__ import annotations

import uuid

from services.registration.domain import areas, persons
from services.registration.handlers.context import (
    Context,
    actor,
    emit_all,
    load_round,
    publish_contact,
)
from services.registration.handlers.persons import erase
from shared.contracts.events.registration import (
    BranchContactSet,
    DevelopmentAreasSet,
    SetBranchContact,
    SetDevelopmentAreas,
)
from shared.messaging.bus import UnitOfWork


async def set_branch_contact(
    cmd: SetBranchContact, uow: UnitOfWork, ctx: Context
) -> BranchContactSet:
    """The branch's board contact: the same person (by e-mail) keeps their id and has their
    details updated; another person replaces them, and the one replaced is erased unless
    something else here still refers to them."""
    branch = ctx.branch(cmd.branch)
    repos = ctx.repositories(uow)
    current = await repos.branches.contact(branch.id)
    person_id, previous = uuid.uuid4(), None
    if current is not None:
        current_id, current_email = current
        if persons.same_person(current_email, cmd.contact.email):
            person_id = current_id
        else:
            previous = current_id
    now, by = ctx.clock(), actor()
    await repos.branches.set_contact(branch.id, person_id, cmd.contact, at=now, by=by)
    await publish_contact(uow, ctx, person_id, cmd.contact)  # the restricted topic only
    if previous is not None and not await repos.persons.in_use(previous):
        await erase(uow, ctx, previous, by=None)
    event = BranchContactSet(
        branch_id=branch.id,
        branch_name=branch.name,
        county_numbers=list(branch.county_numbers),
        contact_person_id=person_id,
        previous_contact_person_id=previous,
        set_at=now,
        set_by=by,
    )
    await emit_all(uow, ctx.events, [event])
    return event


async def set_development_areas(
    cmd: SetDevelopmentAreas, uow: UnitOfWork, ctx: Context
) -> DevelopmentAreasSet:
    """The branch's adopted development areas for the round, the whole list at once."""
    repos = ctx.repositories(uow)
    await load_round(repos, cmd.round_id)
    branch = ctx.branch(cmd.branch)
    adopted = areas.tidy(cmd.areas)
    now, by = ctx.clock(), actor()
    await repos.branches.set_areas(cmd.round_id, branch.id, adopted, at=now, by=by)
    event = DevelopmentAreasSet(
        round_id=cmd.round_id,
        branch_id=branch.id,
        branch_name=branch.name,
        areas=adopted,
        set_at=now,
        set_by=by,
    )
    await emit_all(uow, ctx.events, [event])
    return event
