"""Transactional outbox: write events with the state change, publish them afterwards.

`add_to_outbox` runs inside the handler's transaction. `OutboxRelay` publishes waiting rows in
id order with an idempotent producer (acks=all) and marks them published. It wakes on
LISTEN/NOTIFY and polls as a fallback. One relay per schema holds an advisory lock at a time,
so replicas of a service never reorder a key's events.

Each row's outcome counts on its own:
- published: marked, with the others of its batch, in one statement;
- a transient failure (the broker away or restarting): the row waits; the relay backs off and
  reconnects with a fresh producer, and sends it again. Nothing is lost;
- a permanent failure (too large for the topic, unknown topic, no authorization): the row is
  *parked* with its reason (a log line, the `ks_outbox_parked` gauge). Later rows of the same
  topic and key wait behind it, so the key's order holds; every other key flows on. An
  operator lists, retries or discards parked rows with `kulturskole outbox ...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import json
import logging
import time
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors
from aiokafka.partitioner import DefaultPartitioner
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge

from shared.db.pool import connect
from shared.messaging import tracing
from shared.messaging.envelope import (
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    Envelope,
    header_log_fields,
)
from shared.messaging.kafka_client import Kafka, client_kwargs
from shared.messaging.redact import redact
from shared.messaging.retry import backoff_delay, describe, is_transient
from shared.messaging.wakeups import OUTBOX, OUTBOX_SUFFIX, listening_here, wake

log = logging.getLogger(__name__)

OUTBOX_BACKLOG = Gauge(
    "ks_outbox_unpublished",
    "Outbox rows not yet published (parked rows and the rows waiting behind them included)",
    ["service"],
)
OUTBOX_PARKED = Gauge(
    "ks_outbox_parked",
    "Outbox rows the broker refused for good, parked until an operator retries or discards them",
    ["service"],
)

OUTBOX_PUBLISHED = Counter(
    "ks_outbox_published_total",
    "Outbox rows the broker acknowledged and the relay marked published",
    ["service", "topic"],
)

REASON_LIMIT = 1000

# A row still to be published: not published, not parked, not given up.
_WAITING = "published_at IS NULL AND parked_at IS NULL AND discarded_at IS NULL"
_PARKED = "parked_at IS NOT NULL AND published_at IS NULL AND discarded_at IS NULL"

# The next batch: waiting rows in id order, except those behind a parked row of their topic
# and key (a null key promises no order, so nothing waits behind it). The first parked row of
# each topic and key is read once per batch (parked rows are few), not once per waiting row:
# asked per row, the planner may answer each from the index of waiting rows, which it rates
# as cheap as the parked rows' own when its statistics say that nothing waits, and then a
# batch of 500 read 500 times every waiting row (tests/integration/test_db_plans.py holds the
# plan to its index).
_NEXT_BATCH = f"""
WITH parked AS MATERIALIZED (
    SELECT topic, key, min(id) AS id FROM outbox WHERE {_PARKED} GROUP BY topic, key
)
SELECT id, event_id, topic, key, headers, payload FROM outbox AS o
WHERE {_WAITING}
  AND NOT EXISTS (
    SELECT 1 FROM parked AS p WHERE p.topic = o.topic AND p.key = o.key AND p.id < o.id)
