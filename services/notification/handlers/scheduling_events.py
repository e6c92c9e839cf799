"""Scheduling's events: gatherings and invitations kept as far as mail needs them, and the
invitations, changes and cancellations they cause, each with its calendar part."""

from __future__ import annotations

import logging

from services.notification.domain import messages as rules
from services.notification.domain.messages import Gathering, InvitationTarget, invited
from services.notification.domain.reminders import ReminderKind
from services.notification.handlers.context import Context, boards_for, plan
from services.notification.handlers.reminders import plan_gathering_reminders
from shared.contracts.events import scheduling as sched
from shared.messaging.bus import UnitOfWork

log = logging.getLogger(__name__)


async def gathering_scheduled(
    event: sched.GatheringScheduled, uow: UnitOfWork, ctx: Context
) -> None:
    store = ctx.store(uow)
    gathering = Gathering.of(event)
    await store.save_gathering(gathering)
    await plan_gathering_reminders(store, ctx, gathering)
    if event.proposed_by_programme:
        await store.save_initiative(event.gathering_id, proposed_by_programme=True)
    if event.arranged_by_branch:
        mails = rules.mails_for_delingsarena_arranged(
            gathering, programme_mailbox=ctx.programme_mailbox, places=ctx.places
        )
        await plan(uow, ctx, mails)


async def gathering_rescheduled(
    event: sched.GatheringRescheduled, uow: UnitOfWork, ctx: Context
) -> None:
    store = ctx.store(uow)
    gathering = Gathering.of(event)
    await store.save_gathering(gathering)
    await plan_gathering_reminders(store, ctx, gathering)
    boards = await boards_for(store, invited(event.invitees))
    await plan(
        uow, ctx, rules.mails_for_change(event, gathering, board_of=boards, places=ctx.places)
    )


async def gathering_cancelled(
    event: sched.GatheringCancelled, uow: UnitOfWork, ctx: Context
) -> None:
    store = ctx.store(uow)
    known = await store.gathering(event.gathering_id)
    await store.cancel_gathering(event.gathering_id)
    await store.drop_reminders(ReminderKind.GATHERING, str(event.gathering_id))
    gathering = Gathering.of(event, venue=known.gathering.venue if known else None)
    boards = await boards_for(store, invited(event.invitees))
    await plan(
        uow,
        ctx,
        rules.mails_for_cancellation(event, gathering, board_of=boards, places=ctx.places),
    )


async def _save_invitation(
    event: sched.InvitationIssued | sched.InvitationWithdrawn, uow: UnitOfWork, ctx: Context
) -> None:
    await ctx.store(uow).save_invitation(
        invitation_id=event.invitation_id,
        gathering_id=event.gathering_id,
        person_id=event.person_id,
        municipality_number=event.municipality_number,
        branch_id=event.branch_id,
        role=event.role.value,
        active=isinstance(event, sched.InvitationIssued),
    )


async def invitation_issued(event: sched.InvitationIssued, uow: UnitOfWork, ctx: Context) -> None:
    store = ctx.store(uow)
    await _save_invitation(event, uow, ctx)
    known = await store.gathering(event.gathering_id)
    if known is None:
        # The gathering's own event comes first on its partition; without it there is
        # nothing to say (title, venue) — a gap in the history, not a reason to stop.
        log.warning(
            "invitation for an unknown gathering", extra={"gathering": str(event.gathering_id)}
        )
        return
    if known.cancelled:
        return
    gathering = rules.with_sequence(known, event.sequence)
    proposed = gathering.kind == "dialogmote" and await store.proposed_by_programme(
        event.gathering_id
    )
    mails = rules.mails_for_invitation(
        event,
        gathering,
        proposed_by_programme=proposed,
        board_of=await boards_for(store, [(InvitationTarget.of(event), event.branch_id)]),
        answer_links=ctx.answer_links(event.invitation_id, event.ends_at),
        places=ctx.places,
    )
    await plan(uow, ctx, mails)


async def invitation_withdrawn(
    event: sched.InvitationWithdrawn, uow: UnitOfWork, ctx: Context
) -> None:
    store = ctx.store(uow)
    await _save_invitation(event, uow, ctx)
    known = await store.gathering(event.gathering_id)
    if known is None or known.cancelled:
        return  # nothing in anyone's calendar from us, or its cancellation said it all
    # The withdrawal raised the gathering's SEQUENCE; the CANCEL carries it, so that the
    # calendar program removes the entry it holds.
    gathering = rules.with_sequence(known, event.sequence)
    await store.raise_gathering_sequence(event.gathering_id, gathering.sequence)
    remaining = await store.active_invitations(event.gathering_id)
    boards = await boards_for(store, [(InvitationTarget.of(event), event.branch_id), *remaining])
    mails = rules.mails_for_withdrawal(
        event,
        gathering,
        remaining=[t for t, _ in remaining],
        board_of=boards,
        places=ctx.places,
    )
    await plan(uow, ctx, mails)


async def supervision_booked(event: sched.SupervisionBooked, uow: UnitOfWork, ctx: Context) -> None:
    known = await ctx.store(uow).gathering(event.gathering_id)
    if known is None:
        log.warning(
            "supervision of an unknown gathering", extra={"gathering": str(event.gathering_id)}
        )
        return
    await plan(uow, ctx, rules.mails_for_supervisor(known.gathering, event, ctx.places))


async def delingsarena_proposed(
    event: sched.DelingsarenaProposed, uow: UnitOfWork, ctx: Context
) -> None:
    mails = rules.mails_for_delingsarena_proposed(
        event, programme_mailbox=ctx.programme_mailbox, places=ctx.places
    )
    await plan(uow, ctx, mails)


async def dialogue_requested(
    event: sched.DialogueMeetingRequested, uow: UnitOfWork, ctx: Context
) -> None:
    mails = rules.mails_for_dialogue_requested(
        event, programme_mailbox=ctx.programme_mailbox, places=ctx.places
    )
    await plan(uow, ctx, mails)


async def interim_work_set(event: sched.InterimWorkSet, uow: UnitOfWork, ctx: Context) -> None:
    await plan(uow, ctx, rules.mails_for_interim_work(event, places=ctx.places))
