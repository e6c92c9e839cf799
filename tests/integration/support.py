"""Helpers for the integration tier: read topics to their end, run tasks, migrate a schema."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from shared.db.migrations import migrate
from shared.db.pool import connect, create_pool
from shared.runtime.auth import issue_person_token

ROOT = Path(__file__).resolve().parents[2]
REGISTRATION_MIGRATIONS = ROOT / "services" / "registration" / "migrations"
NOTIFICATION_MIGRATIONS = ROOT / "services" / "notification" / "migrations"
# The services under test take person tokens signed with this (as a sign-in front signs them).
PERSON_TOKEN_SECRET = "test-person-token-secret-not-for-use"


def person_token(role: str, name: str, branch: str | None = None, *, expired: bool = False) -> str:
    """A person token as the sign-in front issues it; `expired`: one that ran out an hour ago."""
    now = time.time() - (3600 if expired else 0)
    return issue_person_token(PERSON_TOKEN_SECRET, role, name, branch, 600, now=now)


def as_person(role: str, name: str, branch: str | None = None) -> dict[str, str]:
    """The headers of a request a signed-in person makes through the front."""
    return {"Authorization": f"Bearer {person_token(role, name, branch)}"}


async def migrated_pool(dsn: str, schema: str, migrations: Path) -> asyncpg.Pool:
    conn = await connect(dsn, schema)
    try:
        await migrate(conn, schema, migrations)
    finally:
        await conn.close()
    return await create_pool(dsn, schema, max_size=4, name=f"{schema}-test")


async def read_to_end(bootstrap: str, topic: str, *, timeout: float = 30.0) -> list[ConsumerRecord]:
    """Every record on `topic` up to its current end offsets, in partition then offset order.

    Call it once the records of interest are acknowledged by the broker (published_at set,
    send_and_wait returned): then the end offsets cover them, and duplicates would show too.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        assert partitions, f"no partitions assigned for {topic}"
        ends = await consumer.end_offsets(partitions)
        records: dict[int, list[ConsumerRecord]] = {tp.partition: [] for tp in partitions}
        deadline = time.monotonic() + timeout
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"timed out reading {topic} to {ends}"
            batch = await consumer.getmany(*partitions, timeout_ms=500)
            for tp, part in batch.items():
                records[tp.partition].extend(r for r in part if r.offset < ends[tp])
    finally:
        await consumer.stop()
    return [r for p in sorted(records) for r in records[p]]


def headers_of(record: ConsumerRecord) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers or ()}


def data_of(record: ConsumerRecord) -> dict[str, Any]:
    assert record.value is not None
    found: dict[str, Any] = json.loads(record.value)
    return found


@contextlib.asynccontextmanager
async def running(coro: Coroutine[Any, Any, None], name: str) -> AsyncIterator[asyncio.Task[None]]:
    """Run `coro` as a task for the block; cancel it afterwards (it must not have died)."""
    task = asyncio.create_task(coro, name=name)
    try:
        yield task
        if task.done():
            # A relay never returns on its own: surface how it ended.
            task.result()
            raise AssertionError(f"{name} ended on its own")
    finally:
        await stop(task)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
