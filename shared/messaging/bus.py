"""The way in: one handler table, one transaction per message, inbox and outbox inside it.

HTTP routes and Kafka subscribers both end in `MessageBus.handle`, so a command behaves the
same whichever way it came. `KafkaMessageProcessor` adds what only Kafka needs: decoding,
dead letters for poison, retry with backoff for transient failures. It returns only once the
message is handled or dead-lettered, so the caller may then commit the offset.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Histogram

from shared.contracts.events.base import Contract
from shared.contracts.topics import dlq_topic
from shared.messaging import tracing
from shared.messaging.envelope import Envelope, PoisonMessage, current_message, header_log_fields
from shared.messaging.outbox import add_to_outbox, outbox_rows_at_end
from shared.messaging.redact import redact
from shared.messaging.retry import backoff_delay, describe, is_transient
from shared.messaging.wakeups import after_commit

log = logging.getLogger(__name__)

# Headers of a letter whose original could not be kept as it was.
NULL_VALUE_HEADER = "dlq_original_null"  # the original had neither key nor value
OMITTED_HEADER = "dlq_value_omitted"  # the value was refused by the DLQ; this says why

# outcome: handled, duplicate, rejected, dead-lettered, escaped (not processed; comes again),
# ignored (a type or tombstone this service does not handle). `topic` is "http" for commands
# that came over HTTP.
MESSAGES = Counter(
    "ks_messages_total", "Messages consumed, by outcome", ["service", "topic", "type", "outcome"]
)
HANDLER_SECONDS = Histogram(
    "ks_handler_seconds",
    "Time a handler took, in its transaction",
    ["service", "type"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


class Rejected(Exception):
    """The domain refuses a command as it stands (unknown municipality, late, not allowed).

    Over HTTP it is a 4xx with the reason; from Kafka it is a dead letter with the reason.
    Nothing of the command is stored.
    """

    def __init__(self, reason: str, *, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


# A batch takes another lane (a transaction side by side) for each this many records.
RECORDS_PER_LANE = 16


def in_publish_order(work: Sequence[Work]) -> list[Work]:
    """The records of several partitions merged by their timestamps, each partition's in its
    own order: a fetch hands them over partition by partition, and one lane handles them one
    after the other, so an event would otherwise be handled before one published well before
    it under another key (an admission before the interest that made the board known)."""
    partitions: dict[tuple[str, int], list[Work]] = {}
    for item in work:
        partitions.setdefault((item.record.topic, item.record.partition), []).append(item)
    if len(partitions) < 2:
        return list(work)
    return list(heapq.merge(*partitions.values(), key=lambda item: item.record.timestamp))


@dataclass
class UnitOfWork:
    """What a handler gets: the transaction's connection and a way to emit messages."""

    conn: asyncpg.Connection
    source: str
    caused_by: Envelope
    emitted: list[Envelope] = field(default_factory=list)
    service: str = ""

    async def emit(self, topic: str, contract: Contract, *, subject: str | None = None) -> Envelope:
        if tracing.active():
            return await self._emit_traced(topic, contract, subject)
        envelope = Envelope.wrap(
            contract,
            source=self.source,
            subject=subject or contract.key(),
            caused_by=self.caused_by,
        )
        await add_to_outbox(self.conn, topic=topic, key=contract.key(), envelope=envelope)
        self.emitted.append(envelope)
        return envelope

    async def _emit_traced(self, topic: str, contract: Contract, subject: str | None) -> Envelope:
        """The outbox row in a span of its own, whose context the envelope carries: the
        relay's publish and each consumer's handling continue from it."""
        with tracing.span(
            self.service,
            f"create {topic}",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "create",
                "messaging.destination.name": topic,
                "cloudevents.event_type": contract.TYPE,
            },
        ) as span:
            traceparent, tracestate = tracing.current_context_headers()
            envelope = Envelope.wrap(
                contract,
                source=self.source,
                subject=subject or contract.key(),
                caused_by=self.caused_by,
                traceparent=traceparent,
                tracestate=tracestate,
            )
            if span is not None:
                span.set_attribute("cloudevents.event_id", envelope.id)
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


