"""Outbox and inbox rows go after their retention period, on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import asyncpg
import pytest

from services.scheduling.app import service_spec
from services.scheduling.settings import SchedulingSettings
from shared.runtime.housekeeping import purge
from shared.runtime.service import build_app
from shared.runtime.settings import ServiceSettings
from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.integration.support import ROOT, migrated_pool

pytestmark = pytest.mark.integration

SCHEDULING_MIGRATIONS = ROOT / "services" / "scheduling" / "migrations"


class Settings(ServiceSettings):
    SERVICE: ClassVar[str] = "scheduling"


@pytest.fixture
async def pool(database: TestDatabase) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_pool(database.dsns["scheduling"], "scheduling", SCHEDULING_MIGRATIONS)
    yield pool
    await pool.close()


async def add_outbox(pool: asyncpg.Pool, name: str, *, age_days: float, published: bool) -> None:
    await pool.execute(
        "INSERT INTO outbox (event_id, topic, key, headers, payload, created_at, published_at)"
        " VALUES ($1, 'topic', 'key', '[]', 'x', now() - make_interval(secs => $2::float8 * 86400),"
        " CASE WHEN $3 THEN now() - make_interval(secs => $2::float8 * 86400) END)",
        name,
        age_days,
        published,
    )


async def add_discarded(pool: asyncpg.Pool, name: str, *, age_days: float) -> None:
    """A row an operator gave up on (`kulturskole outbox discard`) `age_days` ago."""
    await pool.execute(
        "INSERT INTO outbox (event_id, topic, key, headers, payload, created_at, parked_at,"
        " parked_reason, discarded_at, discarded_reason)"
        " VALUES ($1, 'topic', 'key', '[]', 'x', now() - make_interval(secs => $2::float8 * 86400),"
        " now() - make_interval(secs => $2::float8 * 86400), 'too large',"
        " now() - make_interval(secs => $2::float8 * 86400), 'given up')",
        name,
        age_days,
    )


async def add_inbox(pool: asyncpg.Pool, name: str, *, age_days: float) -> None:
    await pool.execute(
        "INSERT INTO inbox (message_id, type, topic, processed_at)"
        " VALUES ($1, 'type', 'topic', now() - make_interval(secs => $2::float8 * 86400))",
        name,
        age_days,
    )


async def remaining(pool: asyncpg.Pool) -> tuple[set[str], set[str]]:
    outbox = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM outbox")}
    inbox = {r["message_id"] for r in await pool.fetch("SELECT message_id FROM inbox")}
    return outbox, inbox


async def seed(pool: asyncpg.Pool) -> None:
    for n in range(3):  # more than one batch below
        await add_outbox(pool, f"published-8d-{n}", age_days=8, published=True)
        await add_inbox(pool, f"handled-31d-{n}", age_days=31)
    await add_outbox(pool, "published-6d", age_days=6, published=True)
    await add_outbox(pool, "waiting-60d", age_days=60, published=False)
    await add_outbox(pool, "waiting-now", age_days=0, published=False)
    await add_discarded(pool, "discarded-8d", age_days=8)
    await add_discarded(pool, "discarded-6d", age_days=6)
    await add_inbox(pool, "handled-8d", age_days=8)
    await add_inbox(pool, "handled-now", age_days=0)


KEPT_OUTBOX = {"published-6d", "waiting-60d", "waiting-now", "discarded-6d"}
KEPT_INBOX = {"handled-8d", "handled-now"}


async def test_purge_deletes_only_what_is_past_its_retention(
    pool: asyncpg.Pool, database: TestDatabase
) -> None:
    await seed(pool)
    settings = Settings(database_url=database.dsns["scheduling"])  # retention: the defaults

    deleted = await purge(pool, settings, batch_size=2)

    assert await remaining(pool) == (KEPT_OUTBOX, KEPT_INBOX)
    assert (deleted["outbox"], deleted["inbox"]) == (4, 3)
    # Nothing more is due: a second run deletes nothing.
    assert not any((await purge(pool, settings)).values())


async def test_retention_comes_from_the_settings(
    pool: asyncpg.Pool, database: TestDatabase
) -> None:
    await seed(pool)
    settings = Settings(
        database_url=database.dsns["scheduling"], outbox_retention_days=5, inbox_retention_days=7
    )

    await purge(pool, settings)

    # Unpublished rows stay whatever their age: they are events still on their way.
    assert await remaining(pool) == ({"waiting-60d", "waiting-now"}, {"handled-now"})


async def test_a_retention_of_part_of_a_day_is_not_rounded_down(
    pool: asyncpg.Pool, database: TestDatabase
) -> None:
    await add_inbox(pool, "handled-13h", age_days=13 / 24)
    await add_inbox(pool, "handled-11h", age_days=11 / 24)
    settings = Settings(database_url=database.dsns["scheduling"], inbox_retention_days=0.5)

    await purge(pool, settings)

    assert (await remaining(pool))[1] == {"handled-11h"}


async def test_a_service_runs_housekeeping(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str, pool: asyncpg.Pool
) -> None:
    # Published rows only: the service's relay would send waiting ones to a made-up topic.
    await add_outbox(pool, "published-8d", age_days=8, published=True)
    await add_outbox(pool, "published-6d", age_days=6, published=True)
    await add_inbox(pool, "handled-31d", age_days=31)
    await add_inbox(pool, "handled-8d", age_days=8)
    settings = SchedulingSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        database_url=database.dsns["scheduling"],
        topic_prefix=topic_prefix,
    )
    app = build_app(service_spec(settings))

    async def purged() -> bool:
        return await remaining(pool) == ({"published-6d"}, {"handled-8d"})

    async with app.router.lifespan_context(app):
        await eventually(purged, timeout=30, what="old outbox and inbox rows purged")
