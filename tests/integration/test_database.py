"""Migrations and roles against the real PostgreSQL: applied once, each role in its own schema."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from shared.db.migrations import migrate, migration_files
from shared.db.pool import connect
from shared.testing.fixtures import TestDatabase
from tests.integration.support import NOTIFICATION_MIGRATIONS, REGISTRATION_MIGRATIONS

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


async def test_a_service_role_reaches_only_its_own_schema(database: TestDatabase) -> None:
    registration = await connect(database.dsns["registration"], "registration")
    notification = await connect(database.dsns["notification"], "notification")
    table = f"intruder_{uuid.uuid4().hex[:8]}"
    try:
        await migrate(registration, "registration", REGISTRATION_MIGRATIONS)
        await migrate(notification, "notification", NOTIFICATION_MIGRATIONS)
        # Each role works in its own schema.
        assert await notification.fetchval("SELECT count(*) FROM notification.deliveries") == 0
        await registration.execute(f"CREATE TABLE registration.{table} (id int)")

        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            await registration.fetch("SELECT * FROM notification.deliveries")
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            await registration.execute(f"CREATE TABLE public.{table} (id int)")
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            await registration.execute(f"CREATE TABLE notification.{table} (id int)")
        # And the other way round: contact data held by registration stays there.
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            await notification.fetch("SELECT email FROM registration.persons")
    finally:
        await registration.close()
        await notification.close()
