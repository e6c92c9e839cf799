"""Where a database still holds some text: every table of every schema, searched as a whole.

Erasure tests use it to show that a person's name, e-mail address and phone number are gone
everywhere, including places nobody thought of: each row is cast to text, and bytea columns
(outbox payloads) are decoded as UTF-8, so JSON inside them is searched too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Person:
    """A person whose every detail is unique to one test run, so a search finds only them."""

    name: str
    email: str
    phone: str

    @classmethod
    def new(cls, first_name: str = "Kari") -> Person:
        tag = uuid.uuid4().hex[:8]
        digits = str(uuid.uuid4().int)[:7]
        return cls(
            f"{first_name} Slettesen-{tag}", f"{first_name.lower()}.{tag}@example.no", digits
        )

    @property
    def phone_number(self) -> str:
        """As given to the API (a Norwegian mobile number)."""
        return f"+479{self.phone}"

    @property
    def details(self) -> list[str]:
        """What must not be found after erasure (the phone by its own digits)."""
        return [self.name, self.email, f"9{self.phone}"]

    def contact(self, language: str = "nb") -> dict[str, str]:
        return {
            "name": self.name,
            "email": self.email,
            "phone": self.phone_number,
            "language": language,
        }


async def tables(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        " ORDER BY 1, 2"
    )
    return [(r["table_schema"], r["table_name"]) for r in rows]


async def where_found(conn: asyncpg.Connection, needles: list[str]) -> list[str]:
    """`schema.table: needle` for every table (of every schema `conn` sees) holding a needle,
    compared without regard to case."""
    found: list[str] = []
    for schema, table in await tables(conn):
        byteas = [
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = $1 AND table_name = $2 AND data_type = 'bytea'",
                schema,
                table,
            )
        ]
        text = " || ' ' || ".join(
            ["t::text", *(f"coalesce(convert_from(t.{_ident(c)}, 'UTF8'), '')" for c in byteas)]
        )
        hits = await conn.fetch(
            f"SELECT n FROM unnest($1::text[]) AS n WHERE EXISTS"
            f" (SELECT 1 FROM {_ident(schema)}.{_ident(table)} AS t"
            f"  WHERE strpos(lower({text}), lower(n)) > 0)",
            needles,
        )
        found += [f"{schema}.{table}: {r['n']}" for r in hits]
    return found


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def connect_as_superuser(superuser_dsn: str, database: str) -> asyncpg.Connection:
    """A connection that sees every schema of a test database."""
    base, _, _ = superuser_dsn.rpartition("/")
    return await asyncpg.connect(f"{base}/{database}")
