"""Supervisors (veiledere): programme management keeps where each is reached, under the id
scheduling's bookings use."""

from __future__ import annotations

from services.notification.handlers.context import Context
from shared.contracts.errors import NotFound
from shared.contracts.events.notification import RemoveSupervisor, SetSupervisor
from shared.messaging.bus import UnitOfWork


async def set_supervisor(cmd: SetSupervisor, uow: UnitOfWork, ctx: Context) -> dict[str, str]:
    """The supervisor's contact; mails that waited for it go now."""
    await ctx.store(uow).save_supervisor(
        cmd.supervisor_id, name=cmd.name, email=str(cmd.email), language=cmd.language
    )
    return {"supervisor_id": cmd.supervisor_id}


async def remove_supervisor(cmd: RemoveSupervisor, uow: UnitOfWork, ctx: Context) -> dict[str, str]:
    """The supervisor's contact goes; mails still waiting for them are cancelled."""
    if not await ctx.store(uow).delete_supervisor(cmd.supervisor_id):
        raise NotFound(
            f"no supervisor {cmd.supervisor_id!r}",
            nb=f"Ingen veileder {cmd.supervisor_id!r}.",
            nn=f"Ingen rettleiar {cmd.supervisor_id!r}.",
            field="supervisor_id",
        )
    return {"supervisor_id": cmd.supervisor_id}
