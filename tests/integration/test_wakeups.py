"""Wake-ups after a commit: handed straight to a listener in this process, through the
database (NOTIFY) to the others, and to nobody when the transaction does not commit."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.db.pool import connect
from shared.outbox import notify_channel
from shared.testing.fixtures import TestDatabase, eventually
from shared.wakeups import OUTBOX, after_commit, listening_here, wake
from tests.integration.support import NOTIFICATION_MIGRATIONS, migrated_pool

pytestmark = pytest.mark.integration

SCHEMA = "notification"


class Heard:
    """What a LISTEN session on the channel received, in order."""

    def __init__(self) -> None:
        self.payloads: list[str] = []

    def __call__(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.payloads.append(payload)


async def _commit_with_a_wake_up(
    pool: asyncpg.Pool, woken: list[str], *, fail: bool = False
) -> None:
    before = list(woken)
    async with pool.acquire() as conn, after_commit(conn), conn.transaction():
        await wake(conn, OUTBOX)
        await conn.execute("SELECT 1")
        assert woken == before, "woken before the commit"
        if fail:
            raise RuntimeError("the handler failed")


async def _marker_after(dsn: str, heard: Heard) -> list[str]:
    """NOTIFY a marker from another session and wait for it: whatever our wake-up sent
    through the database was committed before it, so it is heard before it."""
    other = await asyncpg.connect(dsn)
    try:
        await other.execute(f"SELECT pg_notify('{notify_channel(SCHEMA)}', 'marker')")
    finally:
        await other.close()
    await eventually(
        lambda: asyncio.sleep(0, "marker" in heard.payloads), timeout=10, what="the marker"
    )
    return heard.payloads[: heard.payloads.index("marker")]


async def test_a_listener_here_is_woken_after_the_commit_without_a_notify(
    database: TestDatabase,
) -> None:
    dsn = database.dsns["notification"]
    pool = await migrated_pool(dsn, SCHEMA, NOTIFICATION_MIGRATIONS)
    listener = await connect(dsn, SCHEMA)
    heard = Heard()
    await listener.add_listener(notify_channel(SCHEMA), heard)
    woken: list[str] = []
    try:
        with listening_here(dsn, notify_channel(SCHEMA), lambda: woken.append("relay")):
            await _commit_with_a_wake_up(pool, woken)
            assert woken == ["relay"]
            with pytest.raises(RuntimeError):
                await _commit_with_a_wake_up(pool, woken, fail=True)
            assert woken == ["relay"], "a rolled back transaction woke the listener"
        assert await _marker_after(dsn, heard) == [], "the wake-up also went as a NOTIFY"
    finally:
        await listener.close()
        await pool.close()


async def test_without_a_listener_here_the_wake_up_goes_through_the_database(
    database: TestDatabase,
) -> None:
    dsn = database.dsns["notification"]
    pool = await migrated_pool(dsn, SCHEMA, NOTIFICATION_MIGRATIONS)
    listener = await connect(dsn, SCHEMA)
    heard = Heard()
    await listener.add_listener(notify_channel(SCHEMA), heard)
    woken: list[str] = []
    try:
        # A listener here on another schema's channel does not take this one's wake-up.
        with listening_here(dsn, notify_channel("registration"), lambda: woken.append("other")):
            await _commit_with_a_wake_up(pool, woken)
        assert woken == []
        assert await _marker_after(dsn, heard) == [""]
    finally:
        await listener.close()
        await pool.close()


async def test_a_wake_up_in_a_transaction_without_after_commit_goes_as_a_notify(
    database: TestDatabase,
) -> None:
    """Sent in the transaction, as before: the NOTIFY is delivered when it commits, never the
    listener here before the data it is woken for is there."""
    dsn = database.dsns["notification"]
    pool = await migrated_pool(dsn, SCHEMA, NOTIFICATION_MIGRATIONS)
    listener = await connect(dsn, SCHEMA)
    heard = Heard()
    await listener.add_listener(notify_channel(SCHEMA), heard)
    woken: list[str] = []
    try:
        with listening_here(dsn, notify_channel(SCHEMA), lambda: woken.append("relay")):
            async with pool.acquire() as conn, conn.transaction():
                await wake(conn, OUTBOX)
            assert woken == []
        assert await _marker_after(dsn, heard) == [""]
    finally:
        await listener.close()
        await pool.close()