@dataclass(frozen=True)
class Work:
    """A consumed record, decoded, for its handler."""

    record: ConsumerRecord[Any, Any]
    envelope: Envelope
    message: Contract

    @property
    def origin(self) -> Origin:
        return Origin(self.record.topic, self.record.partition, self.record.offset)


@dataclass(frozen=True)
class Letter:
    """A consumed record that goes to the dead-letter topic, and why."""

    record: ConsumerRecord[Any, Any]
    reason: str
    type: str = "unknown"
    outcome: str = "dead-lettered"  # or "rejected": the domain refused it


class HandlerFailed(Exception):
    """A handler failed in a batch for a reason that retrying the batch would not cure."""

    def __init__(self, work: Work, error: BaseException) -> None:
        super().__init__(describe(error))
        self.work = work
        self.error = error


class _Refused(Exception):
    """A handler in a batch refused its message: the batch is run again with savepoints.

    The run again is the same up to that message, so it is refused again without its
    handler being called a second time.
    """

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


def _place(letter: Letter) -> tuple[int, int]:
    return letter.record.partition, letter.record.offset


class MessageBus:
    def __init__(
        self,
        pool: asyncpg.Pool,
        handlers: Mapping[str, Handler],
        *,
        service: str,
        lanes: int = 1,
    ) -> None:
        self.pool = pool
        self.handlers = dict(handlers)
        self.service = service
        # Transactions per partition of a batch: the keys of a partition are spread over this
        # many lanes, each in order, the lanes side by side (see `handle_batch`).
        self.lanes = max(1, lanes)

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
        async with self.pool.acquire() as conn, after_commit(conn), conn.transaction():
            outcome = await self._handle_in(conn, envelope, message, origin, before_commit)
        self._count(origin.topic, envelope.type, "handled" if outcome.fresh else "duplicate")
        return outcome

    async def handle_batch(
        self,
        work: Sequence[Work],
        *,
        before_commit: Callable[[list[Letter]], Awaitable[None]] | None = None,
    ) -> None:
        """Handle consumed records in one transaction; the refused ones become letters.

        Most batches have no refusal, and run without savepoints: the inbox rows in one
        statement, then each handler. When a handler refuses its message (`Rejected`), the
        batch is rolled back and run again with a savepoint per message, so the refused one
        leaves nothing behind and the others keep their effects. A transient failure rolls
        the whole batch back and propagates (retry it); any other failure of a handler
        raises `HandlerFailed` after the rollback (handle the records one by one).
        `before_commit` gets the refused ones before the commit, to dead-letter them: if it
        raises, nothing of the batch is kept.

        The records go in transactions of their own, one per lane: a key always falls in the
        same lane (by a hash of it), so each key keeps its order, which is all the order Kafka
        promises between messages (docs/events.md: none between keys). The lanes run side by
        side on connections of their own, so the round trips to the database of one overlap
        with another's. A lane costs round trips of its own (begin, inbox, outbox, commit), so
        a small batch takes fewer lanes: one per `RECORDS_PER_LANE` records, up to `lanes`.
        Should one transaction fail, the others may have committed; the caller's retry (or the
        records one by one) then finds them in the inbox.
        """
        work = in_publish_order(work)
        lanes = min(self.lanes, -(-len(work) // RECORDS_PER_LANE))
        groups: dict[int, list[Work]] = {}
        for item in work:
            key = item.record.key
            lane = zlib.crc32(key) % lanes if key and lanes > 1 else 0
            groups.setdefault(lane, []).append(item)
        if len(groups) == 1:
            await self._handle_group(work, before_commit)
            return
        results = await asyncio.gather(
            *(self._handle_group(group, before_commit) for group in groups.values()),
            return_exceptions=True,
        )
        errors = [result for result in results if isinstance(result, BaseException)]
        if errors:
            # What no retry cures goes first: the caller then takes the records one by one.
            raise next((e for e in errors if not is_transient(e)), errors[0])

    async def _handle_group(
        self,
        work: Sequence[Work],
        before_commit: Callable[[list[Letter]], Awaitable[None]] | None,
    ) -> None:
        outcomes: Sequence[str | None]
        letters: list[Letter] = []
        async with self.pool.acquire() as conn, after_commit(conn):
            try:
                async with conn.transaction():
                    outcomes = await self._run_batch(conn, work)
                    if before_commit is not None:
                        await before_commit([])
            except _Refused as refused:
                async with conn.transaction():
                    outcomes, letters = await self._run_batch_with_savepoints(conn, work, refused)
                    if before_commit is not None:
                        await before_commit(letters)
        for item, outcome in zip(work, outcomes, strict=True):
            if outcome is not None:
                self._count(item.record.topic, item.envelope.type, outcome)

    async def _run_batch(self, conn: asyncpg.Connection, work: Sequence[Work]) -> list[str]:
        # Without savepoints nothing of the batch stays unless all of it does, so the outbox
        # rows of all its messages go in one statement at the end.
        async with outbox_rows_at_end(conn):
            return await self._run_batch_handlers(conn, work)

    async def _run_batch_handlers(
        self, conn: asyncpg.Connection, work: Sequence[Work]
    ) -> list[str]:
        columns = [
            [w.envelope.id for w in work],
            [w.envelope.type for w in work],
            [w.record.topic for w in work],
            [w.record.partition for w in work],
            [w.record.offset for w in work],
        ]
        if tracing.active():
            # Work done later because of a message (a mail) joins its trace from here.
            columns.append([w.envelope.traceparent for w in work])
            rows = await conn.fetch(_INBOX_BATCH_TRACED, *columns)
        else:
            rows = await conn.fetch(_INBOX_BATCH, *columns)
        fresh = {row["message_id"] for row in rows}
        outcomes: list[str] = []
        for index, item in enumerate(work):
            if item.envelope.id not in fresh:
                outcomes.append("duplicate")  # handled before, or earlier in this batch
                continue
            fresh.discard(item.envelope.id)
            try:
                await self._run_handler(conn, item.envelope, item.message, item.record.topic)
            except Rejected as rejected:
                raise _Refused(index, rejected.reason) from rejected
            except Exception as error:
                if is_transient(error):
                    raise
                raise HandlerFailed(item, error) from error
            outcomes.append("handled")
        return outcomes

    async def _run_batch_with_savepoints(
        self, conn: asyncpg.Connection, work: Sequence[Work], refused: _Refused
    ) -> tuple[list[str | None], list[Letter]]:
        outcomes: list[str | None] = []
        letters: list[Letter] = []
        for index, item in enumerate(work):
            if index == refused.index:
                letters.append(
                    Letter(
                        item.record, f"rejected: {refused.reason}", item.envelope.type, "rejected"
                    )
                )
                outcomes.append(None)
                continue
            try:
                async with conn.transaction():  # a savepoint
                    outcome = await self._handle_in(conn, item.envelope, item.message, item.origin)
            except Rejected as rejected:
                letters.append(
                    Letter(
                        item.record, f"rejected: {rejected.reason}", item.envelope.type, "rejected"
                    )
                )
                outcomes.append(None)  # counted when its letter is sent
                continue
            except Exception as error:
                if is_transient(error):
                    raise
                raise HandlerFailed(item, error) from error
            outcomes.append("handled" if outcome.fresh else "duplicate")
        return outcomes, letters

    async def _handle_in(
        self,
        conn: asyncpg.Connection,
        envelope: Envelope,
        message: Contract,
        origin: Origin,
        before_commit: BeforeCommit | None = None,
    ) -> Outcome:
        fresh = await conn.fetchval(
            "INSERT INTO inbox (message_id, type, topic, kafka_partition, kafka_offset,"
            " traceparent) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (message_id) DO NOTHING RETURNING true",
            envelope.id,
            envelope.type,
            origin.topic,
            origin.partition,
            origin.offset,
            # An HTTP command's is the request's span; a consumed message's, what it came with.
            (envelope.traceparent or tracing.current_context_headers()[0])
            if tracing.active()
            else None,
        )
        if not fresh:
            return Outcome(fresh=False)
        result = await self._run_handler(conn, envelope, message, origin.topic)
        if before_commit is not None:
            await before_commit(conn, result)
        return Outcome(fresh=True, result=result)

    async def _run_handler(
        self, conn: asyncpg.Connection, envelope: Envelope, message: Contract, topic: str
    ) -> Any:
        uow = UnitOfWork(
            conn=conn, source=f"/{self.service}", caused_by=envelope, service=self.service
        )
        # Log lines written while the handler runs name the message (shared.runtime.logs).
        token = current_message.set(envelope)
        try:
            started = time.perf_counter()
            if tracing.active():
                result = await self._run_traced(uow, envelope, message, topic)
            else:
                result = await self.handlers[envelope.type](message, uow)
            HANDLER_SECONDS.labels(self.service, envelope.type).observe(
                time.perf_counter() - started
            )
            return result
        finally:
            current_message.reset(token)

    async def _run_traced(
        self, uow: UnitOfWork, envelope: Envelope, message: Contract, topic: str
    ) -> Any:
        """The handler in a span: a consumer's, continuing the trace the message came with;
        an HTTP command's, inside the request's span."""
        consumed = topic != "http"
        with tracing.span(
            self.service,
            f"process {topic}" if consumed else f"handle {envelope.type}",
            parent=tracing.context_of(envelope.traceparent, envelope.tracestate),
            kind=SpanKind.CONSUMER if consumed else SpanKind.INTERNAL,
            attributes={
                "messaging.system": "kafka" if consumed else "http",
                "messaging.operation.type": "process",
                "messaging.destination.name": topic,
                "cloudevents.event_id": envelope.id,
                "cloudevents.event_type": envelope.type,
                "kulturskole.correlation_id": envelope.correlation_id or envelope.id,
            },
        ):
            return await self.handlers[envelope.type](message, uow)

    def _count(self, topic: str, type_: str, outcome: str) -> None:
        MESSAGES.labels(self.service, topic, type_, outcome).inc()


_INBOX_BATCH = (
    "INSERT INTO inbox (message_id, type, topic, kafka_partition, kafka_offset)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[])"
    " ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
)
_INBOX_BATCH_TRACED = (
    "INSERT INTO inbox (message_id, type, topic, kafka_partition, kafka_offset, traceparent)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[],"
    " $6::text[]) ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
)


def _on_its_topic(message: Contract, topic: str) -> None:
    """A message is read from the topic its contract names, `<prefix>.<service>.<name>`.

    One sent elsewhere went around the order and the access of its own topic (an event on a
    commands topic, contact details on a public one): handled, it would count as a fact or a
    request its owner never published."""
    owner, name = message.SERVICE, message.TOPIC
    if not topic.endswith(f".{owner}.{name}"):
        prefix = topic.rsplit(".", 2)[0]
        raise PoisonMessage(
            f"ce_type {message.TYPE!r} belongs on {prefix}.{owner}.{name}, not on {topic}"
        )


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
                extra={
                    **header_log_fields(record.headers),
                    "topic": record.topic,
                    "offset": record.offset,
                    "error": describe(error),
                },
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
            extra={
                **header_log_fields(record.headers),
                "topic": record.topic,
                "offset": record.offset,
                "reason": reason,
            },
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
                    extra={
                        **header_log_fields(record.headers),
                        "attempt": attempt,
                        "error": describe(error),
                    },
                )
                await asyncio.sleep(backoff_delay(attempt))


class KafkaMessageProcessor:
    """Consumed records in; each handled once, dead-lettered with a reason, or retried.

    `process_batch` (what the consumer calls) and `process` (one record) return only when
    every record is handled or dead-lettered, so the caller may then commit the offsets. While
    the database or the broker is away they retry; they raise only what they cannot place
    (a letter the broker refuses for good), and then the caller must not commit.
    """

    def __init__(
        self, bus: MessageBus, dead_letters: DeadLetters, *, max_attempts: int = 5
    ) -> None:
        self.bus = bus
        self.dead_letters = dead_letters
        self.max_attempts = max_attempts

    @property
    def service(self) -> str:
        return self.bus.service

    async def process(self, record: ConsumerRecord[Any, Any]) -> None:
        await self.process_batch([record])

    async def process_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Handle a batch: poison dead-lettered first, then the rest (`MessageBus.handle_batch`),
        whose refused commands are dead-lettered before the commit.

        So a letter the broker refuses for good leaves nothing of the batch behind: the
        records come again, and nothing after the refused one is handled before it is placed.
        """
        prepared = [self.prepare(record) for record in records]
        work = [item for item in prepared if isinstance(item, Work)]
        poison = [item for item in prepared if isinstance(item, Letter)]

        async def send_letters(refused: list[Letter]) -> None:
            await self._send(sorted(refused, key=_place))

        # Poison first: should its letter be refused for good, nothing of the batch is kept.
        await self._send(poison)
        attempt = 0
        while work:
            attempt += 1
            try:
                await self.bus.handle_batch(work, before_commit=send_letters)
                return
            except HandlerFailed as failed:
                # Something no retry of the batch cures: one by one, each with its budget.
                log.warning(
                    "a handler failed in a batch; handling its records one by one",
                    extra={**failed.work.envelope.log_fields(), "error": describe(failed.error)},
                )
                await self._one_by_one(work, failed.work)
                return
            except Exception as error:
                if not is_transient(error):
                    raise
                # Database or broker away: never give up, never ack before it is handled.
                log.warning(
                    "transient failure, will retry",
                    extra={"records": len(work), "attempt": attempt, "error": describe(error)},
                )
                await asyncio.sleep(backoff_delay(attempt))

    async def _one_by_one(self, work: Sequence[Work], failed: Work) -> None:
        """Each record in a transaction of its own, in order; a letter as soon as it is one."""
        for item in work:
            # The failed attempt in the batch counts against its budget.
            letter = await self._handle_alone(item, failures=int(item is failed))
            if letter is not None:
                await self._send([letter])

    async def _send(self, letters: Sequence[Letter]) -> None:
        for letter in letters:
            await self.dead_letters.send(letter.record, letter.reason)
            self.bus._count(letter.record.topic, letter.type, letter.outcome)

    def prepare(self, record: ConsumerRecord[Any, Any]) -> Work | Letter | None:
        """What to do with a record: its handler's work, a dead letter, or nothing."""
        commands = record.topic.endswith(".commands")
        if record.value is None and not commands:
            return self._tombstone(record)
        try:
            envelope = Envelope.from_kafka(record.headers, record.value)
            if envelope.type not in self.bus.handlers and not commands:
                # Public event streams carry more than any one consumer needs, including
                # types newer than this service: skip them, do not dead-letter them.
                self.bus._count(record.topic, envelope.type, "ignored")
                return None
            message = envelope.decode(self.bus.accepted_types)
            _on_its_topic(message, record.topic)
            return Work(record, envelope, message)
        except PoisonMessage as poison:
            return Letter(record, poison.reason)

    def _tombstone(self, record: ConsumerRecord[Any, Any]) -> Work | None:
        """A tombstone for its topic's tombstone handler, if the service has one.

        Its message id is its place in the log, so a redelivered tombstone changes nothing.
        """
        name = tombstone_handler(record.topic)
        if name not in self.bus.handlers or record.key is None:
            self.bus._count(record.topic, "tombstone", "ignored")
            return None
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
        return Work(record, envelope, cast(Contract, Tombstone(topic=record.topic, key=key)))

    async def _handle_alone(self, item: Work, *, failures: int = 0) -> Letter | None:
        """One record in a transaction of its own, with a budget for failures.

        Transient failures (database or broker away) do not use up the budget.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.bus.handle(item.envelope, item.message, item.origin)
                return None
            except Rejected as rejected:
                return Letter(
                    item.record, f"rejected: {rejected.reason}", item.envelope.type, "rejected"
                )
            except Exception as error:
                if is_transient(error):
                    log.warning(
                        "transient failure, will retry",
                        extra={
                            **item.envelope.log_fields(),
                            "attempt": attempt,
                            "error": describe(error),
                        },
                    )
                else:
                    failures += 1
                    log.exception(
                        "handler failed",
                        extra={
                            **item.envelope.log_fields(),
                            "topic": item.record.topic,
                            "offset": item.record.offset,
                            "attempt": failures,
                            "max_attempts": self.max_attempts,
                        },
                    )
                    if failures >= self.max_attempts:
                        return Letter(
                            item.record,
                            f"handler failed {failures} times: {describe(error)}",
                            item.envelope.type,
                        )
            await asyncio.sleep(backoff_delay(attempt))
