"""The consume loop: the next batch is fetched while one is handled, and a batch's offsets are
committed while the next one is handled; never an offset past a record not handled.

FastStream hands a batch subscriber what one `getmany` brought and calls `getmany` again only
when the handler returns. aiokafka meanwhile sends the broker no new fetch while records it
fetched wait unread, so a record that arrives while a batch is handled waited for that batch,
its offset commit, a fetch after them, and then the next batch too: about two handling cycles
(docs/performance.md, sixth round). Here the handler keeps the consumer in hand while the subscriber runs:

- a `getmany` runs ahead while a batch is handled, so what arrives meanwhile is fetched at
  once, and the next batch is what it took plus whatever else is fetched by then, or within
  `LINGER_MS` after (a batch of one or two records costs a transaction of its own);
- a batch's offsets are committed, explicitly (its last record + 1 per partition, or the
  record that escaped), while the next batch is handled; one commit is in flight at a time,
  in order, and the batches handled meanwhile go together in the next. A commit that fails
  (rebalanced away, the broker away) leaves those records to come again, which the inbox
  makes harmless;
- when it stops (the subscriber stops, or a record escaped), what ran ahead is given back:
  each partition it took records of is sought back to the first of them, so nothing fetched
  and not handled is passed over. The last commit is awaited before the handler returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError

from shared.messaging.bus import MESSAGES
from shared.messaging.envelope import header_log_fields
from shared.messaging.retry import backoff_delay, describe

log = logging.getLogger(__name__)

# A batch smaller than a full one waits up to this long for one more fetch to join it (the
# default of `consume_linger_ms`). Under load a fetch is at hand and nothing waits; at a few
# hundred records a second, batches of one or two records each paid a transaction's fixed
# round trips (begin, inbox, outbox, commit). The figures that chose 3 ms, later 10 and then
# 20, are in docs/performance.md (seventh, tenth and eleventh rounds).
LINGER_MS = 20

Escapes = dict[tuple[str, int, int], int]  # (topic, partition, offset) -> times it escaped
Fetched = Mapping[TopicPartition, Sequence[ConsumerRecord[Any, Any]]]


class Processor(Protocol):
    """What handles the records (`KafkaMessageProcessor`, or a fake in tests)."""

    @property
    def service(self) -> str: ...

    async def process_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None: ...

    async def process(self, record: ConsumerRecord[Any, Any]) -> None: ...


async def consume_batches(
    processor: Processor,
    consumer: AIOKafkaConsumer,
    records: list[ConsumerRecord[Any, Any]],
    escapes: Escapes,
    *,
    running: Callable[[], bool],
    max_records: int,
    poll_timeout_ms: int,
    linger_ms: float = LINGER_MS,
) -> None:
    """Handle `records`, then the batches after them while `running()`, as above."""
    ahead: asyncio.Future[Fetched] | None = None
    committer = _Committer(consumer)
    blocked: dict[TopicPartition, int] = {}

    try:
        while True:
            ahead = asyncio.ensure_future(
                consumer.getmany(timeout_ms=poll_timeout_ms, max_records=max_records)
            )
            if records:
                blocked = await _handle(processor, consumer, records, escapes)
                committer.add(_next_offsets(records, blocked))
            if blocked or not running():
                return
            try:
                fetched = await ahead
            except Exception as error:
                # FastStream's own loop meets it again in its next `getmany`, and handles it.
                log.warning("fetching ahead failed", extra={"error": describe(error)})
                return
            finally:
                ahead = None
            records = _flat(fetched)
            if records and len(records) < max_records:
                # What arrived while the fetch ahead was answered, or arrives within the linger.
                more = await consumer.getmany(
                    timeout_ms=int(linger_ms), max_records=max_records - len(records)
                )
                records += _flat(more)  # each partition's after its own, as fetched
            elif not records:
                # Idle: nothing fetched is left unhandled, so the consumer's positions are what
                # is handled. Commit those not committed yet, as a plain commit would: also a
                # partition that never had a record, whose lag then reads 0, not unknown.
                idle = await _positions(consumer)
                behind = {tp: at for tp, at in idle.items() if committer.asked.get(tp) != at}
                if behind:
                    committer.add(behind)
    finally:
        if ahead is not None:
            _give_back(consumer, ahead, blocked)
        mine = consumer.assignment()
        for partition, offset in blocked.items():
            if partition in mine:
                consumer.seek(partition, offset)
        await committer.drain()


async def _handle(
    processor: Processor,
    consumer: AIOKafkaConsumer,
    records: Sequence[ConsumerRecord[Any, Any]],
    escapes: Escapes,
) -> dict[TopicPartition, int]:
    """Process a batch; return the partitions stopped at a record that escaped, with its offset.

    The processor handles, retries or dead-letters everything it can, a batch at a time.
    Should something still escape it (a dead letter the broker refuses for good, a bug), the
    records are taken one at a time: a partition stops at its first record that escapes, and
    is paused for a backoff and sought back to it (by the caller), so that record comes again
    and its partition waits behind it, while the other partitions flow on."""
    blocked: dict[TopicPartition, int] = {}
    try:
        await processor.process_batch(records)
    except Exception as error:
        log.warning(
            "a batch could not be processed whole; taking its records one at a time",
            extra={"records": len(records), "error": describe(error)},
        )
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            if partition in blocked:
                continue  # behind a record that escaped: its partition waits
            try:
                await processor.process(record)
            except Exception as escaped:
                blocked[partition] = record.offset
                _hold(processor, consumer, record, escaped, escapes)
            else:
                escapes.pop((record.topic, record.partition, record.offset), None)
    return blocked


def _next_offsets(
    records: Sequence[ConsumerRecord[Any, Any]], blocked: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """What to commit after `records`: past the last of each partition, or up to the record
    its partition stopped at."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        offsets[partition] = max(offsets.get(partition, 0), record.offset + 1)
    offsets.update(blocked)
    return offsets


