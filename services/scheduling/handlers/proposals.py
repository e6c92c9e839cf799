"""Delingsarenaer the county boards propose, for programme management to take up."""

from __future__ import annotations

import uuid

from services.scheduling.adapters import repository as repo
from services.scheduling.handlers.context import Context
from services.scheduling.handlers.gatherings import venue_json
from shared.contracts.errors import Conflict
from shared.contracts.events.scheduling import DelingsarenaProposed, ProposeDelingsarena, VenueInfo
from shared.messaging.bus import UnitOfWork
from shared.runtime.commands import acting


async def propose_delingsarena(
    cmd: ProposeDelingsarena, uow: UnitOfWork, ctx: Context
) -> DelingsarenaProposed:
    ctx.region(cmd.region)
    proposal_id = cmd.proposal_id or uuid.uuid4()
    now = ctx.clock()
    venue = venue_json(cmd.venue) if cmd.venue is not None else None
    principal = acting()
    if not await repo.insert_delingsarena_proposal(
        uow.conn,
        id=proposal_id,
        round_id=cmd.round_id,
        region=cmd.region,
        title=cmd.title,
        description=cmd.description,
        wished_dates=cmd.wished_dates,
        venue=venue,
        proposed_at=now,
        proposed_by=principal.name if principal is not None else None,
    ):
        raise Conflict(f"a delingsarena proposal {proposal_id} exists already")
    event = DelingsarenaProposed(
        proposal_id=proposal_id,
        round_id=cmd.round_id,
        region=cmd.region,
        title=cmd.title,
        description=cmd.description,
        wished_dates=cmd.wished_dates,
        venue=VenueInfo(**venue) if venue is not None else None,
        proposed_at=now,
    )
    await uow.emit(ctx.events, event)
    return event
