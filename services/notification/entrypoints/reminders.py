"""The reminder worker: turns due reminders into planned mails, each reminder once.

A due reminder is claimed with `FOR UPDATE SKIP LOCKED` and marked sent in the same
transaction that plans its mails (under the key `reminder:<id>`), so two replicas never both
send it, and a crash before the commit leaves it due for the next try. What a reminder plans
is the handler's (handlers/reminders.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from services.notification.adapters import repository as repo
from services.notification.adapters.store import SqlStore
from services.notification.domain.reminders import Due, ReminderKind
from services.notification.handlers.context import CONTEXT, Context
from services.notification.handlers.reminders import reminder_due
from services.notification.settings import NotificationSettings
from shared.messaging.retry import backoff_delay
from shared.messaging.wakeups import after_commit
from shared.runtime.spec import Runtime

__all__ = ["CONTEXT", "reminder_worker", "send_due_reminders"]

log = logging.getLogger(__name__)


async def send_due_reminders(pool: asyncpg.Pool, ctx: Context) -> int:
    """Plan the mails of every due reminder, one transaction per reminder."""
    done = 0
    while True:
        async with pool.acquire() as conn, after_commit(conn), conn.transaction():
            row = await repo.claim_due_reminder(conn)
            if row is None:
                return done
            due = Due(str(row["id"]), ReminderKind(row["kind"]), row["subject"], row["days_before"])
            await reminder_due(due, SqlStore(conn), ctx)
            await repo.mark_reminder_sent(conn, row["id"])
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
