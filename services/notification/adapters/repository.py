"""SQL of the notification service."""

from __future__ import annotations

import uuid

import asyncpg

from services.notification.domain.messages import PlannedMail

DELIVERIES_CHANNEL = "notification_deliveries"


async def upsert_recipient(
    conn: asyncpg.Connection, *, person_id: uuid.UUID, name: str, email: str, language: str
) -> None:
    await conn.execute(
        "INSERT INTO recipients (person_id, name, email, language) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (person_id) DO UPDATE SET name = $2, email = $3, language = $4,"
        " updated_at = now()",
        person_id,
        name,
        email,
        language,
    )
    # Mails that waited for this person's address can go now.
    await conn.execute("SELECT pg_notify($1, '')", DELIVERIES_CHANNEL)


async def forget_recipient(conn: asyncpg.Connection, person_id: uuid.UUID) -> None:
    """Erasure: the address goes; mails still waiting for it will never be sent."""
    await conn.execute("DELETE FROM recipients WHERE person_id = $1", person_id)


async def plan_deliveries(
    conn: asyncpg.Connection, *, event_id: str, mails: list[PlannedMail]
) -> None:
    await conn.executemany(
        "INSERT INTO deliveries (id, event_id, recipient_key, person_id, address, template,"
        " language, context) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (event_id, recipient_key, template) DO NOTHING",
        [
            (
                uuid.uuid4(),
                event_id,
                m.recipient_key,
                m.person_id,
                m.address,
                m.template,
                m.language,
                m.context,
            )
            for m in mails
        ],
    )
    await conn.execute("SELECT pg_notify($1, '')", DELIVERIES_CHANNEL)


async def due_delivery_ids(conn: asyncpg.Connection | asyncpg.Pool, limit: int) -> list[uuid.UUID]:
    """Due mails whose address is known (the contact details may still be on their way)."""
    rows = await conn.fetch(
        "SELECT d.id FROM deliveries d LEFT JOIN recipients r ON r.person_id = d.person_id"
        " WHERE d.status = 'pending' AND d.next_attempt_at <= now()"
        " AND (d.address IS NOT NULL OR r.email IS NOT NULL)"
        " ORDER BY d.created_at LIMIT $1",
        limit,
    )
    return [r["id"] for r in rows]


async def lock_due_delivery(
    conn: asyncpg.Connection, delivery_id: uuid.UUID
) -> asyncpg.Record | None:
    """The delivery, locked for sending, if it is still pending and nobody else holds it."""
    return await conn.fetchrow(
        "SELECT d.id, d.template, d.context, d.attempts,"
        " coalesce(d.address, r.email) AS address,"
        " coalesce(d.language, r.language, 'nb') AS language,"
        " r.name AS recipient_name"
        " FROM deliveries d LEFT JOIN recipients r ON r.person_id = d.person_id"
        " WHERE d.id = $1 AND d.status = 'pending' FOR UPDATE OF d SKIP LOCKED",
        delivery_id,
    )


async def mark_sent(conn: asyncpg.Connection, delivery_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'sent', sent_at = now(), attempts = attempts + 1"
        " WHERE id = $1",
        delivery_id,
    )


async def mark_failed(
    conn: asyncpg.Connection, delivery_id: uuid.UUID, *, error: str, retry_in_s: float
) -> None:
    await conn.execute(
        "UPDATE deliveries SET attempts = attempts + 1, last_error = $2,"
        " next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
        delivery_id,
        error[:1000],
        retry_in_s,
    )
