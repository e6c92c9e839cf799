"""How the outbox relay's and the mail worker's statements are planned, against the real
PostgreSQL.

Connections that plan each statement for the table as it is now (`custom_plans`): the outbox
relay and the mail worker mark rows by key on tables that grow fast from near empty, and a
plan kept from when a table was small may read all of it later (seen in the benchmark on a
fresh database: 2 to 3 ms a mark, see docs/performance.md). And the relay's next batch and the
mail worker's claim, which must not read again the rows done since the last vacuum; the claim
is planned once on its session (`index_plans`), and the plans it keeps read through indexes."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest

from services.notification.adapters import repository
from services.notification.entrypoints import mailer
from services.notification.settings import NotificationSettings
from shared.db.pool import connect
from shared.messaging.outbox import OutboxRelay
from shared.testing.fixtures import TestDatabase
from tests.integration.support import NOTIFICATION_MIGRATIONS, migrated_pool

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


async def analyzed(conn: asyncpg.Connection, statement: str, *args: object) -> dict[str, Any]:
    """The plan `statement` ran with (`EXPLAIN ANALYZE`, with buffers), in a transaction rolled
    back after it: a claim explained this way claims nothing."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        explained = await conn.fetchval(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, *args
        )
    finally:
        await transaction.rollback()
    plan: dict[str, Any] = json.loads(explained)[0]["Plan"]
    return plan


def blocks(node: dict[str, Any]) -> int:
    """Blocks a plan node read, from the cache or not."""
    return int(node["Shared Hit Blocks"] + node["Shared Read Blocks"])


async def test_the_relays_next_batch_reads_each_waiting_row_once(
    database: TestDatabase, registration_pool: asyncpg.Pool
) -> None:
    # As in a burst: rows written a thousand at a time and published by batches, then the
    # table analyzed at a moment when nothing waited (autovacuum may do so at any time), and
    # then a thousand rows waiting.
    relay = OutboxRelay(dsn=database.dsns["registration"], schema="registration", bootstrap="")
    conn = await relay.connect()
    write = (
        "INSERT INTO outbox (event_id, topic, key, headers, payload)"
        " SELECT gen_random_uuid()::text, 'test.plans', (g % 10)::text, '[]'::jsonb,"
        " convert_to(repeat('x', 300), 'UTF8') FROM generate_series(1, 1000) AS g"
    )
    mark = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
    try:
        for _ in range(10):
            await conn.execute(write)
            while batch := await conn.fetch(relay._next_batch):
                await conn.execute(mark, [row["id"] for row in batch])
        await conn.execute("ANALYZE outbox")
        await conn.execute(write)

        plan = await analyzed(conn, relay._next_batch)
        read = blocks(plan)
        # A full batch, for fewer blocks than rows: not every waiting row read once per row
        # (72,107 blocks before the parked rows were read once per batch), nor the pages of
        # the rows published before (a bitmap scan).
        assert plan["Actual Rows"] == relay.batch_size
        assert read < relay.batch_size, (read, plan)
    finally:
        await conn.close()


# The claim prepared as `claim_probe`, run through `analyzed` with the plan it keeps.
KEPT_CLAIM = "EXECUTE claim_probe(100, 300, 300, 1, '{}')"


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """`plan` and every node under it."""
    found = [plan]
    for node in plan.get("Plans", []):
        found += nodes(node)
    return found


def whole_reads(plan: dict[str, Any]) -> list[str]:
    """The nodes of `plan` that read a whole table or index: a sequential scan, an index scan
    without a condition (but the one that walks the due mails in order), a hash, merge or
    materialized join."""
    found = []
    for node in nodes(plan):
        kind = node["Node Type"]
        where = node.get("Relation Name", "")
        if kind in ("Seq Scan", "Hash Join", "Merge Join", "Materialize"):
            found.append(f"{kind} {where}")
        elif kind == "Index Scan" and "Index Cond" not in node:
            if node["Index Name"] != "deliveries_due":
                found.append(f"{kind} {where} ({node['Index Name']})")
    return found


def due_part(plan: dict[str, Any]) -> dict[str, Any]:
    """The claim's `due`: the due mails, found and locked (under its Limit), apart from what
    the update then writes to the table and its indexes."""
    return next(node for node in plan["Plans"] if node["Node Type"] == "Limit")


async def test_the_mail_workers_claim_reads_the_due_mails_not_the_sent_ones(
    database: TestDatabase,
) -> None:
    # The claim is planned once, on the worker's session (`index_plans`). Its plan is made on
    # a table of three rows, kept while a thousand mails at a time are planned, claimed and sent,
    # made again when the table is analyzed at a moment when nothing was due; then 50 are due.
    dsn = database.dsns["notification"]
    setup = await migrated_pool(dsn, "notification", NOTIFICATION_MIGRATIONS)
    pool = await mailer.open_pool(NotificationSettings(database_url=dsn))
    worker = await connect(
        dsn, "notification", name="test-plans-worker", queue_reads=True, index_plans=True
    )
    plan_mails = (
        "INSERT INTO deliveries (id, event_id, recipient_key, address, template, context)"
        " SELECT gen_random_uuid(), gen_random_uuid()::text, 'mailbox:post@example.no',"
        " 'post@example.no', 'interest_programme_copy', jsonb_build_object('text', repeat('x', 300))"
        " FROM generate_series(1, $1::int)"
    )
    claim: dict[str, Any] = {"lease_s": 300, "reply_to_wait_s": 300}
    try:
        lock = await repository.hold_worker_lock(worker, 1)
        await setup.execute(plan_mails, 3)
        await setup.execute("ANALYZE deliveries")
        await worker.execute(f"PREPARE claim_probe AS {repository._CLAIM}")
        await analyzed(worker, KEPT_CLAIM)  # planned now, on a table of three rows
        for _ in range(10):
            await setup.execute(plan_mails, 1000)
            while claimed := await repository.claim_due(lock, limit=200, **claim):
                await pool.execute(
                    "UPDATE deliveries SET status = 'sent', sent_at = now() WHERE id = ANY($1)",
                    [mail.id for mail in claimed],
                )
        await setup.execute(plan_mails, 50)
        kept = await analyzed(worker, KEPT_CLAIM)

        await setup.execute("UPDATE deliveries SET status = 'sent' WHERE status = 'pending'")
        await setup.execute("ANALYZE deliveries")
        await setup.execute(plan_mails, 50)
        analyzed_when_none_due = await analyzed(worker, KEPT_CLAIM)

        plans = await worker.fetchrow(
            "SELECT custom_plans, generic_plans FROM pg_prepared_statements"
            " WHERE name = 'claim_probe'"
        )
        assert plans is not None and plans["custom_plans"] == 0, plans
        # 55 blocks for 50 mails; 1,485 when the claims before it read by bitmap scans, which
        # left the entries of every sent mail for each later claim to read again; a whole
        # table's (some 2,000) with a sequential scan.
        for plan in (kept, analyzed_when_none_due):
            due = due_part(plan)
            assert due["Actual Rows"] == 50
            assert blocks(due) < 200, due
            # The plan made on three rows, without `index_plans`, found the claimed rows again
            # by reading the whole table (a Seq Scan on deliveries).
            assert whole_reads(plan) == [], plan
    finally:
        await worker.close()
        await pool.close()
        await setup.close()
