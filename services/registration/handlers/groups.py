"""Changes to a kommunegruppe after submission: add, remove, replace a member."""

from __future__ import annotations

import uuid
from typing import TypeVar
from uuid import UUID

from services.registration.domain import applications as rules
from services.registration.domain.groups import Member, MemberRole
from services.registration.handlers.applications import load_application, register_member
from services.registration.handlers.context import Context, emit_all
from shared.contracts.events.registration import (
    AddGroupMember,
    GroupMember,
    GroupMemberAdded,
    GroupMemberRemoved,
    RemoveGroupMember,
    ReplaceGroupMember,
)
from shared.messaging.bus import UnitOfWork

E = TypeVar("E", GroupMemberAdded, GroupMemberRemoved)


async def _change(
    uow: UnitOfWork,
    ctx: Context,
    round_id: str,
    municipality: str,
    *,
    remove: UUID | None = None,
    add: GroupMember | None = None,
) -> tuple[GroupMemberRemoved | None, GroupMemberAdded | None]:
    repos = ctx.repositories(uow)
    app = await load_application(repos, ctx, round_id, municipality)
    rules.require_changeable(app)
    group = await repos.applications.group(app.id)
    removed = rules.member_to_remove(app, group, remove) if remove is not None else None
    after = [m for m in group if m is not removed]
    added = None
    if add is not None:
        rules.require_committed(add)
        added = (uuid.uuid4(), add)
        after.append(Member(str(add.email), MemberRole(add.role.value), True, added[0]))
    gone, came = rules.change_group(app, after, removed=removed, added=added, now=ctx.clock())
    if remove is not None:
        await repos.applications.remove_member(app.id, remove)
    if added is not None:
        await register_member(uow, ctx, repos, app.id, added[1], person_id=added[0])
    await emit_all(uow, ctx.events, [e for e in (gone, came) if e is not None])
    return gone, came


async def add_group_member(cmd: AddGroupMember, uow: UnitOfWork, ctx: Context) -> GroupMemberAdded:
    _, came = await _change(uow, ctx, cmd.round_id, cmd.municipality_number, add=cmd.member)
    return _given(came)


async def remove_group_member(
    cmd: RemoveGroupMember, uow: UnitOfWork, ctx: Context
) -> GroupMemberRemoved:
    gone, _ = await _change(uow, ctx, cmd.round_id, cmd.municipality_number, remove=cmd.person_id)
    return _given(gone)


async def replace_group_member(
    cmd: ReplaceGroupMember, uow: UnitOfWork, ctx: Context
) -> GroupMemberAdded:
    _, came = await _change(
        uow, ctx, cmd.round_id, cmd.municipality_number, remove=cmd.person_id, add=cmd.member
    )
    return _given(came)


def _given(event: E | None) -> E:
    """The event of the step the command asked for, which `_change` always makes."""
    if event is None:
        raise RuntimeError("a group change without its event")
    return event
