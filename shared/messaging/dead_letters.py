"""Operator tools for dead letters: list what lies on a `<topic>.dlq`, re-drive it.

`DeadLetters` (shared/messaging/bus.py) publishes a message it cannot handle to `<topic>.dlq` with
its value, key and headers as they were, plus `dlq_*` headers saying why, from where and when.
`list_dead_letters` reads a DLQ from its beginning to its current end, without a consumer group,
so looking never moves anybody's offsets. `redrive` publishes chosen letters to their original
topic again, as they were sent (all `dlq_*` headers removed). The original `ce_id` is kept, so
a consumer's inbox still skips a message it had already handled. A DLQ is a log: re-driven
letters stay on it, and a letter that fails again comes back as a new one.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.topics import dlq_topic as dlq_topic_of
from shared.messaging.bus import NULL_VALUE_HEADER, OMITTED_HEADER
from shared.messaging.kafka_client import Kafka, as_connection, client_kwargs
from shared.messaging.outbox import kafka_producer

DLQ_SUFFIX = dlq_topic_of("")
DLQ_HEADER_PREFIX = "dlq_"

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

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers as first sent: every `dlq_*` header removed."""
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]

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
    timeout: float = 30.0,
) -> int:
    """Publish the chosen dead letters to their original topic again; return how many.

    `offsets` chooses letters by (DLQ partition, DLQ offset); `all_` chooses every letter up
    to the DLQ's current end. Key, value and headers go out as first sent, `dlq_*` removed,
    in DLQ order, through an idempotent producer. Nothing is sent if an offset names no
    letter or an original topic no longer exists.
    """
    if all_ == (offsets is not None):
        raise ValueError("choose the dead letters to re-drive: either offsets or all_=True")
    letters, topics = await _read(bootstrap, dlq_topic, limit=None, timeout=timeout)
    if all_:
        chosen = letters
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
    if not chosen:
        return 0
    producer = kafka_producer(bootstrap)
    await producer.start()
    try:
        # send() queues in order; the idempotent producer keeps that order per partition.
        sent = [
            await producer.send(
                letter.original_topic,
                value=letter.value,
                key=letter.key,
                headers=letter.original_headers,
            )
            for letter in chosen
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return len(chosen)


def _header(letter: DeadLetter, name: str) -> bytes | None:
    return next((value for key, value in letter.headers if key == name), None)


async def _read(
    bootstrap: Kafka, topic: str, *, limit: int | None, timeout: float
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
