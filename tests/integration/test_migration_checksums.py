"""Migration checksums against the real PostgreSQL: recorded when applied, recorded late for a
database older than them, and a changed file stops the start (of `migrate`, of the service
process) and shows in `kulturskole migrations status`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from shared.db.migrations import MigrationChanged, checksum, migrate, migration_files
from shared.db.pool import connect
from shared.runtime.catalog import Catalog
from shared.testing.fixtures import ROOT, Endpoints, ServiceProcesses, TestDatabase
from tests.integration.support import REGISTRATION_MIGRATIONS

pytestmark = pytest.mark.integration

FILES = migration_files(REGISTRATION_MIGRATIONS)


async def migrated(database: TestDatabase) -> asyncpg.Connection:
    conn = await connect(database.dsns["registration"], "registration")
    await migrate(conn, "registration", REGISTRATION_MIGRATIONS)
    return conn


async def recorded(conn: asyncpg.Connection) -> dict[str, str | None]:
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {r["version"]: r["checksum"] for r in rows}


def kulturskole(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command line, as an operator runs it, with only the settings given here."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KS_")}
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_each_applied_file_has_its_sha256_and_a_changed_one_stops_the_start(
    database: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    conn = await migrated(database)
    try:
        assert await recorded(conn) == {version: checksum(path) for version, path in FILES}
        version, path = FILES[-1]
        await conn.execute(
            "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = $1", version
        )
        caplog.set_level(logging.ERROR, logger="shared.db.migrations")
        with pytest.raises(MigrationChanged) as raised:
            await migrate(conn, "registration", REGISTRATION_MIGRATIONS)
        assert str(path) in str(raised.value) and "registration" in str(raised.value)
        assert any("not starting" in r.getMessage() for r in caplog.records)
        # The lock is free again: the mended file lets the next start through.
        await conn.execute(
            "UPDATE schema_migrations SET checksum = $2 WHERE version = $1",
            version,
            checksum(path),
        )
        assert await migrate(conn, "registration", REGISTRATION_MIGRATIONS) == []
    finally:
        await conn.close()


async def test_a_database_from_before_checksums_gets_them_recorded_at_its_next_start(
    database: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    conn = await migrated(database)
    try:
        # As every database migrated before checksums were kept looks.
        await conn.execute("ALTER TABLE schema_migrations DROP COLUMN checksum")
        caplog.set_level(logging.INFO, logger="shared.db.migrations")

        assert await migrate(conn, "registration", REGISTRATION_MIGRATIONS) == []

        assert await recorded(conn) == {version: checksum(path) for version, path in FILES}
        said = [r for r in caplog.records if r.getMessage().startswith("recorded checksums")]
        assert [getattr(r, "versions", None) for r in said] == [[v for v, _ in FILES]]
    finally:
        await conn.close()


async def test_migrations_status_lists_applied_pending_and_changed_per_service(
    database: TestDatabase,
) -> None:
    conn = await migrated(database)
    env = {
        "KS_REGISTRATION_DATABASE_URL": database.dsns["registration"],
        "KS_SCHEDULING_DATABASE_URL": database.dsns["scheduling"],
    }
    last, before_last = FILES[-1][0], FILES[-2][0]
    try:
        # As a database looks before the last file's first start: that one is pending.
        await conn.execute("DELETE FROM schema_migrations WHERE version = $1", last)
        done = await asyncio.to_thread(
            kulturskole, "migrations", "status", "--service", "registration", "--json", env=env
        )
        assert done.returncode == 0, done.stderr
        states = {row["version"]: row for row in map(json.loads, done.stdout.splitlines())}
        assert list(states) == [version for version, _ in FILES]
        assert states[last]["state"] == "pending" and states[last]["applied_at"] is None
        assert {row["state"] for v, row in states.items() if v != last} == {"applied"}
        assert states[before_last]["sha256"] == checksum(FILES[-2][1])

        # Every service of the catalog: scheduling is not migrated yet, notification not
        # configured here (no KS_NOTIFICATION_DATABASE_URL): said, and exit 2.
        done = await asyncio.to_thread(kulturskole, "migrations", "status", env=env)
        assert done.returncode == 2, done.stderr
        assert "registration (schema registration):" in done.stdout
        assert "1 pending" in done.stdout
        assert "scheduling (schema scheduling):" in done.stdout
        assert "KS_NOTIFICATION_DATABASE_URL is not set" in done.stderr

        await conn.execute(
            "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = $1",
            before_last,
        )
        done = await asyncio.to_thread(
            kulturskole, "migrations", "status", "--service", "registration", env=env
        )
        assert done.returncode == 1
        assert f"changed    {before_last}" in done.stdout
        assert str(FILES[-2][1]) in done.stderr and "will not start" in done.stderr
    finally:
        await conn.close()


async def test_a_service_whose_applied_migration_changed_exits_at_start(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    catalog: Catalog,
    tmp_path: Path,
) -> None:
    conn = await migrated(database)
    version, path = FILES[0]
    try:
        await conn.execute(
            "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = $1", version
        )
    finally:
        await conn.close()
    services = ServiceProcesses(endpoints, database, topic_prefix, tmp_path, catalog)
    services.ports["registration"] = 0  # never listens: it stops before

    started = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.registration"],
        env=services.env("registration"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,  # a retry loop would run into this instead of exiting
    )

    assert started.returncode != 0
    said = started.stdout + started.stderr
    assert "migration changed after it was applied" in said
    assert str(path) in said, said[-3000:]
