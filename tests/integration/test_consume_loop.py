"""The consume loop fetches the next batch while it handles one and commits behind it: what it
fetched ahead and did not handle comes again, and a record that escapes stops its partition
there, however far the fetch ahead went (shared/messaging/consuming.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.messaging.consuming import consume_batches
from shared.testing.fixtures import Endpoints, eventually

pytestmark = pytest.mark.integration

PER_PARTITION = 4


class Recorder:
    """Handles records by noting them; the first batch waits until `first_batch_waits_for`."""

    service = "test"

    def __init__(self, first_batch_waits_for: Callable[[], Awaitable[bool]]) -> None:
        self.first_batch_waits_for = first_batch_waits_for
        self.handled: list[tuple[int, int]] = []
        self.batches = 0
        self.escaping: set[tuple[int, int]] = set()
        self.running = True

    async def process_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        self.batches += 1
        if self.batches == 1:
            await eventually(self.first_batch_waits_for, timeout=20, what="a fetch ahead")
        if any((r.partition, r.offset) in self.escaping for r in records):
            raise RuntimeError("a record in this batch cannot be handled")
        self.handled += [(r.partition, r.offset) for r in records]

    async def process(self, record: ConsumerRecord[Any, Any]) -> None:
        if (record.partition, record.offset) in self.escaping:
            raise RuntimeError("this record cannot be handled")
        self.handled.append((record.partition, record.offset))


async def make_topic(endpoints: Endpoints, name: str, counts: Sequence[int]) -> str:
    """A topic with a partition per count, each holding that many records."""
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, len(counts), replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for partition, count in enumerate(counts):
            for n in range(count):
                await producer.send_and_wait(name, f"{partition}:{n}".encode(), partition=partition)
    finally:
        await producer.stop()
    return name


async def start_consumer(endpoints: Endpoints, topic: str) -> AIOKafkaConsumer:
    started = AIOKafkaConsumer(
        topic,
        bootstrap_servers=endpoints.kafka_bootstrap,
        group_id=f"loop-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await started.start()
    return started


@pytest.fixture
async def topic(endpoints: Endpoints, topic_prefix: str) -> str:
    """Two partitions, each holding PER_PARTITION records."""
    return await make_topic(endpoints, f"{topic_prefix}.loop", [PER_PARTITION, PER_PARTITION])


@pytest.fixture
async def consumer(endpoints: Endpoints, topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    started = await start_consumer(endpoints, topic)
    yield started
    await started.stop()


async def loop(
    recorder: Recorder, consumer: AIOKafkaConsumer, first: list[ConsumerRecord[Any, Any]]
) -> None:
    """The consume loop from `first` on, while the recorder says it runs."""
    await consume_batches(
        recorder,
        consumer,
        first,
        {},
        running=lambda: recorder.running,
        max_records=100,
        poll_timeout_ms=100,
    )


async def first_batch(consumer: AIOKafkaConsumer) -> list[ConsumerRecord[Any, Any]]:
    fetched = await eventually(
        lambda: consumer.getmany(timeout_ms=1000, max_records=1), what="the first record"
    )
    return [record for records in fetched.values() for record in records]


async def positions(consumer: AIOKafkaConsumer, topic: str) -> dict[int, int]:
    return {p: await consumer.position(TopicPartition(topic, p)) for p in (0, 1)}


async def fetch_ahead_seen(consumer: AIOKafkaConsumer, topic: str) -> Callable[[], Awaitable[bool]]:
    """A check: has the consumer taken records beyond those it holds now (a fetch ahead)?"""
    taken = sum((await positions(consumer, topic)).values())

    async def moved() -> bool:
        return sum((await positions(consumer, topic)).values()) > taken

    return moved


async def committed(consumer: AIOKafkaConsumer, topic: str) -> dict[int, int | None]:
    return {p: await consumer.committed(TopicPartition(topic, p)) for p in (0, 1)}


async def next_records(consumer: AIOKafkaConsumer) -> list[tuple[int, int]]:
    """What the consumer hands out next: each partition's first record, once it has one."""

    async def fetch() -> dict[int, int]:
        fetched = await consumer.getmany(timeout_ms=500)
        return {tp.partition: records[0].offset for tp, records in fetched.items() if records}

    firsts: dict[int, int] = {}

    async def both() -> bool:
        for partition, offset in (await fetch()).items():
            firsts.setdefault(partition, offset)
        return len(firsts) == 2

    await eventually(both, timeout=30, what="a record from each partition")
    return sorted(firsts.items())


async def test_what_was_fetched_ahead_and_not_handled_comes_again(
    consumer: AIOKafkaConsumer, topic: str
) -> None:
    first = await first_batch(consumer)
    moved = await fetch_ahead_seen(consumer, topic)

    async def fetched_ahead() -> bool:
        # The fetch that runs while the batch is handled took records of its own; the loop
        # is then told to stop, so they are not handled in this call: they must come again.
        if await moved():
            recorder.running = False
            return True
        return False

    recorder = Recorder(fetched_ahead)
    await loop(recorder, consumer, first)

    (record,) = first
    assert recorder.handled == [(record.partition, record.offset)]
    other = 1 - record.partition
    assert await committed(consumer, topic) == {record.partition: 1, other: None}
    # Each partition comes again from its first record not handled.
    assert await next_records(consumer) == sorted([(record.partition, 1), (other, 0)])


async def test_a_record_that_escapes_stops_its_partition_there_whatever_was_fetched_ahead(
    consumer: AIOKafkaConsumer, topic: str
) -> None:
    first = await first_batch(consumer)
    recorder = Recorder(await fetch_ahead_seen(consumer, topic))
    recorder.escaping = {(0, 1), (1, 1)}  # the second record of each partition
    await loop(recorder, consumer, first)

    # Nothing at or after an escaped record was handled, and nothing is committed past one.
    assert all(offset < 1 for _, offset in recorder.handled)
    for partition, offset in (await committed(consumer, topic)).items():
        assert offset is None or offset <= 1, (partition, offset)
    # The partitions come again from where they stand; never past the escaped record.
    for partition, offset in await next_records(consumer):
        assert offset == (1 if (partition, 0) in recorder.handled else 0), (partition, offset)


async def test_once_idle_every_partition_is_committed_where_it_stands_an_empty_one_too(
    endpoints: Endpoints, topic_prefix: str
) -> None:
    # As a plain commit of the positions did: a group that has read everything shows no lag,
    # also on a partition that never had a record.
    topic = await make_topic(endpoints, f"{topic_prefix}.idle", [3, 0])
    consumer = await start_consumer(endpoints, topic)
    try:
        first = await first_batch(consumer)

        async def at_once() -> bool:
            return True

        recorder = Recorder(at_once)

        async def idle_and_committed() -> bool:
            found = await committed(consumer, topic)
            done = found == {0: 3, 1: 0}
            if done:
                recorder.running = False
            return done

        looping = asyncio.ensure_future(loop(recorder, consumer, first))
        await eventually(idle_and_committed, what="both partitions committed")
        await asyncio.wait_for(looping, 10)
        assert sorted(recorder.handled) == [(0, 0), (0, 1), (0, 2)]
    finally:
        await consumer.stop()
