"""SQL of the registration service; every function runs on the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from shared.events.registration import ContactPerson


async def add_person(conn: asyncpg.Connection, *, person_id: UUID, contact: ContactPerson) -> None:
    await conn.execute(
        "INSERT INTO persons (id, name, email, phone, language) VALUES ($1, $2, $3, $4, $5)",
        person_id,
        contact.name,
        str(contact.email),
        contact.phone,
        contact.language.value,
    )


async def interest_exists(conn: asyncpg.Connection, *, round_id: str, branch_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM interest_registrations WHERE round_id = $1 AND branch_id = $2",
            round_id,
            branch_id,
        )
    )


async def add_interest(
    conn: asyncpg.Connection,
    *,
    registration_id: UUID,
    round_id: str,
    branch_id: str,
    municipality_numbers: list[str],
    contact_person_id: UUID,
    message: str,
    registered_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO interest_registrations (id, round_id, branch_id, municipality_numbers,"
        " contact_person_id, message, registered_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        registration_id,
        round_id,
        branch_id,
        municipality_numbers,
        contact_person_id,
        message,
        registered_at,
    )


async def get_interest(
    conn: asyncpg.Connection | asyncpg.Pool, registration_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, round_id, branch_id, municipality_numbers, contact_person_id, message,"
        " registered_at"
        " FROM interest_registrations WHERE id = $1",
        registration_id,
    )
