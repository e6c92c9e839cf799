"""The membership list of Norsk kulturskoleråd: only members take part."""

from __future__ import annotations

from services.registration.handlers.context import Context
from shared.contracts.errors import DomainError
from shared.contracts.events.registration import ImportMembers, MembershipChanged
from shared.messaging.bus import UnitOfWork


async def import_members(cmd: ImportMembers, uow: UnitOfWork, ctx: Context) -> MembershipChanged:
    unknown = sorted({n for n in cmd.municipality_numbers if n not in ctx.reference.municipalities})
    if unknown:
        listed = ", ".join(unknown[:20])
        raise DomainError(
            f"unknown municipality number(s) {listed} (2024 structure)",
            nb=f"Ukjente kommunenummer: {listed} (kommuneinndelingen fra 2024).",
            nn=f"Ukjende kommunenummer: {listed} (kommuneinndelinga frå 2024).",
            field="municipality_numbers",
        )
    new = set(cmd.municipality_numbers)
    old = await ctx.store(uow).members()
    await ctx.store(uow).replace_members(new)
    event = MembershipChanged(
        added=sorted(new - old), removed=sorted(old - new), member_count=len(new)
    )
    await uow.emit(ctx.events, event)
    return event
