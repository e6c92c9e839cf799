"""Database roles and schemas: one login role per service, with rights on its own schema only.

Run with a superuser connection (the local stack and tests do this; in production an
operator or a migration job does it once).
"""

from __future__ import annotations

import asyncpg


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return f'"{name}"'


async def provision(
    superuser_dsn: str,
    database: str,
    *,
    passwords: dict[str, str],
    schemas: dict[str, str] | None = None,
) -> None:
    """Create the database, the service roles and their schemas, if missing.

    `passwords` maps each service (its login role) to its password. `schemas` maps a service
    to its schema name (default: the service name), so tests can give each run schemas of
    its own in a shared database.
    """
    conn = await asyncpg.connect(superuser_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(f"CREATE DATABASE {_ident(database)}")
        for role, password in passwords.items():
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            # Passwords cannot be bound parameters in DDL; quote them as literals.
            literal = "'" + password.replace("'", "''") + "'"
            await conn.execute(f"{verb} ROLE {_ident(role)} LOGIN PASSWORD {literal}")
    finally:
        await conn.close()

    base, _, _ = superuser_dsn.rpartition("/")
    conn = await asyncpg.connect(f"{base}/{database}")
    try:
        # Nobody creates objects in `public`; each role works in its own schema.
        await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        await conn.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC")
        for role in passwords:
            schema = (schemas or {}).get(role, role)
            await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {_ident(role)}")
            await conn.execute(
                f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)} AUTHORIZATION {_ident(role)}"
            )
            await conn.execute(f"REVOKE ALL ON SCHEMA {_ident(schema)} FROM PUBLIC")
    finally:
        await conn.close()


async def drop_database(superuser_dsn: str, database: str) -> None:
    """Drop `database`, ending the sessions still connected to it (a test's leftovers)."""
    conn = await asyncpg.connect(superuser_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_ident(database)} WITH (FORCE)")
    finally:
        await conn.close()
