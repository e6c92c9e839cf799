"""HTTP `Idempotency-Key`: scoped by caller and route, bound to the request body.

A key belongs to its caller (the authenticated principal) and route: the same key string
from another caller, or on another route, is another request and is handled as such. The
first answer (status and body) is stored in the very transaction that ran the command, so it
is kept exactly when the command's effects are. Then:

- a retry (same caller, route, key and body) gets that answer again, marked with the header
  `Idempotent-Replayed: true`;
- the same key with another body is refused with 422 and the reason;
- a refused command stores nothing, so its retry is checked afresh.

The command runs under an inbox id derived from (caller, route, key), never the raw key: two
identical requests at once meet on that inbox row, the second waits for the first to commit
and then answers the first one's stored answer, so the command runs once.

Usage in a route (any service):

    request = IdempotentRequest.of(caller=..., route="POST /rounds", key=key, body=command)
    return await run_once(runtime, command, request, answer)

where `answer(outcome)` turns the command's outcome into the route's `Answer`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.contracts.events.base import Contract
from shared.messaging.bus import Outcome, Rejected

if TYPE_CHECKING:  # the runtime's housekeeping imports this module
    from shared.runtime.spec import Runtime

REPLAYED_HEADER = "Idempotent-Replayed"
# Fixed forever: inbox ids of keyed HTTP commands are uuid5 names in this namespace.
NAMESPACE = uuid.UUID("6f1c1f64-2a0e-4d55-9a0b-4f4a5e0c9e71")


def canonical_json(data: Any) -> bytes:
    """One spelling per JSON value: sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def body_hash(body: BaseModel | Any) -> str:
    """SHA-256 of the canonical JSON of the (validated) body: key order and layout of the
    request do not matter, what it says does."""
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return hashlib.sha256(canonical_json(data)).hexdigest()


@dataclass(frozen=True)
class IdempotentRequest:
    caller: str  # the authenticated principal, as a stable string
    route: str  # e.g. "POST /interest-registrations"
    key: str
    body_hash: str

    @classmethod
    def of(cls, *, caller: str, route: str, key: str, body: BaseModel | Any) -> IdempotentRequest:
        return cls(caller=caller, route=route, key=key, body_hash=body_hash(body))

    @property
    def message_id(self) -> str:
        """The inbox id: one per (caller, route, key), so no caller's key meets another's."""
        name = json.dumps([self.caller, self.route, self.key], ensure_ascii=False)
        return str(uuid.uuid5(NAMESPACE, name))


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: Any  # JSON-able


class KeyReused(Rejected):
    """The key was used by this caller on this route for a request with another body."""

    def __init__(self, request: IdempotentRequest) -> None:
        super().__init__(
            f"Idempotency-Key {request.key!r} was already used on {request.route} with a "
            "different request body; a retry must send the same body, a new request needs "
            "a new key",
            status=422,
        )


class _AlreadyAnswered(Exception):
    """An answer for the key was stored meanwhile; roll this run back and replay that one."""


async def stored_answer(
    db: asyncpg.Connection | asyncpg.Pool, request: IdempotentRequest
) -> Answer | None:
    """The answer kept for this caller, route and key; `KeyReused` if the body differs."""
    row = await db.fetchrow(
        "SELECT body_hash, status_code, response FROM idempotency_keys"
        " WHERE caller = $1 AND route = $2 AND key = $3",
        request.caller,
        request.route,
        request.key,
    )
    if row is None:
        return None
    if row["body_hash"] != request.body_hash:
        raise KeyReused(request)
    return Answer(status_code=row["status_code"], body=row["response"])


async def store_answer(
    conn: asyncpg.Connection, request: IdempotentRequest, answer: Answer
) -> None:
    """Keep the answer; call inside the command's transaction. An answer without a body (a
    204) is kept as JSON's `null`: the driver would send Python's None as SQL NULL."""
    stored = await conn.fetchval(
        "INSERT INTO idempotency_keys"
        " (caller, route, key, body_hash, message_id, status_code, response)"
        " VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, 'null'::jsonb))"
        " ON CONFLICT (caller, route, key) DO NOTHING RETURNING true",
        request.caller,
        request.route,
        request.key,
        request.body_hash,
        request.message_id,
        answer.status_code,
        answer.body,
    )
    if not stored:
        raise _AlreadyAnswered


def replay(answer: Answer) -> JSONResponse:
    return JSONResponse(
        answer.body, status_code=answer.status_code, headers={REPLAYED_HEADER: "true"}
    )


async def run_once(
    runtime: Runtime,
    command: Contract,
    request: IdempotentRequest,
    answer: Callable[[Outcome], Answer],
) -> JSONResponse:
    """Run `command` at most once for this request and answer as the first run did."""
    stored = await stored_answer(runtime.pool, request)
    if stored is not None:
        return replay(stored)
    first: Answer | None = None

    async def keep(conn: asyncpg.Connection, result: Any) -> None:
        nonlocal first
        first = answer(Outcome(fresh=True, result=result))
        await store_answer(conn, request, first)

    try:
        outcome = await runtime.command(command, message_id=request.message_id, before_commit=keep)
    except _AlreadyAnswered:
        outcome = Outcome(fresh=False)
    if outcome.fresh:
        assert first is not None  # `keep` ran in the transaction that just committed
        return JSONResponse(first.body, status_code=first.status_code)
    # An identical request ran at the same time and held the inbox row: answer as it did
    # (or refuse, if it carried another body).
    stored = await stored_answer(runtime.pool, request)
    if stored is not None:
        return replay(stored)
    # The inbox knows the id but keeps no answer for it (only if an idempotency row was
    # removed without its inbox row): say it was handled before, with nothing to show.
    late = answer(outcome)
    return JSONResponse(late.body, status_code=late.status_code)


# One batch: at most $2 answers older than $1 days, with their inbox rows. The inbox row
# goes too: otherwise the key, once its answer is gone, would meet the old inbox row and a
# new request under it would be dropped as a duplicate. After the purge a key is free again.
# The status ("DELETE <n>") counts the answers. `$1::float8`: untyped, `$1 * 86400` would be
# an integer and half a day would become none.
PURGE_BATCH_SQL = (
    "WITH old AS ("
    " SELECT caller, route, key, message_id FROM idempotency_keys"
    " WHERE created_at < now() - make_interval(secs => $1::float8 * 86400) LIMIT $2"
    " FOR UPDATE SKIP LOCKED"
    "), inbox_gone AS ("
    " DELETE FROM inbox WHERE message_id IN (SELECT message_id FROM old)"
    ") DELETE FROM idempotency_keys k USING old"
    " WHERE (k.caller, k.route, k.key) = (old.caller, old.route, old.key)"
)


async def purge_idempotency_keys(
    conn: asyncpg.Connection | asyncpg.Pool, older_than: timedelta, *, batch_size: int = 5000
) -> int:
    """Delete the answers kept longer than `older_than`, and their inbox rows; how many."""
    days = older_than.total_seconds() / 86400
    total = 0
    while True:
        status = await conn.execute(PURGE_BATCH_SQL, days, batch_size)
        count = int(status.split()[-1])
        total += count
        if count < batch_size:
            return total
