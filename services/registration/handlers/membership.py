"""The membership list of Norsk kulturskoleråd: only members take part."""

from __future__ import annotations

from services.registration.domain.interest import replace_members
from services.registration.handlers.context import Context, emit_all
from shared.contracts.events.registration import ImportMembers, MembershipChanged
from shared.messaging.bus import UnitOfWork


async def import_members(cmd: ImportMembers, uow: UnitOfWork, ctx: Context) -> MembershipChanged:
    members = ctx.repositories(uow).members
    new, events = replace_members(ctx.reference, await members.all(), cmd.municipality_numbers)
    await members.replace(new)
    await emit_all(uow, ctx.events, events)
    return events[0]
