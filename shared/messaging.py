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
from typing import Any, cast

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord
from prometheus_client import Counter

from shared.envelope import Envelope, PoisonMessage
from shared.events.base import Contract
from shared.outbox import add_to_outbox
from shared.redact import redact
from shared.retry import backoff_delay, describe, is_transient
from shared.topics import dlq_topic

log = logging.getLogger(__name__)

# Headers of a letter whose original could not be kept as it was.
NULL_VALUE_HEADER = "dlq_original_null"  # the original had neither key nor value
OMITTED_HEADER = "dlq_value_omitted"  # the value was refused by the DLQ; this says why

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
# Runs inside the handler's transaction, after it, with its result.
BeforeCommit = Callable[[asyncpg.Connection, Any], Awaitable[None]]


@dataclass(frozen=True)
class Origin:
    topic: str
    partition: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class Tombstone:
    """A null value on a compacted topic: whatever a consumer holds for `key` goes.

    A service that holds something for the keys of a compacted topic handles its tombstones
    with a handler registered under `tombstone_handler(topic)`; without one they are skipped.
    """

    topic: str
    key: str


TOMBSTONE_PREFIX = "tombstone:"


def tombstone_handler(topic: str) -> str:
    """The name in a handler table under which tombstones on `topic` are handled."""
    return f"{TOMBSTONE_PREFIX}{topic}"


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

    async def handle(
        self,
        envelope: Envelope,
        message: Contract,
        origin: Origin,
        *,
        before_commit: BeforeCommit | None = None,
    ) -> Outcome:
        """Run the handler once per message id; `before_commit` (optional) then runs in the
        same transaction with the handler's result, e.g. to keep an HTTP answer with it."""
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
            if before_commit is not None:
                await before_commit(conn, result)
        MESSAGES.labels(self.service, envelope.type, "handled").inc()
        return Outcome(fresh=True, result=result)


class DeadLetterFailed(Exception):
    """Not even a letter without the value could be written: the message must not be passed."""


class DeadLetters:
    """Publishes a message that cannot be handled to `<topic>.dlq`, with the reason.

    The letter is the message as it was sent (key, value, headers) plus `dlq_*` headers. While
    the broker is away it is retried; when the broker refuses the letter for good (too large
    for the DLQ, not allowed), a letter without the value is sent instead, saying why and where
    the original still is. Only when that is refused too does `send` raise, and the caller must
    then not commit past the message.
    """

    def __init__(self, producer: AIOKafkaProducer, *, group: str) -> None:
        self.producer = producer
        self.group = group

    async def send(self, record: ConsumerRecord[Any, Any], reason: str) -> None:
        reason = redact(reason)[:4000]
        headers = [
            *[(name, value if value is not None else b"") for name, value in record.headers or ()],
            ("dlq_reason", reason.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self.group.encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        value = record.value
        if value is None and record.key is None:
            # Kafka takes no record without both; the header says the original had neither.
            value = b""
            headers.append((NULL_VALUE_HEADER, b"true"))
        try:
            await self._publish(record, value, headers)
        except Exception as error:
            if is_transient(error):
                raise  # only a cancelled retry loop ends here
            log.error(
                "dead letter refused by the broker; sending it without the value",
                extra={"topic": record.topic, "offset": record.offset, "error": describe(error)},
            )
            omitted = [*headers, (OMITTED_HEADER, redact(describe(error))[:1000].encode())]
            try:
                await self._publish(record, None if record.key is not None else b"", omitted)
            except Exception as again:
                raise DeadLetterFailed(
                    f"{record.topic}@{record.partition}:{record.offset} could not be "
                    f"dead-lettered: {describe(again)}"
                ) from again
        log.warning(
            "message dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "reason": reason},
        )

    async def _publish(
        self, record: ConsumerRecord[Any, Any], value: bytes | None, headers: list[Any]
    ) -> None:
        attempt = 0
        while True:
            try:
                await self.producer.send_and_wait(
                    dlq_topic(record.topic), value=value, key=record.key, headers=headers
                )
                return
            except Exception as error:
                if not is_transient(error):
                    raise
                attempt += 1
                log.warning(
                    "dead-letter publish failed, retrying",
                    extra={"attempt": attempt, "error": describe(error)},
                )
                await asyncio.sleep(backoff_delay(attempt))


class KafkaMessageProcessor:
    def __init__(
        self, bus: MessageBus, dead_letters: DeadLetters, *, max_attempts: int = 5
    ) -> None:
        self.bus = bus
        self.dead_letters = dead_letters
        self.max_attempts = max_attempts

    async def _tombstone(self, record: ConsumerRecord[Any, Any]) -> None:
        """Run a tombstone through its topic's tombstone handler, inbox included.

        Its message id is its place in the log, so a redelivered tombstone changes nothing.
        Like any message, it is retried while the database is away and dead-lettered when its
        handler refuses it or keeps failing.
        """
        name = tombstone_handler(record.topic)
        if name not in self.bus.handlers or record.key is None:
            MESSAGES.labels(self.bus.service, "tombstone", "ignored").inc()
            return
        key = bytes(record.key).decode(errors="replace")
        envelope = Envelope(
            id=f"{name}:{record.partition}:{record.offset}",
            type=name,
            source=f"/kafka/{record.topic}",
            time=datetime.fromtimestamp(record.timestamp / 1000, UTC),
            data=b"",
            subject=key,
        )
        # The bus hands the message to the handler as it is; a tombstone is no Contract.
        message = cast(Contract, Tombstone(topic=record.topic, key=key))
        origin = Origin(record.topic, record.partition, record.offset)
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.bus.handle(envelope, message, origin)
                return
            except Rejected as rejected:
                MESSAGES.labels(self.bus.service, "tombstone", "rejected").inc()
                await self.dead_letters.send(record, f"rejected: {rejected.reason}")
                return
            except Exception as error:
                if not is_transient(error):
                    log.exception("tombstone handler failed", extra={"attempt": attempt})
                    if attempt >= self.max_attempts:
                        MESSAGES.labels(self.bus.service, "tombstone", "dead-lettered").inc()
                        await self.dead_letters.send(
                            record, f"tombstone handler failed {attempt} times: {describe(error)}"
                        )
                        return
                else:
                    log.warning(
                        "transient failure, will retry",
                        extra={"type": name, "attempt": attempt, "error": describe(error)},
                    )
            await asyncio.sleep(backoff_delay(attempt))

    async def process(self, record: ConsumerRecord[Any, Any]) -> None:
        if record.value is None and not record.topic.endswith(".commands"):
            # A tombstone: the compacted topic forgets the key, and so does a consumer that
            # holds something for it.
            await self._tombstone(record)
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
                        record, f"handler failed {attempt} times: {describe(error)}"
                    )
                    return
            await asyncio.sleep(backoff_delay(attempt))
