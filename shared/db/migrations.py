"""Migrations: ordered SQL files, applied once each, under an advisory lock.

The shared files (outbox, inbox) come first, then the service's own. Each applied file is
recorded in the service's own schema with the sha256 of its text, so replicas starting
together apply nothing twice, and a file edited after it was applied stops the start
(`MigrationChanged`) instead of leaving databases that differ with the same version: a
change to the schema is a new file (forward-only). Versions applied before checksums were
kept get the checksum of the file as it is now, on the first start that sees them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)

_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)
# Added to tables made before checksums were kept; NULL until the next start records it.
_CHECKSUM_COLUMN = "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text"


class MigrationChanged(RuntimeError):
    """An applied migration file differs from what was applied; the message names them."""


def migration_files(service_dir: Path | None) -> list[tuple[str, Path]]:
    files = [(f"shared/{p.name}", p) for p in sorted(SHARED_MIGRATIONS.glob("*.sql"))]
    if service_dir is not None:
        files += [(f"service/{p.name}", p) for p in sorted(service_dir.glob("*.sql"))]
    return files


def checksum(path: Path) -> str:
    """sha256 of the file's text, hex. Line endings are counted as LF, so a checkout that
    turns them into CRLF is not a change; any other byte is."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


@dataclass(frozen=True)
class MigrationState:
    version: str  # shared/0001_outbox_inbox.sql, service/0003_....sql
    path: Path | None  # None: applied, but this release has no such file
    applied_at: datetime | None  # None: pending
    recorded: str | None  # the checksum recorded when applied (None: not yet recorded)
    current: str | None  # the checksum of the file now

    @property
    def state(self) -> str:
        """`applied`, `pending`, `changed` (the file differs from what was applied),
        `unrecorded` (applied before checksums were kept; the next start records it) or
        `unknown` (applied, but no such file here: a newer release applied it)."""
        if self.applied_at is None:
            return "pending"
        if self.path is None:
            return "unknown"
        if self.recorded is None:
            return "unrecorded"
        return "applied" if self.recorded == self.current else "changed"


async def migration_states(
    conn: asyncpg.Connection, schema: str, service_dir: Path | None
) -> list[MigrationState]:
    """Every migration of this release and every version the schema has applied, in order:
    the files first (as applied), then versions applied that no file here names."""
    applied: dict[str, asyncpg.Record] = {}
    exists = await conn.fetchval(
        "SELECT to_regclass(format('%I.schema_migrations', $1::text))", schema
    )
    if exists is not None:
        has_checksum = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = $1"
            " AND table_name = 'schema_migrations' AND column_name = 'checksum')",
            schema,
        )
        column = "checksum" if has_checksum else "NULL::text AS checksum"
        rows = await conn.fetch(
            f'SELECT version, applied_at, {column} FROM "{schema}".schema_migrations'
        )
        applied = {r["version"]: r for r in rows}
    states = []
    for version, path in migration_files(service_dir):
        row = applied.pop(version, None)
        states.append(
            MigrationState(
                version=version,
                path=path,
                applied_at=row["applied_at"] if row else None,
                recorded=row["checksum"] if row else None,
                current=checksum(path),
            )
        )
    for version in sorted(applied):
        row = applied[version]
        states.append(MigrationState(version, None, row["applied_at"], row["checksum"], None))
    return states


async def migrate(conn: asyncpg.Connection, schema: str, service_dir: Path | None) -> list[str]:
    """Apply what is missing; return the versions applied now.

    Raises `MigrationChanged` (having applied nothing) when a file applied before now has
    another checksum than the one recorded.
    """
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"migrations:{schema}")
    try:
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute(_TABLE)
        await conn.execute(_CHECKSUM_COLUMN)
        await _check_applied(conn, schema, service_dir)
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, path in migration_files(service_dir):
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                    version,
                    checksum(path),
                )
            applied_now.append(version)
            log.info("applied migration", extra={"schema": schema, "version": version})
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"migrations:{schema}")
    return applied_now


async def _check_applied(conn: asyncpg.Connection, schema: str, service_dir: Path | None) -> None:
    states = await migration_states(conn, schema, service_dir)
    changed = [s for s in states if s.state == "changed"]
    if changed:
        names = ", ".join(str(s.path) for s in changed)
        message = (
            f"schema {schema}: applied migration(s) changed since they were applied: {names}"
            " (recorded sha256 differs from the file's). An applied file is never edited:"
            " restore it and put the change in a new file."
        )
        log.error(
            "migration changed after it was applied; not starting",
            extra={"schema": schema, "versions": [s.version for s in changed]},
        )
        raise MigrationChanged(message)
    unrecorded = [s for s in states if s.state == "unrecorded"]
    if unrecorded:
        # Applied before checksums were kept: what is there now is taken as what was applied.
        await conn.executemany(
            "UPDATE schema_migrations SET checksum = $2 WHERE version = $1 AND checksum IS NULL",
            [(s.version, s.current) for s in unrecorded],
        )
        log.info(
            "recorded checksums of migrations applied before checksums were kept",
            extra={"schema": schema, "versions": [s.version for s in unrecorded]},
        )
