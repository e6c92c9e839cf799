"""The runbook's backup and restore (docs/operations.md, "Backup and restore"), done for real.

Each service's schema is dumped on its own with `pg_dump --schema=<schema> --format=custom`
from a database the running platform has filled. A fresh database is made by the set-up
(`deploy/setup.py --skip-topics`: the database, the roles, migrated schemas); each schema is
dropped and restored from its dump with `pg_restore`, and the services are started on it:
every row is as it was, the services answer with the data they had, and each can still write
as its own role (owners and grants came back with the schema).
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.runtime.catalog import Catalog, names
from shared.testing.fixtures import (
    ROOT,
    Endpoints,
    ServiceProcesses,
    TestDatabase,
    drop_test_database,
    keep_test_state,
)
from tests.e2e.conftest import PROGRAMME, prepare, round_known

pytestmark = pytest.mark.integration

ROUND = "2030"
SUPERVISOR = {"name": "Vera Veileder", "email": "vera.veileder@example.org", "language": "nb"}


def postgres_tool(name: str) -> str:
    """pg_dump / pg_restore: on the PATH, else the newest of the PostgreSQL installs."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    assert found, f"{name} is needed for the backup test (PostgreSQL's client tools)"
    return found


async def run(*command: str, env: dict[str, str] | None = None, attempts: int = 1) -> None:
    for _ in range(attempts):
        proc = await asyncio.create_subprocess_exec(*command, env=env, cwd=ROOT)
        if await proc.wait() == 0:
            return
    raise AssertionError(f"{' '.join(command[:2])} failed (exit code {proc.returncode})")


def superuser_dsn(endpoints: Endpoints, database: str) -> str:
    return f"{endpoints.pg_superuser_dsn.rpartition('/')[0]}/{database}"


async def table_digests(dsn: str, schemas: list[str]) -> dict[str, tuple[int, str]]:
    """Every table of the schemas: its row count and a digest of all its rows."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])",
            schemas,
        )
        found = {}
        for row in tables:
            name = f'"{row["schemaname"]}"."{row["tablename"]}"'
            count, digest = await conn.fetchrow(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                f" FROM {name} t"
            )
            found[name] = (count, digest)
        return found
    finally:
        await conn.close()


async def call(method: str, url: str, body: dict[str, str] | None = None) -> Any:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.request(method, url, json=body, headers=PROGRAMME)
    assert response.status_code in (200, 201), f"{method} {url}: {response.text}"
    return response.json()


async def reads(procs: ServiceProcesses) -> dict[str, Any]:
    """What each service answers about the data the test gave it."""
    return {
        "registration": await call("GET", procs.url("registration") + f"/rounds/{ROUND}"),
        "scheduling": await call("GET", procs.url("scheduling") + f"/rounds/{ROUND}"),
        "notification": await call("GET", procs.url("notification") + "/deliveries"),
    }


async def test_each_schema_restored_from_its_own_dump_serves_its_data(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    tmp_path: Path,
    catalog: Catalog,
) -> None:
    schemas = names(catalog)
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()

    # The platform fills its schemas: members and rounds in registration, the rounds read by
    # scheduling from registration's events, a supervisor's contact in notification.
    procs = ServiceProcesses(endpoints, database, topic_prefix, tmp_path / "before", catalog)
    try:
        procs.start()
        prepare(procs.url("registration"))
        await round_known(procs.url("scheduling"), ROUND)
        await call("PUT", procs.url("notification") + "/supervisors/veileder-1", SUPERVISOR)
        before = await reads(procs)
    finally:
        procs.stop_all()  # a consistent dump; pg_dump alone would also be consistent per run
    digests = await table_digests(superuser_dsn(endpoints, database.name), schemas)
    assert any(count for count, _ in digests.values()), "the platform wrote nothing to back up"

    # Backup: one file per service schema, as the runbook says.
    for schema in schemas:
        await run(
            postgres_tool("pg_dump"),
            "--format=custom",
            f"--schema={schema}",
            f"--file={tmp_path / f'{schema}.dump'}",
            superuser_dsn(endpoints, database.name),
        )

    # Restore into a fresh database, as the runbook says: the set-up makes the database, the
    # roles and migrated schemas; each schema is then replaced by its dump.
    name = f"t_{uuid.uuid4().hex[:12]}"
    fresh = TestDatabase(
        name, {s: f"{dsn.rpartition('/')[0]}/{name}" for s, dsn in database.dsns.items()}
    )
    setup_env = {**os.environ, "KS_SETUP_PG_SUPERUSER_DSN": endpoints.pg_superuser_dsn}
    for service, dsn in fresh.dsns.items():
        setup_env[f"KS_{service.upper()}_DATABASE_URL"] = dsn
    try:
        # The roles are the cluster's, shared with every other test database: a concurrent
        # ALTER ROLE elsewhere can fail this one ("tuple concurrently updated"); the set-up is
        # idempotent, so it is simply run again.
        await run(sys.executable, "deploy/setup.py", "--skip-topics", env=setup_env, attempts=3)
        for schema in schemas:
            conn = await asyncpg.connect(superuser_dsn(endpoints, fresh.name))
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()
            await run(
                postgres_tool("pg_restore"),
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={superuser_dsn(endpoints, fresh.name)}",
                str(tmp_path / f"{schema}.dump"),
            )
        assert await table_digests(superuser_dsn(endpoints, fresh.name), schemas) == digests

        restored = ServiceProcesses(endpoints, fresh, topic_prefix, tmp_path / "after", catalog)
        try:
            restored.start()  # ready: its migrations are recorded as applied, none runs again
            assert await reads(restored) == before
            # Each role owns its schema again: registration takes a new round and scheduling
            # hears of it, so the restored platform works on, not only reads.
            await call("POST", restored.url("registration") + "/rounds", {"round_id": "2050"})
            await round_known(restored.url("scheduling"), "2050")
        finally:
            restored.stop_all()
    finally:
        if not keep_test_state():
            await drop_test_database(endpoints, fresh)
