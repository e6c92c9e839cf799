"""SQL of interest that came by e-mail (`inbound_interest`)."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias
from uuid import UUID

import asyncpg

from services.registration.domain.inbound import InboundMail

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool

COLUMNS = (
    "id, received_at, message_id, sender_name, sender_email, subject, body, branch_id,"
    " candidates, status, decided_at, decided_by, reason, registration_id"
)


async def keep(db: Db, *, mail_id: UUID, mail: InboundMail, at: datetime) -> UUID:
    """Store the mail (once per Message-ID); the id of the row that holds it."""
    found = mail.recognition.branch
    kept: UUID | None = await db.fetchval(
        "INSERT INTO inbound_interest (id, received_at, message_id, mail_from, sender_name,"
        " sender_email, subject, body, branch_id, candidates, status)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (message_id) WHERE message_id IS NOT NULL DO NOTHING RETURNING id",
        mail_id,
        at,
        mail.message_id,
        mail.mail_from,
        mail.sender_name,
        mail.sender_email,
        mail.subject,
        mail.body,
        found.id if found else None,
        list(mail.recognition.candidates),
        "pending" if found else "unrecognised",
    )
    if kept is not None:
        return kept
    again: UUID = await db.fetchval(
        "SELECT id FROM inbound_interest WHERE message_id = $1", mail.message_id
    )
    return again


async def listing(db: Db, status: str | None) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            f"SELECT {COLUMNS} FROM inbound_interest"
            " WHERE ($1::text IS NULL OR status = $1) ORDER BY received_at, id",
            status,
        )
    )


async def get(db: Db, mail_id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {COLUMNS} FROM inbound_interest WHERE id = $1" + (" FOR UPDATE" if lock else ""),
        mail_id,
    )


async def decide(
    conn: asyncpg.Connection,
    mail_id: UUID,
    *,
    status: str,
    at: datetime,
    by: str,
    reason: str | None = None,
    registration_id: UUID | None = None,
    branch_id: str | None = None,
) -> bool:
    """Confirm or reject a mail still open; False if someone decided it first."""
    done: bool | None = await conn.fetchval(
        "UPDATE inbound_interest SET status = $2, decided_at = $3, decided_by = $4,"
        " reason = $5, registration_id = $6, branch_id = coalesce($7, branch_id)"
        " WHERE id = $1 AND status IN ('pending', 'unrecognised') RETURNING true",
        mail_id,
        status,
        at,
        by,
        reason,
        registration_id,
        branch_id,
    )
    return bool(done)
