"""Reminders: planned from the deadlines and gatherings the events tell of, turned into mails
when they fall due, and a person's choice not to get them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from services.notification.adapters.store import Store
from services.notification.domain import reminders as rules
from services.notification.domain.messages import Gathering, PlannedMail
from services.notification.domain.reminders import Due, ReminderKind
from services.notification.handlers.context import Context, boards_for
from shared.contracts.events.notification import SetReminders
from shared.messaging.bus import UnitOfWork


async def plan_deadline_reminders(
    store: Store,
    ctx: Context,
    *,
    round_id: str,
    kind: str,
    county_number: str | None,
    deadline: date,
    closes_at: datetime,
) -> None:
    """The deadline as it stands now, and its reminders (a moved deadline: new ones)."""
    await store.save_deadline(
        round_id=round_id,
        kind=kind,
        county_number=county_number,
        deadline=deadline,
        closes_at=closes_at,
    )
    reminder = rules.deadline_kind(kind)
    subject = rules.deadline_subject(kind, round_id, county_number)
    found = rules.plan(
        reminder, subject, str(deadline), closes_at, ctx.deadline_reminder_days, now=ctx.clock()
    )
    await store.replace_reminders(reminder, subject, found)


async def plan_gathering_reminders(store: Store, ctx: Context, gathering: Gathering) -> None:
    found = rules.plan(
        ReminderKind.GATHERING,
        gathering.gathering_id,
        str(gathering.sequence),
        datetime.fromisoformat(gathering.starts_at),
        ctx.gathering_reminder_days,
        now=ctx.clock(),
    )
    await store.replace_reminders(ReminderKind.GATHERING, gathering.gathering_id, found)


async def reminder_due(due: Due, store: Store, ctx: Context) -> None:
    """A reminder fell due: its mails, once, under its own key (the worker claimed it)."""
    mails = await _mails_of(due, store, ctx)
    persons = [m.person_id for m in mails if m.person_id]
    await store.plan(due.key, rules.without_opted_out(mails, await store.opted_out(persons)))


async def _mails_of(due: Due, store: Store, ctx: Context) -> list[PlannedMail]:
    if due.kind is ReminderKind.GATHERING:
        known = await store.gathering(uuid.UUID(due.subject))
        if known is None or known.cancelled:
            return []
        invited = await store.active_invitations(uuid.UUID(due.subject))
        return rules.gathering_reminders(
            due,
            known.gathering,
            [t for t, _ in invited],
            board_of=await boards_for(store, invited),
            places=ctx.places,
        )
    if due.kind is ReminderKind.INTEREST_DEADLINE:
        deadline = await store.deadline_of(due.subject, "interest", None)
        if deadline is None:
            return []
        return rules.interest_deadline_reminders(
            due,
            deadline,
            boards=await store.all_boards(),
            registered=await store.interest_of_round(due.subject),
        )
    round_id, county = due.subject.split(":", 1)
    deadline = await store.deadline_of(round_id, "application", county)
    board = await store.board_of_county(county)
    if deadline is None or board is None:
        return []
    return rules.application_deadline_reminders(
        due,
        deadline,
        board=board,
        interest=await store.interest_of_round(round_id),
        submitted=await store.submitted_municipalities(round_id),
        places=ctx.places,
    )


async def set_reminders(cmd: SetReminders, uow: UnitOfWork, ctx: Context) -> dict[str, Any]:
    """Opt a person out of reminders (or back in); mandatory messages never ask."""
    await ctx.store(uow).set_opt_out(cmd.person_id, not cmd.reminders)
    return {"person_id": str(cmd.person_id), "reminders": cmd.reminders}
