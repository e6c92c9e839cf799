"""Operator tools for dead letters: list what lies on a `<topic>.dlq`, re-drive it.

`DeadLetters` (shared/messaging/bus.py) publishes a message it cannot handle to `<topic>.dlq` with
its value, key and headers as they were, plus `dlq_*` headers saying why, from where and when.
`list_dead_letters` reads a DLQ from its beginning to its current end, without a consumer group,
so looking never moves anybody's offsets. `redrive` publishes chosen letters to their original
topic again, as they were sent (all `dlq_*` headers removed) plus a `ks_redriven_from` header
naming the letter (so one that fails again says which letter it came from). The original
`ce_id` is kept, so a consumer's inbox still skips a message it had already handled. A DLQ is a
log: re-driven letters stay on it, and a letter that fails again comes back as a new one.

What was re-driven is recorded in the service's own schema (`dlq_redriven`, one row per letter,
written once the broker has the copy), and `--all` passes those letters over: letters chosen
one by one or by a filter leave gaps below the newest re-driven one, which a committed offset
per partition (a consumer group of the tool's own) could not express. Recording after the
broker acknowledged means a crash in between re-drives a letter twice at worst, which the
consumers' inboxes absorb, and never marks one as re-driven that was not.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.topics import dlq_topic as dlq_topic_of
from shared.messaging.bus import NULL_VALUE_HEADER, OMITTED_HEADER
from shared.messaging.kafka_client import Kafka, as_connection, client_kwargs
from shared.messaging.outbox import kafka_producer

DLQ_SUFFIX = dlq_topic_of("")
DLQ_HEADER_PREFIX = "dlq_"
# On a re-driven copy: `<dlq topic>:<partition>:<offset>` of the letter it was made from.
REDRIVEN_FROM_HEADER = "ks_redriven_from"

# Told how far long work has come: (what, done, of how many).
Progress = Callable[[str, int, int], None]

Headers = tuple[tuple[str, bytes], ...]


class DeadLetterError(Exception):
    """An operator's request that cannot be carried out as given; the message says why."""


