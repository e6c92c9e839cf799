"""A municipality's application: drafted by its county board, submitted whole in its window."""

from __future__ import annotations

import uuid
from uuid import UUID

from pydantic import BaseModel, Field

from services.registration.adapters.repositories import Repositories
from services.registration.domain import applications as rules
from services.registration.domain.decisions import Application, Status, no_application
from services.registration.domain.interest import municipality_in_branch, require_members
from services.registration.handlers.context import (
    Context,
    emit_all,
    load_round,
    publish_contact,
)
from shared.contracts.events.registration import (
    ApplicationSubmitted,
    GroupMember,
    GroupMemberRef,
    SaveApplicationDraft,
    SubmitApplication,
)
from shared.messaging.bus import UnitOfWork


class DraftSaved(BaseModel):
    """What a saved draft holds now (its text is read back with GET .../applications/{nr})."""

    id: UUID = Field(description="The application's id, the same through every save")
    round_id: str
    municipality_number: str
    status: Status
    group_size: int = Field(description="Members in the draft's kommunegruppe")


async def load_application(
    repos: Repositories, ctx: Context, round_id: str, municipality: str
) -> Application:
    found = await repos.applications.get(round_id, municipality)
    if found is None:
        raise no_application(ctx.municipality_name(municipality), round_id)
    return found


async def save_application_draft(
    cmd: SaveApplicationDraft, uow: UnitOfWork, ctx: Context
) -> DraftSaved:
    repos = ctx.repositories(uow)
    await load_round(repos, cmd.round_id, intake=True)
    county, branch = municipality_in_branch(ctx.reference, cmd.municipality_number)
    numbers = [cmd.municipality_number]
    require_members(ctx.reference, await repos.members.among(numbers), numbers)
    drafted = rules.draft(
        cmd,
        await repos.applications.get(cmd.round_id, cmd.municipality_number),
        new_id=uuid.uuid4(),
        county=county,
        branch_id=branch.id,
        adopted=await repos.branches.areas(cmd.round_id, branch.id),
        window=await repos.rounds.window(cmd.round_id, county),
        now=ctx.clock(),
        name=ctx.municipality_name(cmd.municipality_number),
        county_name=ctx.county_name(county),
        branch_name=branch.name,
    )
    await repos.applications.save(drafted)
    return DraftSaved(
        id=drafted.id,
        round_id=cmd.round_id,
        municipality_number=cmd.municipality_number,
        status=drafted.status,
        group_size=len(cmd.group),
    )


async def register_member(
    uow: UnitOfWork,
    ctx: Context,
    repos: Repositories,
    application_id: UUID,
    member: GroupMember,
    person_id: UUID | None = None,
) -> UUID:
    """A group member becomes a person here; their contact goes to the restricted topic."""
    person_id = person_id or uuid.uuid4()
    await repos.applications.add_member(application_id, person_id, member)
    await publish_contact(uow, ctx, person_id, member)
    return person_id


async def submit_application(
    cmd: SubmitApplication, uow: UnitOfWork, ctx: Context
) -> ApplicationSubmitted:
    repos = ctx.repositories(uow)
    await load_round(repos, cmd.round_id, intake=True)
    app = await load_application(repos, ctx, cmd.round_id, cmd.municipality_number)
    rules.require_draft(app, ctx.municipality_name(cmd.municipality_number))
    rules.require_window_open(
        await repos.rounds.window(cmd.round_id, app.county_number),
        ctx.clock(),
        round_id=cmd.round_id,
        county_name=ctx.county_name(app.county_number),
    )
    numbers = [cmd.municipality_number]
    require_members(ctx.reference, await repos.members.among(numbers), numbers)
    group = rules.require_complete(app)
    # The whole group in this one transaction: registered all or nothing.
    refs = [
        GroupMemberRef(
            person_id=await register_member(uow, ctx, repos, app.id, member), role=member.role
        )
        for member in group
    ]
    submitted, events = rules.submit(app, refs, ctx.clock())
    await repos.applications.save(submitted)
    await emit_all(uow, ctx.events, events)
    return events[0]
