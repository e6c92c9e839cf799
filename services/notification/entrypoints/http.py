"""HTTP routes of the notification service: the delivery log, read-only."""

from __future__ import annotations

from fastapi import APIRouter, Query

from shared.service import RuntimeDep

router = APIRouter(tags=["deliveries"])


@router.get("/deliveries")
async def list_deliveries(
    runtime: RuntimeDep,
    status: str | None = Query(default=None, pattern="^(pending|sent|cancelled)$"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[dict[str, object]]:
    """The delivery log: what was planned, sent, or is waiting, newest first (no addresses)."""
    rows = await runtime.pool.fetch(
        "SELECT id, event_id, recipient_key, template, status, attempts, last_error,"
        " created_at, sent_at"
        " FROM deliveries WHERE ($1::text IS NULL OR status = $1)"
        " ORDER BY created_at DESC LIMIT $2",
        status,
        limit,
    )
    return [dict(r) for r in rows]