@dataclass(frozen=True)
class DeadLetter:
    partition: int  # where the letter lies on the DLQ topic
    offset: int
    original_topic: str  # where the message was consumed from, and where a re-drive sends it
    original_partition: int | None
    original_offset: int | None
    reason: str
    failed_at: str  # ISO 8601, as DeadLetters wrote it
    consumer_group: str | None
    ce_type: str | None
    ce_id: str | None
    key: bytes | None
    value: bytes | None
    headers: Headers  # all of them, the original ones and the `dlq_*` ones
    topic: str = ""  # the DLQ topic it lies on

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers as first sent: every `dlq_*` header removed."""
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]

    @property
    def redrive_headers(self) -> list[tuple[str, bytes]]:
        """The headers of its re-driven copy: as first sent, saying which letter it is."""
        dlq = self.topic or dlq_topic_of(self.original_topic)
        place = f"{dlq}:{self.partition}:{self.offset}".encode()
        kept = [(k, v) for k, v in self.original_headers if k != REDRIVEN_FROM_HEADER]
        return [*kept, (REDRIVEN_FROM_HEADER, place)]

    @property
    def failed_time(self) -> datetime | None:
        """When it was dead-lettered (`dlq_failed_at`), None if unreadable or naive."""
        try:
            moment = datetime.fromisoformat(self.failed_at)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None

    @property
    def redriven_from(self) -> str | None:
        """The letter this one's message was re-driven from, if it was a re-driven copy."""
        raw = _last_of(self.headers).get(REDRIVEN_FROM_HEADER)
        return raw or None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; key and value as text, or as `*_base64` when not UTF-8."""
        found: dict[str, Any] = {
            "partition": self.partition,
            "offset": self.offset,
            "original_topic": self.original_topic,
            "original_partition": self.original_partition,
            "original_offset": self.original_offset,
            "reason": self.reason,
            "failed_at": self.failed_at,
            "consumer_group": self.consumer_group,
            "ce_type": self.ce_type,
            "ce_id": self.ce_id,
        }
        for name, raw in (("key", self.key), ("value", self.value)):
            if raw is None:
                found[name] = None
                continue
            try:
                found[name] = raw.decode()
            except UnicodeDecodeError:
                found[f"{name}_base64"] = base64.b64encode(raw).decode()
        found["headers"] = [[k, _text(v)] for k, v in self.headers]
        return found


@dataclass(frozen=True)
class LetterFilter:
    """Which letters `--all` takes: every one, or those of these types, key and time range
    (`since` inclusive, `until` exclusive, on when the letter was dead-lettered)."""

    types: frozenset[str] = frozenset()
    key: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def narrows(self) -> bool:
        return bool(self.types) or any(v is not None for v in (self.key, self.since, self.until))

    def matches(self, letter: DeadLetter) -> bool:
        if self.types and letter.ce_type not in self.types:
            return False
        if self.key is not None and (letter.key is None or _text(letter.key) != self.key):
            return False
        if self.since is not None or self.until is not None:
            when = letter.failed_time
            if when is None:
                return False  # a time range cannot vouch for a letter of no known time
            if self.since is not None and when < self.since:
                return False
            if self.until is not None and when >= self.until:
                return False
        return True


EVERY_LETTER = LetterFilter()


@dataclass(frozen=True)
class RedrivePlan:
    """What a re-drive will send, worked out before anything is sent (for --dry-run and the
    question before --all)."""

    dlq_topic: str
    all_: bool
    chosen: list[DeadLetter]  # to be sent, in DLQ order
    already: list[DeadLetter] = field(default_factory=list)  # re-driven before: passed over
    incomplete: list[DeadLetter] = field(default_factory=list)  # no original value: passed over
    unmatched: int = 0  # left out by the filter

    @property
    def targets(self) -> list[str]:
        return sorted({letter.original_topic for letter in self.chosen})


def as_dlq_topic(topic: str) -> str:
    """`kulturskole.registration.commands` or `....commands.dlq`: the DLQ topic either way."""
    return topic if topic.endswith(DLQ_SUFFIX) else dlq_topic_of(topic)


async def list_dead_letters(
    bootstrap: Kafka, dlq_topic: str, *, limit: int = 100, timeout: float = 30.0
) -> list[DeadLetter]:
    """The first `limit` dead letters on `dlq_topic`, in (partition, offset) order.

    Reads from the beginning to the end offsets as they were when reading started; letters
    published meanwhile are left for the next look. Raises DeadLetterError for a topic that
    does not exist (and never creates one).
    """
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    letters, _ = await _read(bootstrap, dlq_topic, limit=limit, timeout=timeout)
    return letters


async def redrive(
    bootstrap: Kafka,
    dlq_topic: str,
    *,
    offsets: set[tuple[int, int]] | None = None,
    all_: bool = False,
    conn: asyncpg.Connection | None = None,
    filters: LetterFilter = EVERY_LETTER,
    timeout: float = 30.0,
) -> int:
    """Publish the chosen dead letters to their original topic again; return how many.

    `plan_redrive` then `carry_out`, without a look in between (see those).
    """
    plan = await plan_redrive(
        bootstrap, dlq_topic, conn, offsets=offsets, all_=all_, filters=filters, timeout=timeout
    )
    return await carry_out(bootstrap, plan, conn)


async def plan_redrive(
    bootstrap: Kafka,
    dlq_topic: str,
    conn: asyncpg.Connection | None,
    *,
    offsets: set[tuple[int, int]] | None = None,
    all_: bool = False,
    filters: LetterFilter = EVERY_LETTER,
    timeout: float = 30.0,
    progress: Progress | None = None,
) -> RedrivePlan:
    """Which dead letters a re-drive sends; nothing is sent.

    `offsets` chooses letters by (DLQ partition, DLQ offset), even ones re-driven before;
    `all_` chooses every letter up to the DLQ's current end that `filters` takes and that
    was not re-driven before (as recorded through `conn`, the service's schema; without
    it, none counts as re-driven). Raises DeadLetterError if an offset names no letter, a
    named letter has no original value, or an original topic no longer exists.
    """
    if all_ == (offsets is not None):
        raise ValueError("choose the dead letters to re-drive: either offsets or all_=True")
    if offsets is not None and filters.narrows:
        raise ValueError("filters narrow all_=True; offsets name the letters themselves")
    letters, topics = await _read(
        bootstrap, dlq_topic, limit=None, timeout=timeout, progress=progress
    )
    already: list[DeadLetter] = []
    unmatched = 0
    if all_:
        chosen = [letter for letter in letters if filters.matches(letter)]
        unmatched = len(letters) - len(chosen)
        if conn is not None:
            marks = await redriven_marks(conn, dlq_topic)
            already = [letter for letter in chosen if was_redriven(letter, marks)]
            chosen = [letter for letter in chosen if letter not in already]
    else:
        assert offsets is not None
        if not offsets:
            raise ValueError("offsets is empty: nothing chosen to re-drive")
        by_place = {(letter.partition, letter.offset): letter for letter in letters}
        missing = sorted(offsets - by_place.keys())
        if missing:
            places = ", ".join(f"{p}:{o}" for p, o in missing)
            raise DeadLetterError(f"{dlq_topic} has no dead letter at {places}")
        chosen = [by_place[place] for place in sorted(offsets)]
    # A letter whose value the DLQ refused cannot go back as it was (its original is still on
    # its topic, until retention, where the letter says); one of a record with neither key nor
    # value has nothing to handle. `all_` passes them over; naming one is an error.
    incomplete = [
        letter
        for letter in chosen
        if any(_header(letter, name) is not None for name in (OMITTED_HEADER, NULL_VALUE_HEADER))
    ]
    if incomplete and not all_:
        places = ", ".join(f"{letter.partition}:{letter.offset}" for letter in incomplete)
        raise DeadLetterError(f"letters without their original value cannot be re-driven: {places}")
    chosen = [letter for letter in chosen if letter not in incomplete]
    gone = sorted({letter.original_topic for letter in chosen} - topics.keys())
    if gone:
        # Publishing would auto-create them on a broker that allows it: refuse instead.
        raise DeadLetterError(f"original topic(s) do not exist: {', '.join(gone)}")
    return RedrivePlan(dlq_topic, all_, chosen, already, incomplete, unmatched)


async def carry_out(
    bootstrap: Kafka,
    plan: RedrivePlan,
    conn: asyncpg.Connection | None,
    *,
    progress: Progress | None = None,
) -> int:
    """Send what `plan` chose; return how many were sent.

    Key, value and headers go out as first sent, `dlq_*` removed and `ks_redriven_from`
    added, in DLQ order, through an idempotent producer. Each letter the broker acknowledged
    is recorded through `conn` (if given), also when a later one fails. For `--all`, letters
    recorded by someone else since the plan was made are passed over.
    """
    chosen = plan.chosen
    if plan.all_ and conn is not None and chosen:
        marks = await redriven_marks(conn, plan.dlq_topic)
        chosen = [letter for letter in chosen if not was_redriven(letter, marks)]
    if not chosen:
        return 0
    producer = kafka_producer(bootstrap)
    await producer.start()
    acked = 0

    def tick(_: asyncio.Future[Any]) -> None:
        nonlocal acked
        acked += 1
        if progress is not None:
            progress("sent", acked, len(chosen))

    try:
        futures = []
        # send() queues in order; the idempotent producer keeps that order per partition.
        for letter in chosen:
            future = await producer.send(
                letter.original_topic,
                value=letter.value,
                key=letter.key,
                headers=letter.redrive_headers,
            )
            future.add_done_callback(tick)
            futures.append(future)
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
    finally:
        await producer.stop()
    sent = [x for x, outcome in zip(chosen, outcomes, strict=True) if not _failed(outcome)]
    if conn is not None and sent:
        await _record(conn, plan.dlq_topic, sent)
    failed = [outcome for outcome in outcomes if _failed(outcome)]
    if failed:
        raise DeadLetterError(
            f"{len(failed)} of {len(chosen)} letter(s) not re-driven ({len(sent)} were, and are"
            f" recorded): {type(failed[0]).__name__}: {failed[0]}"
        )
    return len(sent)


def _failed(outcome: object) -> bool:
    return isinstance(outcome, BaseException)


async def redriven_marks(
    conn: asyncpg.Connection, dlq_topic: str
) -> dict[tuple[int, int], tuple[str | None, datetime]]:
    """The letters of `dlq_topic` recorded as re-driven: (partition, offset) → (ce_id, when)."""
    rows = await conn.fetch(
        "SELECT dlq_partition, dlq_offset, ce_id, redriven_at FROM dlq_redriven"
        " WHERE dlq_topic = $1",
        dlq_topic,
    )
    return {(r["dlq_partition"], r["dlq_offset"]): (r["ce_id"], r["redriven_at"]) for r in rows}


def was_redriven(
    letter: DeadLetter, marks: dict[tuple[int, int], tuple[str | None, datetime]]
) -> datetime | None:
    """When `letter` was re-driven, if the record names it (place and `ce_id`)."""
    mark = marks.get((letter.partition, letter.offset))
    if mark is None or mark[0] != letter.ce_id:
        return None  # never, or another letter lay there (the DLQ was made again)
    return mark[1]


async def _record(conn: asyncpg.Connection, dlq_topic: str, letters: list[DeadLetter]) -> None:
    await conn.executemany(
        "INSERT INTO dlq_redriven (dlq_topic, dlq_partition, dlq_offset, ce_id, original_topic)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dlq_topic, dlq_partition, dlq_offset)"
        " DO UPDATE SET ce_id = excluded.ce_id, original_topic = excluded.original_topic,"
        " redriven_at = now()",
        [(dlq_topic, x.partition, x.offset, x.ce_id, x.original_topic) for x in letters],
    )


def _header(letter: DeadLetter, name: str) -> bytes | None:
    return next((value for key, value in letter.headers if key == name), None)


async def _read(
    bootstrap: Kafka,
    topic: str,
    *,
    limit: int | None,
    timeout: float,
    progress: Progress | None = None,
) -> tuple[list[DeadLetter], dict[str, list[int]]]:
    """The letters on `topic` (the first `limit` of them), and every topic's partitions."""
    topics = await _topic_partitions(bootstrap)
    if topic not in topics:
        kafka = as_connection(bootstrap)
        # A cluster with ACLs lists only the topics the principal may DESCRIBE.
        unseen = f" (or {kafka.principal} may not DESCRIBE it)" if kafka.uses_sasl else ""
        raise DeadLetterError(f"no topic {topic!r} on {kafka.bootstrap}{unseen}")
    partitions = [TopicPartition(topic, p) for p in topics[topic]]
    if limit == 0 or not partitions:
        return [], topics
    consumer = AIOKafkaConsumer(
        **client_kwargs(bootstrap),
        group_id=None,  # no group: nothing committed, nobody's offsets moved
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets(partitions)
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        found: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {
            tp: [] for tp in partitions
        }
        deadline = time.monotonic() + timeout
        while True:
            reading = [
                tp
                for tp in partitions
                if (limit is None or len(found[tp]) < limit)
                and await consumer.position(tp) < ends[tp]
            ]
            if not reading:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout}s reading {topic} to {ends}")
            done = [tp for tp in partitions if tp not in reading]
            if done:
                consumer.pause(*done)  # no fetching past what is asked for
            batch = await consumer.getmany(*reading, timeout_ms=500)
            for tp, records in batch.items():
                found[tp].extend(r for r in records if r.offset < ends[tp])
            if progress is not None:
                progress("read", sum(map(len, found.values())), total)
    finally:
        await consumer.stop()
    letters = sorted(
        (_letter(record) for records in found.values() for record in records),
        key=lambda letter: (letter.partition, letter.offset),
    )
    return (letters if limit is None else letters[:limit]), topics


