"""Connection pools: one per service process, built at start-up, search_path on its schema."""

from __future__ import annotations

import functools
import json

import asyncpg


class Connection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg is untyped
    """A connection that knows where it points: the DSN and the schema it was opened with, so
    that a wake-up sent on it can reach a listener in this process directly (shared/messaging/wakeups)."""

    where: tuple[str, str] | None = None


async def _init_connection(
    conn: asyncpg.Connection, *, where: tuple[str, str] | None = None
) -> None:
    if isinstance(conn, Connection):
        conn.where = where
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _no_session_state(conn: asyncpg.Connection) -> None:
    """What a released connection needs beyond asyncpg's own clean-up: nothing.

    asyncpg rolls back an open transaction and drops listeners on release; its default reset
    then also sends `RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()`, a round trip
    on every release. Pooled connections keep no session state (session locks and LISTEN
    live on connections of their own, see the outbox relay and the mail worker), so that
    round trip would buy nothing.
    """


def _settings(
    schema: str, name: str, custom_plans: bool, queue_reads: bool, index_plans: bool = False
) -> dict[str, str]:
    if custom_plans and index_plans:
        raise ValueError("a connection plans each execution or keeps its plans, not both")
    settings = {"search_path": schema, "application_name": name or schema, "timezone": "UTC"}
    if custom_plans:
        settings["plan_cache_mode"] = "force_custom_plan"
    if index_plans:
        settings["plan_cache_mode"] = "force_generic_plan"
        for way in ("seqscan", "hashjoin", "mergejoin", "material"):
            settings[f"enable_{way}"] = "off"
    if queue_reads:
        settings["enable_bitmapscan"] = "off"
    return settings


# `custom_plans`: each execution of a prepared statement is planned for its own parameters and
# the table as it is now, not once for all (PostgreSQL's generic plan, made after five
# executions with the statistics of that moment and kept until the table is analyzed again).
# For the few statements a worker repeats on a table that grows fast from near empty (the
# outbox relay's and the mail worker's marks and claims), a generic plan made while the table
# was small reads the whole table on every call until autovacuum analyzes it (the figures are
# in docs/performance.md, seventh round). Planning each time costs a little on every
# statement, so the consumers' pools, whose statements run on lookups by key, keep the generic
# plans.
#
# `queue_reads`: no bitmap scans, for a worker that takes its work from a table through a
# partial index of the rows still to do (the outbox relay: `outbox_unpublished`; the mail
# worker: `deliveries_due`). A row done leaves an entry for its old version in that index until
# vacuum. A plain index scan marks such an entry dead the first time it passes it, and later
# scans step over it; a bitmap scan marks nothing and reads the page of every row done since
# the last vacuum, and the planner takes it when its statistics say that little is to do
# (docs/performance.md, eighth round, has what that cost the relay and the mail worker).
#
# `index_plans`: the other way out for such a statement: planned once, for any parameters
# (`force_generic_plan`), and only as lookups through indexes: no sequential scan, and joins
# only as nested loops that look each row up (no hash, merge or materialized join, each of
# which reads a whole table or index and looks cheapest on a table that is small when the plan
# is made). So the plan it keeps, made while the table was empty or full, reads what it needs.
# For the mail worker's claim, a join of four tables, planning cost more than running it
# (docs/performance.md, fourteenth round). Only for statements that have an index for each
# lookup; their plans are checked in tests/integration/test_db_plans.py.


async def create_pool(
    dsn: str,
    schema: str,
    *,
    max_size: int = 10,
    name: str = "",
    custom_plans: bool = False,
    queue_reads: bool = False,
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        connection_class=Connection,
        init=functools.partial(_init_connection, where=(dsn, schema)),
        reset=_no_session_state,
        server_settings=_settings(schema, name, custom_plans, queue_reads),
    )
    assert pool is not None
    return pool


async def connect(
    dsn: str,
    schema: str,
    *,
    name: str = "",
    custom_plans: bool = False,
    queue_reads: bool = False,
    index_plans: bool = False,
) -> asyncpg.Connection:
    """One connection of its own (see above for `custom_plans`, `queue_reads` and
    `index_plans`)."""
    conn = await asyncpg.connect(
        dsn,
        connection_class=Connection,
        server_settings=_settings(schema, name, custom_plans, queue_reads, index_plans),
    )
    await _init_connection(conn, where=(dsn, schema))
    return conn