ORDER BY id
LIMIT {{limit:d}}
"""

# The producer's own sequence state is what failed, not the row: after the broker refuses a
# batch, an idempotent producer's later batches on that partition fail out of sequence. A
# fresh producer (a new producer id) sends them fine.
_PRODUCER_STATE_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.OutOfOrderSequenceNumber,
    kafka_errors.UnknownProducerId,
    kafka_errors.InvalidProducerEpoch,
    kafka_errors.ProducerFenced,
)


def notify_channel(schema: str) -> str:
    return f"{schema}{OUTBOX_SUFFIX}"


@dataclass(frozen=True)
class OutboxRow:
    """A row for the outbox as the statements that write many take it."""

    event_id: str
    topic: str
    key: str | None
    headers: str  # JSON text of [[name, value], ...]
    payload: bytes | None

    @classmethod
    def of(cls, topic: str, key: str | None, envelope: Envelope) -> OutboxRow:
        if tracing.active() and not envelope.traceparent:
            # Written outside `UnitOfWork.emit` (a mark, an erasure): the current span's.
            traceparent, tracestate = tracing.current_context_headers()
            envelope = dataclasses.replace(envelope, traceparent=traceparent, tracestate=tracestate)
        headers = [[k, v.decode()] for k, v in envelope.headers()]
        return cls(envelope.id, topic, key, json.dumps(headers), envelope.data)


@dataclass
class _Deferred:
    conn: asyncpg.Connection
    rows: list[OutboxRow]


_deferred: contextvars.ContextVar[_Deferred | None] = contextvars.ContextVar(
    "outbox_deferred", default=None
)


async def add_to_outbox(
    conn: asyncpg.Connection,
    *,
    topic: str,
    key: str,
    envelope: Envelope | None,
    tombstone_id: str | None = None,
) -> None:
    """Queue one message; `envelope=None` queues a tombstone for `key` (needs `tombstone_id`).

    Inside `outbox_rows_at_end(conn)` the row is written with the block's others at its end."""
    if envelope is None:
        assert tombstone_id, "a tombstone needs an id of its own"
        row = OutboxRow(tombstone_id, topic, key, "[]", None)
    else:
        row = OutboxRow.of(topic, key, envelope)
    deferred = _deferred.get()
    if deferred is not None and deferred.conn is conn:
        deferred.rows.append(row)
        return
    await add_rows_to_outbox(conn, [row])


