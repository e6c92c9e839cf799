"""Migrations: ordered SQL files, applied once each, under an advisory lock.

The shared files (outbox, inbox) come first, then the service's own. Each applied file is
recorded in the service's own schema, so replicas starting together apply nothing twice.
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def migration_files(service_dir: Path | None) -> list[tuple[str, Path]]:
    files = [(f"shared/{p.name}", p) for p in sorted(SHARED_MIGRATIONS.glob("*.sql"))]
    if service_dir is not None:
        files += [(f"service/{p.name}", p) for p in sorted(service_dir.glob("*.sql"))]
    return files


async def migrate(conn: asyncpg.Connection, schema: str, service_dir: Path | None) -> list[str]:
    """Apply what is missing; return the versions applied now."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"migrations:{schema}")
    try:
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, path in migration_files(service_dir):
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied_now.append(version)
            log.info("applied migration", extra={"schema": schema, "version": version})
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"migrations:{schema}")
    return applied_now
