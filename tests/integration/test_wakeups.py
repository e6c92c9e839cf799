"""Wake-ups after a commit: handed straight to a listener in this process, through the
database (NOTIFY) to the others, and to nobody when the transaction does not commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest

from shared.db.pool import connect
from shared.messaging.outbox import notify_channel
from shared.messaging.wakeups import OUTBOX, after_commit, listening_here, wake
from shared.testing.fixtures import TestDatabase, eventually
from tests.integration.support import NOTIFICATION_MIGRATIONS, migrated_pool

pytestmark = pytest.mark.integration

SCHEMA = "notification"
CHANNEL = notify_channel(SCHEMA)


@dataclass
class Session:
    """A pool that writes, and a LISTEN session on the schema's outbox channel."""

    dsn: str
    pool: asyncpg.Pool
    heard: list[str] = field(default_factory=list)
    woken: list[str] = field(default_factory=list)

    def on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.heard.append(payload)

    async def commit_with_a_wake_up(self, *, fail: bool = False) -> None:
        before = list(self.woken)
        async with self.pool.acquire() as conn, after_commit(conn), conn.transaction():
            await wake(conn, OUTBOX)
            await conn.execute("SELECT 1")
            assert self.woken == before, "woken before the commit"
            if fail:
                raise RuntimeError("the handler failed")

    async def notified_before_a_marker(self) -> list[str]:
        """NOTIFY a marker from another session and wait for it: whatever a wake-up sent
        through the database was committed before it, so it is heard before it."""
        other = await asyncpg.connect(self.dsn)
        try:
            await other.execute(f"SELECT pg_notify('{CHANNEL}', 'marker')")
        finally:
            await other.close()

        async def marker_heard() -> bool:
            return "marker" in self.heard

        await eventually(marker_heard, timeout=10, what="the marker")
        return self.heard[: self.heard.index("marker")]


@pytest.fixture
async def session(database: TestDatabase) -> AsyncIterator[Session]:
    dsn = database.dsns["notification"]
    pool = await migrated_pool(dsn, SCHEMA, NOTIFICATION_MIGRATIONS)
    listener = await connect(dsn, SCHEMA)
    session = Session(dsn, pool)
    await listener.add_listener(CHANNEL, session.on_notify)
    try:
        yield session
    finally:
        await listener.close()
        await pool.close()


async def test_a_listener_here_is_woken_after_the_commit_without_a_notify(
    session: Session,
) -> None:
    with listening_here(session.dsn, CHANNEL, lambda: session.woken.append("relay")):
        await session.commit_with_a_wake_up()
        assert session.woken == ["relay"]
        with pytest.raises(RuntimeError):
            await session.commit_with_a_wake_up(fail=True)
        assert session.woken == ["relay"], "a rolled back transaction woke the listener"
    assert await session.notified_before_a_marker() == [], "the wake-up also went as a NOTIFY"


async def test_without_a_listener_here_the_wake_up_goes_through_the_database(
    session: Session,
) -> None:
    # A listener here on another schema's channel does not take this one's wake-up.
    other = notify_channel("registration")
    with listening_here(session.dsn, other, lambda: session.woken.append("other")):
        await session.commit_with_a_wake_up()
    assert session.woken == []
    assert await session.notified_before_a_marker() == [""]


async def test_a_wake_up_in_a_transaction_without_after_commit_goes_as_a_notify(
    session: Session,
) -> None:
    """Sent in the transaction, as before: the NOTIFY is delivered when it commits, never the
    listener here before the data it is woken for is there."""
    with listening_here(session.dsn, CHANNEL, lambda: session.woken.append("relay")):
        async with session.pool.acquire() as conn, conn.transaction():
            await wake(conn, OUTBOX)
        assert session.woken == []
    assert await session.notified_before_a_marker() == [""]