async def _topic_partitions(bootstrap: Kafka) -> dict[str, list[int]]:
    """Every topic with its partition numbers, from one all-topics metadata request.

    Asking for one topic by name would create it where the broker auto-creates topics.
    """
    admin = AIOKafkaAdminClient(**client_kwargs(bootstrap))
    await admin.start()
    try:
        described: Sequence[dict[str, Any]] = await admin.describe_topics()
    finally:
        await admin.close()
    return {
        entry["topic"]: sorted(p["partition"] for p in entry["partitions"])
        for entry in described
        if not entry.get("error_code")
    }


def _letter(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    headers: Headers = tuple((k, v) for k, v in record.headers or ())
    named = _last_of(headers)
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        original_topic=named.get("dlq_original_topic") or record.topic.removesuffix(DLQ_SUFFIX),
        original_partition=_int_or_none(named.get("dlq_original_partition")),
        original_offset=_int_or_none(named.get("dlq_original_offset")),
        reason=named.get("dlq_reason", ""),
        failed_at=named.get("dlq_failed_at", ""),
        consumer_group=named.get("dlq_consumer_group"),
        ce_type=named.get("ce_type"),
        ce_id=named.get("ce_id"),
        key=record.key,
        value=record.value,
        headers=headers,
        topic=record.topic,
    )


def _last_of(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    return {k: _text(v) for k, v in headers}


def _text(raw: bytes | None) -> str:
    return raw.decode(errors="replace") if raw is not None else ""


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