class _Committer:
    """One offset commit in flight at a time, in order; what batches handled meanwhile ask for
    goes in the next one, together (so a commit that takes longer than a batch costs no
    queue of commits)."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.asked: dict[TopicPartition, int] = {}  # every offset asked for, committed or not
        self.pending: dict[TopicPartition, int] = {}
        self.running: asyncio.Future[None] | None = None

    def add(self, offsets: dict[TopicPartition, int]) -> None:
        self.asked.update(offsets)
        self.pending.update(offsets)
        if self.running is None or self.running.done():
            self.running = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while self.pending:
            offsets, self.pending = self.pending, {}
            await _commit(self.consumer, offsets)

    async def drain(self) -> None:
        if self.running is not None:
            await self.running


async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
    mine = consumer.assignment()
    offsets = {partition: offset for partition, offset in offsets.items() if partition in mine}
    if not offsets:
        return  # rebalanced away: the new owner has these records from the last commit
    try:
        await consumer.commit(offsets)
    except Exception as error:
        # Rebalanced away mid-batch, or the broker away: the records come again and the
        # inbox makes that harmless; a later commit covers the partitions that stay.
        log.warning("offset commit failed; expecting redelivery", extra={"error": describe(error)})


async def _positions(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
    found: dict[TopicPartition, int] = {}
    for partition in consumer.assignment():
        with contextlib.suppress(IllegalStateError):  # rebalanced away meanwhile
            found[partition] = await consumer.position(partition)
    return found


def _flat(fetched: Fetched) -> list[ConsumerRecord[Any, Any]]:
    """The records of a fetch, partition after partition, each in offset order."""
    return [record for records in fetched.values() for record in records]


def _give_back(
    consumer: AIOKafkaConsumer,
    ahead: asyncio.Future[Fetched],
    blocked: Mapping[TopicPartition, int],
) -> None:
    """Stop the fetch that ran ahead; seek each partition it took records of back to the
    first of them (a partition stopped at an escaped record is sought to that by the caller)."""
    if not ahead.done():
        ahead.cancel()  # still waiting: it took nothing
        return
    if ahead.cancelled() or ahead.exception() is not None:
        return
    mine = consumer.assignment()
    for partition, records in ahead.result().items():
        if records and partition in mine and partition not in blocked:
            consumer.seek(partition, records[0].offset)


def _hold(
    processor: Processor,
    consumer: AIOKafkaConsumer,
    record: ConsumerRecord[Any, Any],
    error: BaseException,
    escapes: Escapes,
) -> None:
    """Pause the record's partition for a backoff; it is sought back to the record after."""
    where = (record.topic, record.partition, record.offset)
    escapes[where] = attempt = escapes.get(where, 0) + 1
    delay = backoff_delay(attempt)
    log.error(
        "message not processed; it will come again",
        extra={
            **header_log_fields(record.headers),
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "attempt": attempt,
            "retry_in_s": round(delay, 2),
            "error": describe(error),
        },
    )
    MESSAGES.labels(processor.service, record.topic, "unknown", "escaped").inc()
    partition = TopicPartition(record.topic, record.partition)
    consumer.pause(partition)

    def resume() -> None:
        # Rebalanced away meanwhile: the partition is no longer ours to resume.
        if partition in consumer.assignment():
            consumer.resume(partition)

    asyncio.get_running_loop().call_later(delay, resume)
    if len(escapes) > 10_000:  # records that escaped and then went to another consumer
        escapes.clear()
