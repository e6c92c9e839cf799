"""The reminder worker: turns due reminders into planned mails, each reminder once.

A due reminder is claimed with `FOR UPDATE SKIP LOCKED` and marked sent in the same
transaction that plans its mails (under the event id `reminder:<id>`), so two replicas never
both send it, and a crash before the commit leaves it due for the next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import asyncpg

from services.notification.adapters import repository as repo
from services.notification.domain import messages as rules
from services.notification.domain.messages import PlannedMail
from services.notification.domain.reminders import (
    TEMPLATES,
    ReminderKind,
    branches_without_interest,
    unsubmitted,
)
from services.notification.handlers import Context
from services.notification.settings import NotificationSettings
from shared.messaging.retry import backoff_delay
from shared.messaging.wakeups import after_commit
from shared.runtime.spec import Runtime

log = logging.getLogger(__name__)
CONTEXT = "context"


async def mails_for_reminder(
    conn: asyncpg.Connection, reminder: asyncpg.Record, ctx: Context
) -> list[PlannedMail]:
    kind = ReminderKind(reminder["kind"])
    template = TEMPLATES[kind]
    places = ctx.places
    base: dict[str, Any] = {"days_before": reminder["days_before"]}
    mails: list[PlannedMail] = []
    if kind is ReminderKind.GATHERING:
        row = await repo.gathering(conn, uuid.UUID(reminder["subject"]))
        if row is None or row["cancelled"]:
            return []
        gathering = repo.gathering_of(row)
        targets = await repo.active_invitations(conn, row["gathering_id"])
        boards: dict[str, rules.Board] = {}
        for target, branch in targets:
            number = target.municipality_number
            if not target.person_id and number and number not in boards:
                board = await repo.board_of_branch(conn, branch) or await repo.board_of_county(
                    conn, number[:2]
                )
                if board is not None:
                    boards[number] = board
        mails = rules.mails_for_gathering(
            template,
            gathering,
            [t for t, _ in targets],
            board_of=boards,
            method="REQUEST",
            places=places,
            **base,
        )
        # A reminder is a plain letter: the invitation already put it in the calendar.
        mails = [
            PlannedMail(
                m.recipient_key,
                m.template,
                {k: v for k, v in m.context.items() if k != "calendar"},
                person_id=m.person_id,
                reminder=True,
            )
            for m in mails
        ]
    elif kind is ReminderKind.INTEREST_DEADLINE:
        round_id = reminder["subject"]
        deadline = await repo.deadline_of(conn, round_id, "interest", None)
        if deadline is None:
            return []
        boards_by_id = {b.branch_id: b for b in await repo.all_boards(conn)}
        waiting = branches_without_interest(
            {b: board.person_id for b, board in boards_by_id.items()},
            await repo.interest_of_round(conn, round_id),
        )
        for branch_id, person_id in sorted(waiting.items()):
            context = {
                **base,
                "round_id": round_id,
                "branch_name": boards_by_id[branch_id].branch_name,
                "deadline": deadline["deadline"].isoformat(),
                "closes_at": deadline["closes_at"].isoformat(),
            }
            mails.append(rules.person(person_id, template, context, reminder=True))
    else:
        round_id, county = reminder["subject"].split(":", 1)
        deadline = await repo.deadline_of(conn, round_id, "application", county)
        board = await repo.board_of_county(conn, county)
        if deadline is None or board is None:
            return []
        named = [
            n
            for numbers in (await repo.interest_of_round(conn, round_id)).values()
            for n in numbers
            if n.startswith(county)
        ]
        missing = unsubmitted(named, await repo.submitted_municipalities(conn, round_id))
        if missing:
            context = {
                **base,
                "round_id": round_id,
                "county_name": places.county(county),
                "branch_name": board.branch_name,
                "deadline": deadline["deadline"].isoformat(),
                "closes_at": deadline["closes_at"].isoformat(),
                "municipalities": places.municipalities(missing),
            }
            mails.append(rules.person(board.person_id, template, context, reminder=True))
    # Opting out of reminders is honoured here; mandatory messages never ask.
    persons = [m.person_id for m in mails if m.person_id]
    out = await repo.opted_out(conn, persons) if persons else set()
    return [m for m in mails if m.person_id not in out]


async def send_due_reminders(pool: asyncpg.Pool, ctx: Context) -> int:
    """Plan the mails of every due reminder, one transaction per reminder."""
    done = 0
    while True:
        async with pool.acquire() as conn, after_commit(conn), conn.transaction():
            reminder = await repo.claim_due_reminder(conn)
            if reminder is None:
                return done
            mails = await mails_for_reminder(conn, reminder, ctx)
            await repo.plan_deliveries(conn, event_id=f"reminder:{reminder['id']}", mails=mails)
            await repo.mark_reminder_sent(conn, reminder["id"])
            done += 1


async def reminder_worker(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    ctx: Context = runtime.extras[CONTEXT]
    attempt = 0
    while True:
        try:
            await send_due_reminders(runtime.pool, ctx)
            attempt = 0
            await asyncio.sleep(settings.reminder_poll_interval_s)  # reminders are due by the clock
        except asyncio.CancelledError:
            raise
        except Exception:
            attempt += 1
            log.exception("reminder worker interrupted, retrying")
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(backoff_delay(attempt))
