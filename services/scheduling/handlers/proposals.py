"""Delingsarenaer the county boards propose, for programme management to take up."""

from __future__ import annotations

import uuid

from services.scheduling.domain.model import DelingsarenaProposal, proposal_exists
from services.scheduling.handlers.context import Context
from services.scheduling.handlers.gatherings import venue_json
from shared.contracts.events.scheduling import DelingsarenaProposed, ProposeDelingsarena, VenueInfo
from shared.messaging.bus import UnitOfWork
from shared.runtime.commands import acting


async def propose_delingsarena(
    cmd: ProposeDelingsarena, uow: UnitOfWork, ctx: Context
) -> DelingsarenaProposed:
    ctx.region(cmd.region)
    unit = ctx.unit(uow)
    principal = acting()
    proposal = DelingsarenaProposal(
        id=cmd.proposal_id or uuid.uuid4(),
        round_id=cmd.round_id,
        region=cmd.region,
        title=cmd.title,
        description=cmd.description,
        wished_dates=tuple(cmd.wished_dates),
        venue=venue_json(cmd.venue) if cmd.venue is not None else None,
        proposed_at=ctx.clock(),
        proposed_by=principal.name if principal is not None else None,
    )
    if not await unit.proposals.add(proposal):
        raise proposal_exists(proposal.id)
    event = DelingsarenaProposed(
        proposal_id=proposal.id,
        round_id=proposal.round_id,
        region=proposal.region,
        title=proposal.title,
        description=proposal.description,
        wished_dates=list(proposal.wished_dates),
        venue=VenueInfo(**proposal.venue) if proposal.venue is not None else None,
        proposed_at=proposal.proposed_at,
    )
    await unit.emit(ctx.events, event)
    return event
