"""Replay: publish a service's past events again, from its outbox, for a consumer that joins late.

The outbox keeps published rows for `outbox_retention_days` (7 by default; housekeeping then
deletes them), so a service can send what it published in that window again: to its own
topic, or to another one a late consumer reads. Each message goes out as it first did: the
same key (so the same partition, with the same partition count), the same headers, `ce_id`
included (so a consumer's inbox skips one it already handled), the same value. Rows go in
outbox order, which is the order they were first published in, so each key's order holds.

Only rows the relay published are replayed: a row still waiting is the relay's to send, and a
parked or discarded one never went out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.messaging.kafka_client import Kafka
from shared.messaging.outbox import kafka_producer

BATCH = 500

# Published rows of one topic, after a row id, optionally since a time and of some types.
_ROWS = """
SELECT id, key, headers, payload FROM outbox
WHERE published_at IS NOT NULL AND discarded_at IS NULL
  AND topic = $1 AND id > $2
  AND ($3::timestamptz IS NULL OR created_at >= $3)
  AND ($4::text[] IS NULL OR EXISTS (
    SELECT 1 FROM jsonb_array_elements(headers) AS h
    WHERE h->>0 = 'ce_type' AND h->>1 = ANY($4)))
ORDER BY id
LIMIT $5
"""


@dataclass(frozen=True)
class Replayed:
    count: int
    first_id: int | None  # the outbox ids of the first and last row sent
    last_id: int | None


async def replay(
    conn: asyncpg.Connection,
    producer: AIOKafkaProducer | None,
    *,
    topic: str,
    to: str | None = None,
    since: datetime | None = None,
    types: Sequence[str] | None = None,
) -> Replayed:
    """Send the published outbox rows of `topic` (from `since`, of `types`) to `to` (default
    `topic`), in outbox order. With `producer=None` nothing is sent: the rows are counted."""
    target = to or topic
    count, first, last = 0, None, 0
    while True:
        rows = await conn.fetch(_ROWS, topic, last, since, list(types) if types else None, BATCH)
        if not rows:
            break
        if producer is not None:
            futures = [
                await producer.send(
                    target,
                    key=row["key"].encode() if row["key"] is not None else None,
                    value=row["payload"],
                    headers=[(name, value.encode()) for name, value in row["headers"]],
                )
                for row in rows
            ]
            # Every record of the batch acknowledged before the next batch is read.
            for future in futures:
                await future
        count += len(rows)
        first = rows[0]["id"] if first is None else first
        last = rows[-1]["id"]
    return Replayed(count, first, last if count else None)


async def replay_to_kafka(
    conn: asyncpg.Connection,
    bootstrap: Kafka,
    *,
    topic: str,
    to: str | None = None,
    since: datetime | None = None,
    types: Sequence[str] | None = None,
) -> Replayed:
    """`replay` with an idempotent producer of its own (acks=all, no duplicates of its own)."""
    producer = kafka_producer(bootstrap)
    await producer.start()
    try:
        return await replay(conn, producer, topic=topic, to=to, since=since, types=types)
    finally:
        await producer.stop()
