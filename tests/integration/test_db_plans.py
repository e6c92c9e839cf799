"""Connections that plan each statement for the table as it is now (`custom_plans`), against
the real PostgreSQL. The outbox relay and the mail worker mark rows by key on tables that grow
fast from near empty: a plan kept from when a table was small may read all of it later (seen
in the benchmark on a fresh database: 2 to 3 ms a mark, see docs/performance.md)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from shared.db.pool import connect
from shared.testing.fixtures import TestDatabase

pytestmark = pytest.mark.integration


async def plans_of_a_repeated_mark(dsn: str, *, custom_plans: bool) -> tuple[int, int]:
    """Mark ten new rows at a time, eight times, as a relay does; return how often the mark
    was planned for its own parameters, and how often a kept generic plan was used."""
    table = f"marks_{uuid.uuid4().hex[:10]}"
    mark = f"UPDATE {table} SET published_at = now() WHERE id = ANY($1::bigint[])"
    conn = await connect(dsn, "registration", name="test-plans", custom_plans=custom_plans)
    try:
        await conn.execute(
            f"CREATE TABLE {table} (id bigserial PRIMARY KEY, published_at timestamptz,"
            " payload text) WITH (autovacuum_enabled = false)"
        )
        for _ in range(8):  # more than the five executions after which a generic plan may stay
            ids = await conn.fetch(
                f"INSERT INTO {table} (payload)"
                " SELECT repeat('x', 1000) FROM generate_series(1, 10) RETURNING id"
            )
            await conn.execute(mark, [row["id"] for row in ids])
        # asyncpg prepares the statement once on the connection and executes it each time.
        row = await conn.fetchrow(
            "SELECT custom_plans, generic_plans FROM pg_prepared_statements WHERE statement = $1",
            mark,
        )
        assert row is not None, "the mark was prepared on the connection"
        return row["custom_plans"], row["generic_plans"]
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()


async def test_a_connection_with_custom_plans_plans_every_mark_for_the_table_as_it_is(
    database: TestDatabase, registration_pool: asyncpg.Pool
) -> None:
    dsn = database.dsns["registration"]
    assert await plans_of_a_repeated_mark(dsn, custom_plans=True) == (8, 0)
    # What it avoids: by default the sixth execution on uses the plan made once, and keeps it.
    custom, generic = await plans_of_a_repeated_mark(dsn, custom_plans=False)
    assert (custom, generic) == (5, 3)
