"""Transactional outbox: write events with the state change, publish them afterwards.

`add_to_outbox` runs inside the handler's transaction. `OutboxRelay` publishes unpublished
rows in id order with an idempotent producer (acks=all) and marks them published. It wakes
on LISTEN/NOTIFY and polls as a fallback. One relay per schema holds an advisory lock at a
time, so replicas of a service never reorder a key's events. Kafka down means rows wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.db.pool import connect
from shared.envelope import Envelope
from shared.retry import backoff_delay, is_transient

log = logging.getLogger(__name__)


NOTIFY_SUFFIX = "_outbox"


def notify_channel(schema: str) -> str:
    return f"{schema}{NOTIFY_SUFFIX}"


async def add_to_outbox(
    conn: asyncpg.Connection,
    *,
    topic: str,
    key: str,
    envelope: Envelope | None,
    tombstone_id: str | None = None,
) -> None:
    """Queue one message; `envelope=None` queues a tombstone for `key` (needs `tombstone_id`)."""
    if envelope is None:
        assert tombstone_id, "a tombstone needs an id of its own"
        event_id, headers, payload = tombstone_id, [], None
    else:
        event_id = envelope.id
        headers = [[k, v.decode()] for k, v in envelope.headers()]
        payload = envelope.data
    # One round trip: the row, and a wake-up for the relay on this schema's channel. The
    # notification is delivered at commit, never for a rolled-back transaction.
    await conn.execute(
        "WITH queued AS (INSERT INTO outbox (event_id, topic, key, headers, payload)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING id)"
        " SELECT pg_notify(current_schema() || $6, '') FROM queued",
        event_id,
        topic,
        key,
        headers,
        payload,
        NOTIFY_SUFFIX,
    )


def kafka_producer(bootstrap: str) -> AIOKafkaProducer:
    # enable_idempotence gives acks=all and no duplicates from the producer's own retries.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=15000,
    )


class OutboxRelay:
    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        bootstrap: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.bootstrap = bootstrap
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.published_total = 0
        self.is_leader = False
        self._wake = asyncio.Event()
        self._connected = False

    async def run(self) -> None:
        attempt = 0
        while True:
            self._connected = False
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if is_transient(error):
                    # A relay that got connected before failing starts its backoff afresh.
                    attempt = 1 if self._connected else attempt + 1
                    log.warning("outbox relay interrupted, retrying", extra={"error": repr(error)})
                else:
                    attempt += 1
                    log.exception("outbox relay failed, retrying")
                await asyncio.sleep(backoff_delay(attempt))

    async def _run_once(self) -> None:
        conn = await connect(self.dsn, self.schema, name=f"{self.schema}-outbox-relay")
        producer: AIOKafkaProducer | None = None
        try:
            lock = f"outbox-relay:{self.schema}"
            # Another replica leads; nothing signals its end, so poll for the lock.
            while not await conn.fetchval(  # noqa: ASYNC110
                "SELECT pg_try_advisory_lock(hashtext($1))", lock
            ):
                await asyncio.sleep(self.poll_interval)
            self.is_leader = True
            await conn.add_listener(notify_channel(self.schema), self._on_notify)
            producer = kafka_producer(self.bootstrap)
            await producer.start()
            self._connected = True
            while True:
                self._wake.clear()
                published = await self._publish_batch(conn, producer)
                if published < self.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            self.is_leader = False
            if producer is not None:
                await producer.stop()
            await conn.close()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _publish_batch(self, conn: asyncpg.Connection, producer: AIOKafkaProducer) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, key, headers, payload FROM outbox"
            " WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self.batch_size,
        )
        if not rows:
            return 0
        try:
            # send() queues in order; the idempotent producer keeps that order per partition.
            sent = [
                await producer.send(
                    row["topic"],
                    value=row["payload"],
                    key=row["key"].encode() if row["key"] is not None else None,
                    headers=[(k, v.encode()) for k, v in row["headers"]],
                )
                for row in rows
            ]
            await asyncio.gather(*sent)
        except Exception as error:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1)",
                [r["id"] for r in rows],
                repr(error)[:1000],
            )
            raise
        await conn.execute(
            "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
            [r["id"] for r in rows],
        )
        self.published_total += len(rows)
        return len(rows)
