"""SQL of the notification service."""

from __future__ import annotations

import uuid

import asyncpg

from services.notification.domain.messages import PlannedMail
from shared.redact import redact

DELIVERIES_CHANNEL = "notification_deliveries"


async def _lock_persons(conn: asyncpg.Connection, person_ids: list[uuid.UUID]) -> None:
    """Serialize what is written about these persons until the transaction ends.

    Contact details and erasure come on different topics, handled at the same time: without
    this, an erasure could miss a recipient row written by a transaction it cannot see yet.
    """
    for person_id in sorted(set(person_ids)):  # one order everywhere: no deadlock
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('person:' || $1::uuid::text, 0))",
            person_id,
        )


async def upsert_recipient(
    conn: asyncpg.Connection, *, person_id: uuid.UUID, name: str, email: str, language: str
) -> bool:
    """Keep a person's address; False (nothing kept) if the person was erased."""
    await _lock_persons(conn, [person_id])
    stored = await conn.fetchval(
        "INSERT INTO recipients (person_id, name, email, language)"
        " SELECT $1, $2, $3, $4"
        " WHERE NOT EXISTS (SELECT 1 FROM erased_persons WHERE person_id = $1)"
        " ON CONFLICT (person_id) DO UPDATE SET name = $2, email = $3, language = $4,"
        " updated_at = now()"
        " RETURNING true",
        person_id,
        name,
        email,
        language,
    )
    if stored:
        # Mails that waited for this person's address can go now.
        await conn.execute("SELECT pg_notify($1, '')", DELIVERIES_CHANNEL)
    return bool(stored)


async def erase_recipient(conn: asyncpg.Connection, person_id: uuid.UUID) -> None:
    """Erasure: the address goes and stays gone; what the delivery log holds of them goes too.

    Mails still waiting for them are cancelled: they could never be sent. Only the id is
    kept, so that late contact details cannot bring the person back.
    """
    await _lock_persons(conn, [person_id])
    await conn.execute(
        "INSERT INTO erased_persons (person_id) VALUES ($1) ON CONFLICT DO NOTHING", person_id
    )
    await conn.execute("DELETE FROM recipients WHERE person_id = $1", person_id)
    await conn.execute(
        "UPDATE deliveries SET context = '{}', address = NULL, last_error = NULL,"
        " status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END"
        " WHERE person_id = $1",
        person_id,
    )


async def plan_deliveries(
    conn: asyncpg.Connection, *, event_id: str, mails: list[PlannedMail]
) -> None:
    persons = [uuid.UUID(m.person_id) for m in mails if m.person_id is not None]
    await _lock_persons(conn, persons)
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
    if persons:
        # A mail to a person erased before the event came (late, or again) is never sent.
        await conn.execute(
            "UPDATE deliveries SET status = 'cancelled', context = '{}'"
            " WHERE event_id = $1 AND status = 'pending'"
            " AND person_id IN (SELECT person_id FROM erased_persons WHERE person_id = ANY($2))",
            event_id,
            persons,
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
    """Count the failure and when to try again; the error text is kept without addresses."""
    await conn.execute(
        "UPDATE deliveries SET attempts = attempts + 1, last_error = $2,"
        " next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
        delivery_id,
        redact(error)[:1000],
        retry_in_s,
    )
