"""County branches: each board's contact person (kept by programme management) and the
development areas each has adopted for a round."""

from __future__ import annotations

import uuid

from services.registration.domain import branches
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
    """The one replaced is erased unless something else here still refers to them."""
    branch = ctx.branch(cmd.branch)
    repos = ctx.repositories(uow)
    contact, previous, events = branches.set_contact(
        branch,
        await repos.branches.contact(branch.id),
        cmd.contact,
        new_id=uuid.uuid4(),
        now=ctx.clock(),
        by=actor(),
    )
    await repos.branches.set_contact(contact)
    await publish_contact(uow, ctx, contact.person_id, cmd.contact)  # the restricted topic only
    if previous is not None and not await repos.persons.in_use(previous):
        await erase(uow, ctx, previous, by=None)
    await emit_all(uow, ctx.events, events)
    return events[0]


async def set_development_areas(
    cmd: SetDevelopmentAreas, uow: UnitOfWork, ctx: Context
) -> DevelopmentAreasSet:
    repos = ctx.repositories(uow)
    await load_round(repos, cmd.round_id)
    branch = ctx.branch(cmd.branch)
    adopted, events = branches.adopt_areas(
        cmd.round_id, branch, cmd.areas, now=ctx.clock(), by=actor()
    )
    await repos.branches.set_areas(adopted)
    await emit_all(uow, ctx.events, events)
    return events[0]
