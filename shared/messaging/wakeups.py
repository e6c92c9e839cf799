"""Wake-ups (PostgreSQL NOTIFY) sent after the commit instead of in it.

PostgreSQL lets one committing transaction that has NOTIFYed at a time through a lock held
across its commit's WAL flush: with a NOTIFY in every handling transaction, the commits of
all services queue behind each other, one disk flush after another, instead of sharing
flushes. Inside `after_commit()` the wake-ups a transaction asks for are collected and sent
once, after the block (and so its transaction) ended without an error, in a statement of
their own that writes nothing and so flushes nothing. Outside such a block `wake` sends them
in the caller's transaction, as before.

A wake-up is a hint: every listener also polls, so one lost between a commit and its send (a
crash in between) costs latency, never a message. Listeners see the committed data when the
wake-up comes, which they did not before only by PostgreSQL's promise.

A listener in the same process (the relay or the mail worker of the service that writes)
registers with `listening_here`: a wake-up for it is handed over directly, without a NOTIFY
(a round trip for the sender, and a signal and a read for every listening session). Only
wake-ups that no listener here takes go through the database, for the other replicas. A
relay listens here only while it leads, so the leader elsewhere is still told.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextvars import ContextVar

import asyncpg

from shared.messaging.retry import describe

log = logging.getLogger(__name__)

# The outbox channel of the connection's schema (`<schema>_outbox`), named by the database.
OUTBOX = ""
OUTBOX_SUFFIX = "_outbox"

_SEND = (
    "SELECT pg_notify(CASE WHEN c = '' THEN current_schema() || $2 ELSE c END, '')"
    " FROM unnest($1::text[]) AS c"
)

_pending: ContextVar[set[str] | None] = ContextVar("ks_pending_wakeups", default=None)

# Listeners in this process, by (DSN, channel's full name).
_here: dict[tuple[str, str], list[Callable[[], None]]] = {}


@contextlib.contextmanager
def listening_here(dsn: str, channel: str, callback: Callable[[], None]) -> Iterator[None]:
    """In the block, wake-ups for `channel` (its full name) that this process sends on
    connections to `dsn` (shared.db.pool's) call `callback` instead of going through the
    database. The listener still LISTENs for the other processes' wake-ups."""
    key = (dsn, channel)
    _here.setdefault(key, []).append(callback)
    try:
        yield
    finally:
        _here[key].remove(callback)
        if not _here[key]:
            del _here[key]


def _wake_here(conn: asyncpg.Connection, channels: Iterable[str]) -> list[str]:
    """Wake the listeners here of `channels`; the channels that none here listens to."""
    where: tuple[str, str] | None = getattr(conn, "where", None)
    if where is None:
        return list(channels)
    dsn, schema = where
    elsewhere = []
    for channel in channels:
        callbacks = _here.get((dsn, channel or f"{schema}{OUTBOX_SUFFIX}"))
        if not callbacks:
            elsewhere.append(channel)
        for callback in list(callbacks or ()):
            callback()
    return elsewhere


async def wake(conn: asyncpg.Connection | asyncpg.Pool, channel: str) -> None:
    """Wake the listeners of `channel` (`OUTBOX`: this schema's relay) once this commits."""
    pending = _pending.get()
    if pending is not None:
        pending.add(channel)
        return
    # Outside a transaction (on a pool, or after a statement of its own) what the listeners
    # are woken for is committed already.
    if isinstance(conn, asyncpg.Pool) or not conn.is_in_transaction():
        if not _wake_here(conn, [channel]):
            return
    await conn.execute(_SEND, [channel], OUTBOX_SUFFIX)


@contextlib.asynccontextmanager
async def after_commit(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Collect the wake-ups asked for in the block and send them on `conn` after it.

    Wrap the transaction: `async with after_commit(conn): async with conn.transaction(): ...`.
    Tasks started inside the block share its collection."""
    pending: set[str] = set()
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    elsewhere = _wake_here(conn, sorted(pending))
    if elsewhere:
        try:
            await conn.execute(_SEND, elsewhere, OUTBOX_SUFFIX)
        except Exception as error:  # committed already: a lost hint only delays the listeners
            log.warning("wake-up after commit not sent", extra={"error": describe(error)})
