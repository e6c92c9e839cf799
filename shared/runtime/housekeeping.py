"""Housekeeping: rows that have done their job go after a retention period.

Every service runs `housekeeping_worker`. It deletes published outbox rows after
`outbox_retention_days` and inbox rows after `inbox_retention_days` (see `ServiceSettings`
for why the inbox is kept longer). Unpublished outbox rows are never deleted: they are
events still on their way.

Deletes run in small batches, each its own statement, so no long lock is held on tables the
hot path writes to. Replicas may run it at the same time: a row deleted by one is skipped by
the other. More tables join by adding a `Purge` to `PURGES`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg
from prometheus_client import Counter

from shared.messaging.retry import backoff_delay
from shared.runtime.idempotency import PURGE_BATCH_SQL as PURGE_IDEMPOTENCY_KEYS
from shared.runtime.settings import ServiceSettings

if TYPE_CHECKING:
    from shared.runtime.spec import Runtime

log = logging.getLogger(__name__)
PURGED = Counter("ks_housekeeping_deleted_total", "Rows deleted by housekeeping", ["table"])

BATCH_SIZE = 5000


@dataclass(frozen=True)
class Purge:
    table: str
    # Deletes at most $2 rows that are older than $1 days; one batch.
    sql: str
    retention_days: Callable[[ServiceSettings], float]


PURGES: list[Purge] = [
    Purge(
        "outbox",
        # Published rows, and rows an operator discarded on purpose: both are history.
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
        " WHERE (published_at IS NOT NULL OR discarded_at IS NOT NULL)"
        " AND coalesce(published_at, discarded_at)"
        " < now() - make_interval(secs => $1::float8 * 86400) ORDER BY id LIMIT $2)",
        lambda settings: settings.outbox_retention_days,
    ),
    Purge(
        "inbox",
        "DELETE FROM inbox WHERE message_id IN (SELECT message_id FROM inbox"
        " WHERE processed_at < now() - make_interval(secs => $1::float8 * 86400) LIMIT $2)",
        lambda settings: settings.inbox_retention_days,
    ),
    # Kept HTTP answers of Idempotency-Keys, each with its inbox row (see shared.runtime.idempotency).
    Purge(
        "idempotency_keys",
        PURGE_IDEMPOTENCY_KEYS,
        lambda settings: settings.idempotency_retention_days,
    ),
]


async def purge(
    pool: asyncpg.Pool,
    settings: ServiceSettings,
    *,
    purges: list[Purge] | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict[str, int]:
    """Delete what is past its retention; return the number of rows deleted per table."""
    deleted: dict[str, int] = {}
    for step in PURGES if purges is None else purges:
        days = float(step.retention_days(settings))
        total = 0
        while True:
            status = await pool.execute(step.sql, days, batch_size)
            count = int(status.split()[-1])  # "DELETE <n>"
            total += count
            if count < batch_size:
                break
        if total:
            PURGED.labels(step.table).inc(total)
        deleted[step.table] = total
    return deleted


async def housekeeping_worker(runtime: Runtime) -> None:
    """Purge once at start, then every `housekeeping_interval_s`; a failure waits for the next."""
    settings = runtime.settings
    failures = 0
    while True:
        try:
            deleted = await purge(runtime.pool, settings)
        except asyncio.CancelledError:
            raise
        except Exception:
            failures += 1
            log.exception("housekeeping failed, will try again")
            await asyncio.sleep(min(backoff_delay(failures), settings.housekeeping_interval_s))
            continue
        failures = 0
        if any(deleted.values()):
            log.info("housekeeping deleted old rows", extra={"deleted": deleted})
        await asyncio.sleep(settings.housekeeping_interval_s)