@contextlib.asynccontextmanager
async def outbox_rows_at_end(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Write the outbox rows queued on `conn` in the block in one statement at its end, in the
    order they were queued (their ids, so their order of publication, as if written one by
    one). Use it inside the transaction: a block that raises writes nothing, and its
    transaction is to be rolled back. Saves a round trip to the database per message of a
    batch handled in one transaction."""
    token = _deferred.set(_Deferred(conn, []))
    try:
        yield
        await write_queued_rows(conn)
    finally:
        _deferred.reset(token)


async def write_queued_rows(conn: asyncpg.Connection) -> None:
    """Write now the rows queued on `conn` by `outbox_rows_at_end`, for a statement that must
    see the whole outbox (withdrawing an erased person's records, say). Later rows queue on."""
    deferred = _deferred.get()
    if deferred is None or deferred.conn is not conn or not deferred.rows:
        return
    rows, deferred.rows = deferred.rows, []
    await add_rows_to_outbox(conn, rows)


async def add_rows_to_outbox(conn: asyncpg.Connection, rows: Sequence[OutboxRow]) -> None:
    """Queue rows in one statement, in their order (their ids, so their order of
    publication), and wake the relay: after the commit inside `after_commit`, else in this
    transaction (delivered at commit, never for a rolled-back transaction)."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, key, headers, payload)"
        " SELECT e.event_id, e.topic, e.key, e.headers::jsonb, e.payload"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[])"
        " WITH ORDINALITY AS e(event_id, topic, key, headers, payload, n)"
        " ORDER BY e.n",
        [r.event_id for r in rows],
        [r.topic for r in rows],
        [r.key for r in rows],
        [r.headers for r in rows],
        [r.payload for r in rows],
    )
    await wake(conn, OUTBOX)


def kafka_producer(bootstrap: Kafka) -> AIOKafkaProducer:
    # enable_idempotence gives acks=all and no duplicates from the producer's own retries.
    return AIOKafkaProducer(
        **client_kwargs(bootstrap),
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=15000,
    )


async def close_producer(producer: AIOKafkaProducer, *, grace: float = 2.0) -> None:
    """Stop `producer`, also when the broker is away; never raises.

    `stop()` waits until every queued record is delivered; with the broker away (and an
    idempotent producer retrying forever) that is never. After `grace` seconds the records
    still queued are failed, so the producer can close; their rows stay unpublished and are
    sent again by a fresh producer.
    """
    stopping = asyncio.ensure_future(producer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=grace)
    if not done:
        # aiokafka has no public way to drop what it still holds (no delivery timeout for an
        # idempotent producer), so the accumulator is told directly.
        producer._message_accumulator.fail_all(
            kafka_errors.KafkaTimeoutError("producer closed before the broker acknowledged")
        )
    try:
        await stopping
    except Exception as error:
        # Its sender can trip over the batches failed under it; what is left is the client.
        log.debug("kafka producer stopped with an error", extra={"error": failure_reason(error)})
        with contextlib.suppress(Exception):
            await producer.client.close()


def transient_for_relay(error: BaseException) -> bool:
    """`is_transient`, plus the errors a fresh producer cures (see _PRODUCER_STATE_ERRORS)."""
    return is_transient(error) or isinstance(error, _PRODUCER_STATE_ERRORS)


def failure_reason(error: BaseException) -> str:
    """What an operator reads about a failure: the error and, for a broker's error code, what
    the code means. Redacted, since it is stored and logged."""
    text = describe(error)
    description = getattr(error, "description", "")
    if isinstance(error, kafka_errors.BrokerResponseError) and description:
        text = f"{text} ({error.message}: {description})"
    return redact(text)[:REASON_LIMIT]


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


# --- what operators and probes read --------------------------------------------------------


@dataclass(frozen=True)
class OutboxCounts:
    unpublished: int  # waiting, parked, and waiting behind a parked row
    parked: int


async def outbox_counts(conn: asyncpg.Connection | asyncpg.Pool) -> OutboxCounts:
    row = await conn.fetchrow(
        "SELECT count(*) AS unpublished, count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked"
        " FROM outbox WHERE published_at IS NULL AND discarded_at IS NULL"
    )
    assert row is not None
    return OutboxCounts(unpublished=row["unpublished"], parked=row["parked"])


@dataclass(frozen=True)
class ParkedRow:
    id: int
    event_id: str
    topic: str
    key: str | None
    ce_type: str | None
    size: int  # bytes of the value
    attempts: int
    created_at: datetime
    parked_at: datetime
    reason: str
    held: int  # later rows of the same topic and key waiting behind this one

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "topic": self.topic,
            "key": self.key,
            "ce_type": self.ce_type,
            "size": self.size,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "parked_at": self.parked_at.isoformat(),
            "reason": self.reason,
            "held": self.held,
        }


@dataclass(frozen=True)
class ParkedFilter:
    """Which parked rows: every one, or those of these ce_types, key and time range (`since`
    inclusive, `until` exclusive, on when the row was parked)."""

    types: frozenset[str] = frozenset()
    key: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def narrows(self) -> bool:
        return bool(self.types) or any(v is not None for v in (self.key, self.since, self.until))

    def args(self) -> tuple[list[str] | None, str | None, datetime | None, datetime | None]:
        """The values of `_PARKED_FILTER`'s $2..$5."""
        return (sorted(self.types) or None, self.key, self.since, self.until)


EVERY_PARKED_ROW = ParkedFilter()

# $1 ids (NULL: any), then ParkedFilter.args(); the alias of the outbox is `p`.
_PARKED_FILTER = (
    "($1::bigint[] IS NULL OR p.id = ANY($1))"
    " AND ($2::text[] IS NULL OR EXISTS (SELECT 1 FROM jsonb_array_elements(p.headers) AS h"
    "  WHERE h->>0 = 'ce_type' AND h->>1 = ANY($2)))"
    " AND ($3::text IS NULL OR p.key = $3)"
    " AND ($4::timestamptz IS NULL OR p.parked_at >= $4)"
    " AND ($5::timestamptz IS NULL OR p.parked_at < $5)"
)


async def list_parked(
    conn: asyncpg.Connection,
    ids: Sequence[int] | None = None,
    filters: ParkedFilter = EVERY_PARKED_ROW,
) -> list[ParkedRow]:
    """Every parked row (of `ids`, taken by `filters`), oldest first, with how many rows of
    its key wait behind it."""
    rows = await conn.fetch(
        "SELECT p.id, p.event_id, p.topic, p.key, p.headers, p.attempts, p.created_at,"
        " p.parked_at, p.parked_reason, coalesce(length(p.payload), 0) AS size,"
        " (SELECT count(*) FROM outbox AS w WHERE w.topic = p.topic AND w.key = p.key"
        "  AND w.id > p.id AND w.published_at IS NULL AND w.discarded_at IS NULL) AS held"
        " FROM outbox AS p"
        " WHERE p.parked_at IS NOT NULL AND p.published_at IS NULL AND p.discarded_at IS NULL"
        f" AND {_PARKED_FILTER}"
        " ORDER BY p.id",
        None if ids is None else list(ids),
        *filters.args(),
    )
    return [
        ParkedRow(
            id=r["id"],
            event_id=r["event_id"],
            topic=r["topic"],
            key=r["key"],
            ce_type=dict((k, v) for k, v in r["headers"]).get("ce_type"),
            size=r["size"],
            attempts=r["attempts"],
            created_at=r["created_at"],
            parked_at=r["parked_at"],
            reason=r["parked_reason"] or "",
            held=r["held"],
        )
        for r in rows
    ]


# Rows un-parked per transaction: each batch is out of the way of the relay quickly, and a
# long retry shows how far it has come.
RETRY_BATCH = 500


async def retry_parked(
    conn: asyncpg.Connection,
    ids: Sequence[int] | None,
    filters: ParkedFilter = EVERY_PARKED_ROW,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[int]:
    """Un-park the rows `ids` (every parked row for None) that `filters` takes; the relay
    sends them in id order.

    Returns the ids un-parked. Works in batches of `RETRY_BATCH` rows, one transaction each,
    telling `progress` (done, of how many) after each; the relay is woken at each commit. The
    last error stays in `last_error`; a row refused again is parked again with a fresh reason.
    """
    chosen = [
        r["id"]
        for r in await conn.fetch(
            f"SELECT p.id FROM outbox AS p WHERE {_PARKED} AND {_PARKED_FILTER} ORDER BY p.id",
            None if ids is None else list(ids),
            *filters.args(),
        )
    ]
    done: list[int] = []
    for start in range(0, len(chosen), RETRY_BATCH):
        async with conn.transaction():
            # Still parked: another operator may have retried or discarded one meanwhile.
            rows = await conn.fetch(
                f"UPDATE outbox SET parked_at = NULL, parked_reason = NULL WHERE {_PARKED}"
                " AND id = ANY($1::bigint[]) RETURNING id",
                chosen[start : start + RETRY_BATCH],
            )
            if rows:
                await wake(conn, OUTBOX)
        done += (r["id"] for r in rows)
        if progress is not None:
            progress(min(start + RETRY_BATCH, len(chosen)), len(chosen))
    return sorted(done)


async def discard_parked(conn: asyncpg.Connection, row_id: int, reason: str) -> bool:
    """Give up the parked row `row_id` on purpose; the rows behind it go on. False if it was
    not parked. The row stays, never published, with who-knows-why in `discarded_reason`."""
    async with conn.transaction():
        done = await conn.fetchval(
            "UPDATE outbox SET discarded_at = now(), discarded_reason = $2"
            f" WHERE id = $1 AND {_PARKED} RETURNING id",
            row_id,
            redact(reason)[:REASON_LIMIT],
        )
        if done is not None:
            await wake(conn, OUTBOX)
    return done is not None


# --- the relay -----------------------------------------------------------------------------

_PARTITIONER = DefaultPartitioner()


@dataclass(frozen=True)
class _Lane:
    """Rows for one topic-partition, in id order."""

    topic: str
    partition: int
    rows: list[asyncpg.Record]


@dataclass(frozen=True)
class _Failure:
    lane: _Lane  # the rows the error concerns
    error: BaseException


def _key_bytes(row: asyncpg.Record) -> bytes | None:
    key: str | None = row["key"]
    return key.encode() if key is not None else None


class OutboxRelay:
    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        bootstrap: Kafka,
        service: str | None = None,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        delivery_timeout: float = 30.0,
        metrics_interval: float = 1.0,
        linger: float = 0.0,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.bootstrap = bootstrap
        self.service = service or schema
        self.batch_size = batch_size
        # The size written in, not a parameter: on the relay's connection, which plans each
        # statement with parameters anew (`custom_plans`, for its mark), this one keeps its plan.
        self._next_batch = _NEXT_BATCH.format(limit=batch_size)
        self.poll_interval = poll_interval
        # After a wake-up, wait this long (seconds) for more commits' rows to join the batch.
        self.linger = linger
        # How long a sent batch may wait for the broker before the relay reconnects.
        self.delivery_timeout = delivery_timeout
        self.metrics_interval = metrics_interval
        self.published_total = 0
        self.parked_total = 0
        self.is_leader = False
        self._wake = asyncio.Event()
        self._connected = False
        self._producer: AIOKafkaProducer | None = None
        self._counted_at = float("-inf")
        self._sent_at = 0

    async def run(self) -> None:
        attempt = 0
        while True:
            self._connected = False
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if transient_for_relay(error):
                    # A relay that got connected before failing starts its backoff afresh.
                    attempt = 1 if self._connected else attempt + 1
                    log.warning(
                        "outbox relay interrupted, retrying",
                        extra={"error": failure_reason(error), "attempt": attempt},
                    )
                else:
                    attempt += 1
                    log.error(
                        "outbox relay failed, retrying",
                        extra={
                            "error": failure_reason(error),
                            "attempt": attempt,
                            "traceback": redact("".join(traceback.format_exception(error))),
                        },
                    )
                await asyncio.sleep(backoff_delay(attempt))

    async def _run_once(self) -> None:
        conn = await self.connect()
        try:
            lock = f"outbox-relay:{self.schema}"
            # Another replica leads; nothing signals its end, so poll for the lock.
            while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", lock):
                await self._count(conn)
                await asyncio.sleep(self.poll_interval)
            self.is_leader = True
            await conn.add_listener(notify_channel(self.schema), self._on_notify)
            await self._renew_producer()
            self._connected = True
            with listening_here(self.dsn, notify_channel(self.schema), self._wake.set):
                while True:
                    self._wake.clear()
                    fetched = await self._publish_batch(conn)
                    await self._count(conn)
                    if fetched < self.batch_size:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                            if self.linger:
                                await asyncio.sleep(self.linger)
        finally:
            self.is_leader = False
            try:
                if self._producer is not None:
                    producer, self._producer = self._producer, None
                    await close_producer(producer)
            finally:
                # Closing the connection releases the advisory lock: it must happen, or no
                # relay (this one included) could lead this schema again.
                try:
                    await asyncio.wait_for(conn.close(), timeout=5)
                except Exception:
                    conn.terminate()
                except BaseException:  # cancelled while closing: still let the lock go
                    conn.terminate()
                    raise

    async def connect(self) -> asyncpg.Connection:
        """The relay's own connection: it plans each statement for the table as it is
        (`custom_plans`, for its mark), and reads the outbox without bitmap scans
        (`queue_reads`, see shared/db/pool.py)."""
        return await connect(
            self.dsn,
            self.schema,
            name=f"{self.schema}-outbox-relay",
            custom_plans=True,
            queue_reads=True,
        )

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _renew_producer(self) -> None:
        """A fresh producer: after a failure its predecessor's sequence state is suspect."""
        if self._producer is not None:
            old, self._producer = self._producer, None
            await close_producer(old)
        producer = kafka_producer(self.bootstrap)
        try:
            await producer.start()
        except BaseException:
            await close_producer(producer)
            raise
        self._producer = producer

    async def _count(self, conn: asyncpg.Connection, *, now: bool = False) -> None:
        """Keep the backlog and parked gauges current, at most once per `metrics_interval`."""
        if not now and time.monotonic() - self._counted_at < self.metrics_interval:
            return
        counts = await outbox_counts(conn)
        OUTBOX_BACKLOG.labels(self.service).set(counts.unpublished)
        OUTBOX_PARKED.labels(self.service).set(counts.parked)
        self._counted_at = time.monotonic()

    async def _publish_batch(self, conn: asyncpg.Connection) -> int:
        """Send the next batch; settle each row by its own outcome. Returns the rows fetched.
        Raises a transient error, after recording it on the rows concerned, when rows have to
        wait for the broker."""
        rows = await conn.fetch(self._next_batch)
        if not rows:
            return 0
        self._sent_at = time.time_ns()  # where the publish spans of the batch begin
        lanes, waiting = await self._lanes(conn, rows)
        outcomes = await asyncio.gather(
            *(self._send_lane(lane) for lane in lanes), return_exceptions=True
        )
        published: list[asyncpg.Record] = []
        refused: list[_Failure] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                continue
            sent, failure = outcome
            published += sent
            if failure is not None:
                (waiting if transient_for_relay(failure.error) else refused).append(failure)
        await self._mark_published(conn, published)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome  # a bug, not an outcome: the run loop logs it and starts again
        if refused:
            waiting += await self._isolate(conn, refused)
        if waiting:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = f.error"
                " FROM unnest($1::bigint[], $2::text[]) AS f(id, error) WHERE outbox.id = f.id",
                [row["id"] for failure in waiting for row in failure.lane.rows],
                [failure_reason(f.error) for f in waiting for _ in f.lane.rows],
            )
            raise waiting[0].error  # the run loop backs off and reconnects
        return len(rows)

    async def _lanes(
        self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]
    ) -> tuple[list[_Lane], list[_Failure]]:
        """`rows` by topic and partition, each lane in id order. The rows of a topic the
        broker refuses outright are parked (the first of each key; the rest wait behind it);
        those of a topic it cannot tell about now are returned as waiting."""
        assert self._producer is not None
        lanes: dict[tuple[str, int], _Lane] = {}
        waiting: list[_Failure] = []
        for topic in dict.fromkeys(row["topic"] for row in rows):
            mine = [row for row in rows if row["topic"] == topic]
            try:
                partitions = sorted(await self._producer.partitions_for(topic))
            except Exception as failed:
                error = await self._confirm(failed, topic)
                if transient_for_relay(error):
                    waiting.append(_Failure(_Lane(topic, -1, mine), error))
                else:
                    parked: set[str] = set()
                    for row in mine:
                        if row["key"] is None or row["key"] not in parked:
                            await self._park(conn, row, error)
                            parked.add(row["key"])
                continue
            for row in mine:
                # As the producer's default partitioner does, so a key keeps its partition.
                partition = _PARTITIONER(_key_bytes(row), partitions, partitions)
                lanes.setdefault((topic, partition), _Lane(topic, partition, [])).rows.append(row)
        return list(lanes.values()), waiting

    async def _send_lane(self, lane: _Lane) -> tuple[list[asyncpg.Record], _Failure | None]:
        """Send `lane` as record batches, one after the other, each once the broker has taken
        the one before. A batch is appended whole or not at all, so when one fails no later
        row of its partition (and so of its keys) has gone out ahead of it."""
        assert self._producer is not None
        published: list[asyncpg.Record] = []
        rows = lane.rows
        while len(published) < len(rows):
            start = len(published)
            builder = self._producer.create_batch()
            count = 0
            adding = True
            try:
                for row in rows[start:]:
                    if (
                        builder.append(
                            timestamp=None,
                            key=_key_bytes(row),
                            value=row["payload"],
                            headers=[(k, v.encode()) for k, v in row["headers"]],
                        )
                        is None
                    ):
                        break  # full; the first record always fits
                    count += 1
                adding = False
                future = await self._producer.send_batch(
                    builder, lane.topic, partition=lane.partition
                )
                error = await self._delivered(future)
            except Exception as failed:
                error = failed
                if adding:
                    count += 1  # the row that could not be added is the one at fault
            chunk = rows[start : start + count]
            if error is not None:
                return published, _Failure(_Lane(lane.topic, lane.partition, chunk), error)
            published += chunk
        return published, None

    async def _delivered(self, future: asyncio.Future[Any]) -> BaseException | None:
        """The broker's answer on a batch, waiting `delivery_timeout` at most."""
        # A broker that is away leaves the future pending (aiokafka retries it forever):
        # bound the wait, so the relay can back off and reconnect instead.
        done, _ = await asyncio.wait({future}, timeout=self.delivery_timeout)
        if not done:
            # Failed later, when the producer is closed; nobody waits for it then.
            future.add_done_callback(_consume_outcome)
            timeout: BaseException = kafka_errors.KafkaTimeoutError(
                f"not acknowledged by the broker within {self.delivery_timeout:g}s"
            )
            return timeout
        error: BaseException | None = future.exception()
        return error

    async def _isolate(self, conn: asyncpg.Connection, refused: list[_Failure]) -> list[_Failure]:
        """Settle the rows of refused batches one by one, in id order, with a fresh producer.

        The broker refuses a whole batch for one record in it, so a refusal may be another
        row's. A row refused on its own is parked and its key's later rows wait; the others
        go out. On a transient failure stop there and return it (the rest waits)."""
        await self._renew_producer()
        rows = sorted(
            ((row, failure.lane) for failure in refused for row in failure.lane.rows),
            key=lambda pair: pair[0]["id"],
        )
        held: set[tuple[str, str]] = set()
        for row, lane in rows:
            if (row["topic"], row["key"]) in held:
                continue
            alone = _Lane(lane.topic, lane.partition, [row])
            published, failure = await self._send_lane(alone)
            if failure is None:
                await self._mark_published(conn, published)
                continue
            error = await self._confirm(failure.error, row["topic"])
            if transient_for_relay(error):
                return [_Failure(alone, error)]
            await self._park(conn, row, error)
            if row["key"] is not None:
                held.add((row["topic"], row["key"]))
            # The refused batch took its sequence numbers with it.
            await self._renew_producer()
        return []

    async def _confirm(self, error: BaseException, topic: str) -> BaseException:
        """An unknown topic is also what a broker that is away looks like to a producer that
        has not seen the topic yet: it is permanent only if a broker says so."""
        if not isinstance(error, kafka_errors.UnknownTopicOrPartitionError):
            return error
        assert self._producer is not None
        try:
            metadata = await self._producer.client.fetch_all_metadata()
        except Exception:
            found: BaseException = kafka_errors.KafkaConnectionError(
                f"no broker answered about topic {topic}"
            )
        else:
            if topic in metadata.topics(exclude_internal_topics=False):
                found = kafka_errors.LeaderNotAvailableError(f"topic {topic} has no leader yet")
            else:
                found = kafka_errors.UnknownTopicOrPartitionError(f"topic {topic} does not exist")
        return found

    async def _mark_published(
        self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]
    ) -> None:
        if not rows:
            return
        await conn.execute(
            "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
            [row["id"] for row in rows],
        )
        self.published_total += len(rows)
        if tracing.active():
            self._trace_published(rows)
        for topic in {row["topic"] for row in rows}:
            OUTBOX_PUBLISHED.labels(self.service, topic).inc(
                sum(1 for row in rows if row["topic"] == topic)
            )

    def _trace_published(self, rows: Sequence[asyncpg.Record]) -> None:
        """A publish span per row, from the batch's send to now (the broker's acknowledgement
        and the mark), continuing the trace its envelope carries."""
        tracer = tracing.tracer(self.service)
        for row in rows:
            headers = dict(row["headers"])
            span = tracer.start_span(
                f"publish {row['topic']}",
                context=tracing.context_of(
                    headers.get(TRACEPARENT_HEADER), headers.get(TRACESTATE_HEADER)
                ),
                kind=SpanKind.PRODUCER,
                start_time=self._sent_at or None,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": row["topic"],
                    "cloudevents.event_id": row["event_id"],
                    "cloudevents.event_type": headers.get("ce_type", ""),
                    "kulturskole.outbox_id": row["id"],
                },
            )
            span.end()

    async def _park(
        self, conn: asyncpg.Connection, row: asyncpg.Record, error: BaseException
    ) -> None:
        reason = failure_reason(error)
        await conn.execute(
            "UPDATE outbox SET parked_at = now(), parked_reason = $2, last_error = $2,"
            " attempts = attempts + 1 WHERE id = $1",
            row["id"],
            reason,
        )
        self.parked_total += 1
        log.error(
            "outbox row parked: the broker refuses it for good; later rows of its key wait",
            extra={
                **header_log_fields([(k, v.encode()) for k, v in row["headers"]]),
                "outbox_id": row["id"],
                "event_id": row["event_id"],
                "topic": row["topic"],
                "key": row["key"],
                "reason": reason,
            },
        )
        await self._count(conn, now=True)
