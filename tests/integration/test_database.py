"""Migrations and roles against the real PostgreSQL: applied once, each role in its own schema."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from asyncpg.exceptions import InsufficientPrivilegeError, UndefinedTableError

from shared.db.migrations import migrate, migration_files
from shared.db.pool import connect
from shared.testing.fixtures import Endpoints, TestDatabase
from tests.integration.support import NOTIFICATION_MIGRATIONS, REGISTRATION_MIGRATIONS, ROOT

pytestmark = pytest.mark.integration


async def test_replicas_migrating_together_apply_each_migration_once(
    database: TestDatabase,
) -> None:
    dsn = database.dsns["registration"]
    expected = [version for version, _ in migration_files(REGISTRATION_MIGRATIONS)]
    assert any(v.startswith("shared/") for v in expected)
    assert any(v.startswith("service/") for v in expected)
    conns = [await connect(dsn, "registration", name=f"replica-{i}") for i in range(3)]
    try:
        applied = await asyncio.gather(
            *(migrate(conn, "registration", REGISTRATION_MIGRATIONS) for conn in conns)
        )
        # Between them the three replicas applied every file, none twice.
        assert sorted(v for versions in applied for v in versions) == sorted(expected)
        rows = await conns[0].fetch("SELECT version FROM schema_migrations")
        assert sorted(r["version"] for r in rows) == sorted(expected)
        # The schema is usable: outbox, inbox and the service's tables are there.
        for table in ("outbox", "inbox", "persons", "interest_registrations"):
            assert await conns[1].fetchval("SELECT to_regclass($1)", f"registration.{table}")
        # Starting again applies nothing.
        assert await migrate(conns[2], "registration", REGISTRATION_MIGRATIONS) == []
        assert await conns[2].fetchval("SELECT count(*) FROM schema_migrations") == len(expected)
    finally:
        for conn in conns:
            await conn.close()


# A table of each schema with personal data in it, to read and write from outside.
TABLES = {
    "registration": "persons",
    "scheduling": "invitations",
    "notification": "deliveries",
}
MIGRATIONS = {
    "registration": REGISTRATION_MIGRATIONS,
    "scheduling": ROOT / "services" / "scheduling" / "migrations",
    "notification": NOTIFICATION_MIGRATIONS,
}


async def test_each_service_role_reaches_its_own_schema_and_no_other(
    database: TestDatabase, endpoints: Endpoints
) -> None:
    """Connected as a service's login role: its own schema takes reads, writes and new
    tables; every other service's schema, `public`, a new schema and temporary tables
    are refused (permission denied), whatever the search_path says."""
    assert set(database.dsns) == set(TABLES), "a service without a table to probe here"
    conns = {s: await connect(database.dsns[s], s, name=f"{s}-probe") for s in TABLES}
    table = f"intruder_{uuid.uuid4().hex[:8]}"
    # Something in `public` to try to read: only a superuser can put it there.
    superuser = await asyncpg.connect(_in_database(endpoints.pg_superuser_dsn, database.name))
    refused: list[str] = []
    allowed: list[str] = []

    async def expect_refused(
        service: str, sql: str, refusal: type[Exception] = InsufficientPrivilegeError
    ) -> None:
        try:
            await conns[service].execute(sql)
        except refusal:
            return
        allowed.append(f"{service}: {sql}")

    try:
        await superuser.execute(f"CREATE TABLE public.{table} (id int)")
        for service, conn in conns.items():
            await migrate(conn, service, MIGRATIONS[service])
        for service, conn in conns.items():
            own = TABLES[service]
            # Its own schema: read, write, create (and clean up after itself).
            try:
                await conn.fetchval(f"SELECT count(*) FROM {service}.{own}")
                await conn.execute(f"CREATE TABLE {service}.{table} (id int)")
                await conn.execute(f"INSERT INTO {service}.{table} VALUES (1)")
                assert await conn.fetchval(f"SELECT id FROM {table}") == 1  # by search_path
                await conn.execute(f"DROP TABLE {service}.{table}")
            except InsufficientPrivilegeError as error:
                refused.append(f"{service} in its own schema: {error}")
            for other, other_table in TABLES.items():
                if other == service:
                    continue
                target = f"{other}.{other_table}"
                await expect_refused(service, f"SELECT * FROM {target}")
                await expect_refused(service, f"INSERT INTO {target} DEFAULT VALUES")
                await expect_refused(service, f"UPDATE {target} SET id = id")
                await expect_refused(service, f"DELETE FROM {target}")
                await expect_refused(service, f"CREATE TABLE {other}.{table} (id int)")
                await expect_refused(service, f"DROP TABLE {target}")
                # The search_path is no way round it: a schema without USAGE is skipped.
                await expect_refused(
                    service,
                    f"SET search_path TO {other}; SELECT * FROM {other_table}",
                    UndefinedTableError,
                )
                await conn.execute(f'SET search_path TO "{service}"')
                await expect_refused(service, f"SET ROLE {other}")
            await expect_refused(service, f"SELECT * FROM public.{table}")
            await expect_refused(service, f"INSERT INTO public.{table} VALUES (1)")
            await expect_refused(service, f"CREATE TABLE public.{table}_{service} (id int)")
            await expect_refused(service, f"CREATE SCHEMA {table}")
            await expect_refused(service, f"CREATE TEMPORARY TABLE {table} (id int)")
        assert not refused, f"refused in their own schema: {refused}"
        assert not allowed, f"allowed outside their own schema: {allowed}"
    finally:
        for conn in conns.values():
            await conn.close()
        await superuser.close()


def _in_database(dsn: str, name: str) -> str:
    return dsn.rpartition("/")[0] + "/" + name
