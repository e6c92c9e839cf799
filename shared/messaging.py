"""The way in: one handler table, one transaction per message, inbox and outbox inside it.

HTTP routes and Kafka subscribers both end in `MessageBus.handle`, so a command behaves the
same whichever way it came. `KafkaMessageProcessor` adds what only Kafka needs: decoding,
dead letters for poison, retry with backoff for transient failures. It returns only once the
message is handled or dead-lettered, so the caller may then commit the offset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord
from prometheus_client import Counter

from shared.envelope import Envelope, PoisonMessage
from shared.events.base import Contract
from shared.outbox import add_to_outbox
from shared.retry import backoff_delay, is_transient
from shared.topics import dlq_topic

log = logging.getLogger(__name__)

MESSAGES = Counter("ks_messages_total", "Messages handled", ["service", "type", "outcome"])


class Rejected(Exception):
    """The domain refuses a command as it stands (unknown municipality, late, not allowed).

    Over HTTP it is a 4xx with the reason; from Kafka it is a dead letter with the reason.
    Nothing of the command is stored.
    """

    def __init__(self, reason: str, *, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass
class UnitOfWork:
    """What a handler gets: the transaction's connection and a way to emit messages."""

    conn: asyncpg.Connection
    source: str
    caused_by: Envelope
    emitted: list[Envelope] = field(default_factory=list)

    async def emit(self, topic: str, contract: Contract, *, subject: str | None = None) -> Envelope:
        envelope = Envelope.wrap(
            contract,
            source=self.source,
            subject=subject or contract.key(),
            caused_by=self.caused_by,
        )
        await add_to_outbox(self.conn, topic=topic, key=contract.key(), envelope=envelope)
        self.emitted.append(envelope)
        return envelope


Handler = Callable[[Any, UnitOfWork], Awaitable[Any]]


@dataclass(frozen=True)
class Origin:
    topic: str
    partition: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class Outcome:
    fresh: bool  # False: this message id was handled before, nothing changed now
    result: Any = None


class MessageBus:
    def __init__(
        self, pool: asyncpg.Pool, handlers: Mapping[str, Handler], *, service: str
    ) -> None:
        self.pool = pool
        self.handlers = dict(handlers)
        self.service = service

    @property
    def accepted_types(self) -> list[str]:
        return list(self.handlers)

    async def handle(self, envelope: Envelope, message: Contract, origin: Origin) -> Outcome:
        handler = self.handlers[envelope.type]
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                "INSERT INTO inbox (message_id, type, topic, kafka_partition, kafka_offset)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO NOTHING RETURNING true",
                envelope.id,
                envelope.type,
                origin.topic,
                origin.partition,
                origin.offset,
            )
            if not fresh:
                MESSAGES.labels(self.service, envelope.type, "duplicate").inc()
                return Outcome(fresh=False)
            uow = UnitOfWork(conn=conn, source=f"/{self.service}", caused_by=envelope)
            result = await handler(message, uow)
        MESSAGES.labels(self.service, envelope.type, "handled").inc()
        return Outcome(fresh=True, result=result)


class DeadLetters:
    """Publishes a message that cannot be handled to `<topic>.dlq`, with the reason."""

    def __init__(self, producer: AIOKafkaProducer, *, group: str) -> None:
        self.producer = producer
        self.group = group

    async def send(self, record: ConsumerRecord[Any, Any], reason: str) -> None:
        headers = [
            *list(record.headers or ()),
            ("dlq_reason", reason[:4000].encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self.group.encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        attempt = 0
        while True:
            try:
                await self.producer.send_and_wait(
                    dlq_topic(record.topic), value=record.value, key=record.key, headers=headers
                )
                log.warning(
                    "message dead-lettered",
                    extra={"topic": record.topic, "offset": record.offset, "reason": reason},
                )
                return
            except Exception as error:
                if not is_transient(error):
                    raise
                attempt += 1
                log.warning("dead-letter publish failed, retrying", extra={"error": repr(error)})
                await asyncio.sleep(backoff_delay(attempt))


class KafkaMessageProcessor:
    def __init__(
        self, bus: MessageBus, dead_letters: DeadLetters, *, max_attempts: int = 5
    ) -> None:
        self.bus = bus
        self.dead_letters = dead_letters
        self.max_attempts = max_attempts

    async def process(self, record: ConsumerRecord[Any, Any]) -> None:
        if record.value is None and not record.topic.endswith(".commands"):
            # A tombstone: the compacted topic forgets the key; the event says why.
            MESSAGES.labels(self.bus.service, "tombstone", "ignored").inc()
            return
        try:
            envelope = Envelope.from_kafka(record.headers, record.value)
            if envelope.type not in self.bus.handlers and not record.topic.endswith(".commands"):
                # Public event streams carry more than any one consumer needs, including
                # types newer than this service: skip them, do not dead-letter them.
                MESSAGES.labels(self.bus.service, envelope.type, "ignored").inc()
                return
            message = envelope.decode(self.bus.accepted_types)
        except PoisonMessage as poison:
            MESSAGES.labels(self.bus.service, "unknown", "dead-lettered").inc()
            await self.dead_letters.send(record, poison.reason)
            return
        origin = Origin(record.topic, record.partition, record.offset)
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.bus.handle(envelope, message, origin)
                return
            except Rejected as rejected:
                MESSAGES.labels(self.bus.service, envelope.type, "rejected").inc()
                await self.dead_letters.send(record, f"rejected: {rejected.reason}")
                return
            except Exception as error:
                if is_transient(error):
                    # Database or broker away: never give up, never ack before it is handled.
                    log.warning(
                        "transient failure, will retry",
                        extra={"type": envelope.type, "attempt": attempt, "error": repr(error)},
                    )
                    await asyncio.sleep(backoff_delay(attempt))
                    continue
                log.exception("handler failed", extra={"type": envelope.type, "attempt": attempt})
                if attempt >= self.max_attempts:
                    MESSAGES.labels(self.bus.service, envelope.type, "dead-lettered").inc()
                    await self.dead_letters.send(
                        record, f"handler failed {attempt} times: {error!r}"[:4000]
                    )
                    return
            await asyncio.sleep(backoff_delay(attempt))
