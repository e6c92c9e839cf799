"""Changes to a kommunegruppe after submission: add, remove, replace a member."""

from __future__ import annotations

from uuid import UUID

from services.registration.domain import decisions as rules
from services.registration.domain.decisions import Application
from services.registration.domain.groups import IncompleteGroup, check_group
from services.registration.handlers.applications import load_application, register_member
from services.registration.handlers.context import Context
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.registration import (
    AddGroupMember,
    GroupMember,
    GroupMemberAdded,
    GroupMemberRemoved,
    GroupRole,
    RemoveGroupMember,
    ReplaceGroupMember,
)
from shared.messaging.bus import UnitOfWork


async def _changeable(
    uow: UnitOfWork, ctx: Context, round_id: str, municipality: str
) -> Application:
    app = await load_application(uow, ctx, round_id, municipality)
    if app.status not in rules.CHANGEABLE:
        status_nb = rules.STATUS_NB[app.status]
        raise Conflict(
            f"the group of {municipality} cannot change: the application is {app.status}",
            nb=f"Kommunegruppen til {municipality} kan ikke endres: søknaden er {status_nb}.",
            nn=f"Kommunegruppa til {municipality} kan ikkje endrast: søknaden er {status_nb}.",
            field="municipality_number",
        )
    return app


async def _check_after_change(uow: UnitOfWork, ctx: Context, app: Application) -> None:
    group = await ctx.store(uow).active_group(app.id)
    try:
        check_group(group)
    except IncompleteGroup as error:
        # The change would leave the group incomplete: it conflicts with what is there.
        raise Conflict(error.en, nb=error.nb, nn=error.nn, field=error.field) from error


async def _add_member(
    uow: UnitOfWork, ctx: Context, app: Application, member: GroupMember
) -> GroupMemberAdded:
    if not member.commits_to_gatherings:
        raise DomainError(
            "a new member must commit to the gatherings and the work between them",
            nb="Et nytt medlem må forplikte seg til samlingene og mellomarbeidet.",
            nn="Eit nytt medlem må forplikte seg til samlingane og mellomarbeidet.",
            field="member.commits_to_gatherings",
        )
    person_id = await register_member(uow, ctx, app.id, member)
    return GroupMemberAdded(
        application_id=app.id,
        round_id=app.round_id,
        municipality_number=app.municipality_number,
        person_id=person_id,
        role=member.role,
        changed_at=ctx.clock(),
    )


async def _remove_member(
    uow: UnitOfWork, ctx: Context, app: Application, person_id: UUID
) -> GroupMemberRemoved:
    current = {m.person_id: m for m in await ctx.store(uow).active_group(app.id)}
    if person_id not in current:
        raise NotFound(
            f"{person_id} is not in the group of {app.municipality_number}",
            nb=f"Personen er ikke med i kommunegruppen til {app.municipality_number}.",
            nn=f"Personen er ikkje med i kommunegruppa til {app.municipality_number}.",
            field="person_id",
        )
    await ctx.store(uow).remove_group_member(app.id, person_id)
    return GroupMemberRemoved(
        application_id=app.id,
        round_id=app.round_id,
        municipality_number=app.municipality_number,
        person_id=person_id,
        role=GroupRole(current[person_id].role.value),
        changed_at=ctx.clock(),
    )


async def add_group_member(cmd: AddGroupMember, uow: UnitOfWork, ctx: Context) -> GroupMemberAdded:
    app = await _changeable(uow, ctx, cmd.round_id, cmd.municipality_number)
    added = await _add_member(uow, ctx, app, cmd.member)
    await _check_after_change(uow, ctx, app)
    await uow.emit(ctx.events, added)
    return added


async def remove_group_member(
    cmd: RemoveGroupMember, uow: UnitOfWork, ctx: Context
) -> GroupMemberRemoved:
    app = await _changeable(uow, ctx, cmd.round_id, cmd.municipality_number)
    removed = await _remove_member(uow, ctx, app, cmd.person_id)
    await _check_after_change(uow, ctx, app)
    await uow.emit(ctx.events, removed)
    return removed


async def replace_group_member(
    cmd: ReplaceGroupMember, uow: UnitOfWork, ctx: Context
) -> GroupMemberAdded:
    app = await _changeable(uow, ctx, cmd.round_id, cmd.municipality_number)
    removed = await _remove_member(uow, ctx, app, cmd.person_id)
    added = await _add_member(uow, ctx, app, cmd.member)
    await _check_after_change(uow, ctx, app)
    await uow.emit(ctx.events, removed)
    await uow.emit(ctx.events, added)
    return added
