"""The outbox relay against the real PostgreSQL and Kafka: what is committed is published, in
order per key, once; what is rolled back never is; Kafka away means rows wait."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from datetime import UTC, datetime

import asyncpg
import pytest

from shared.envelope import Envelope
from shared.events.registration import InterestRegistered
from shared.outbox import OutboxRelay, add_to_outbox
from shared.testing.fixtures import Endpoints, TestDatabase, eventually, free_port
from shared.topics import events_topic
from tests.integration.support import data_of, headers_of, read_to_end, running, stop

pytestmark = pytest.mark.integration

SOURCE = "/test/outbox-relay"


def event(branch_id: str, seq: int) -> Envelope:
    """An InterestRegistered for `branch_id`, numbered by `seq` in its message."""
    contract = InterestRegistered(
        registration_id=uuid.uuid4(),
        round_id="2024",
        branch_id=branch_id,
        branch_name=branch_id.title(),
        county_numbers=["46"],
        municipality_numbers=["4601"],
        contact_person_id=uuid.uuid4(),
        message=f"seq={seq}",
        registered_at=datetime.now(UTC),
    )
    return Envelope.wrap(contract, source=SOURCE, subject=branch_id)


async def commit(pool: asyncpg.Pool, topic: str, envelopes: list[Envelope]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for envelope in envelopes:
            await add_to_outbox(conn, topic=topic, key=envelope.subject or "", envelope=envelope)


def relay(database: TestDatabase, bootstrap: str) -> OutboxRelay:
    return OutboxRelay(
        dsn=database.dsns["registration"],
        schema="registration",
        bootstrap=bootstrap,
        poll_interval=0.2,
    )


async def unpublished(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return count


async def all_published(pool: asyncpg.Pool, total: int) -> bool:
    row = await pool.fetchrow("SELECT count(*) AS n, count(published_at) AS published FROM outbox")
    return bool(row["n"] == total and row["published"] == total)


async def test_committed_rows_are_published_as_cloudevents_in_order_per_key(
    endpoints: Endpoints,
    database: TestDatabase,
    registration_pool: asyncpg.Pool,
    topic_prefix: str,
    token: str,
) -> None:
    topic = events_topic("registration", topic_prefix)
    keys = [f"branch-{token}-{i}" for i in range(3)]
    written: dict[str, Envelope] = {}
    async with running(relay(database, endpoints.kafka_bootstrap).run(), "relay"):
        # Written while the relay runs, some one per transaction, some three in one.
        for seq in range(40):
            envelopes = [event(key, seq) for key in keys]
            written.update((e.id, e) for e in envelopes)
            if seq % 2:
                await commit(registration_pool, topic, envelopes)
            else:
                for envelope in envelopes:
                    await commit(registration_pool, topic, [envelope])
        await eventually(
            lambda: all_published(registration_pool, len(written)), what="120 rows published"
        )

    records = await read_to_end(endpoints.kafka_bootstrap, topic)
    ids = [headers_of(r)["ce_id"] for r in records]
    assert Counter(ids) == Counter(list(written))  # every event exactly once
    sequences: dict[str, list[int]] = {key: [] for key in keys}
    partitions: dict[str, set[int]] = {key: set() for key in keys}
    for record in records:
        headers = headers_of(record)
        sent = written[headers["ce_id"]]
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_type"] == InterestRegistered.TYPE
        assert headers["ce_source"] == SOURCE
        assert headers["ce_subject"] == sent.subject
        assert datetime.fromisoformat(headers["ce_time"]) == sent.time
        assert headers["content-type"] == "application/json"
        assert headers["ce_correlationid"] == sent.id
        assert record.value == sent.data
        # A consumer gets back the very contract that was written.
        assert Envelope.from_kafka(record.headers, record.value).decode() == sent.decode()
        key = record.key.decode()
        sequences[key].append(int(data_of(record)["message"].removeprefix("seq=")))
        partitions[key].add(record.partition)
    for key in keys:
        assert sequences[key] == list(range(40)), key
        assert len(partitions[key]) == 1, key
    assert await unpublished(registration_pool) == 0


async def test_a_rolled_back_outbox_row_is_never_published(
    endpoints: Endpoints,
    database: TestDatabase,
    registration_pool: asyncpg.Pool,
    topic_prefix: str,
    token: str,
) -> None:
    topic = events_topic("registration", topic_prefix)
    rolled_back = event(f"branch-{token}", 0)
    marker = event(f"branch-{token}", 1)
    async with running(relay(database, endpoints.kafka_bootstrap).run(), "relay"):
        with pytest.raises(RuntimeError, match="handler blew up"):
            async with registration_pool.acquire() as conn, conn.transaction():
                await add_to_outbox(conn, topic=topic, key=f"branch-{token}", envelope=rolled_back)
                raise RuntimeError("handler blew up after writing its event")
        await commit(registration_pool, topic, [marker])
        await eventually(lambda: all_published(registration_pool, 1), what="marker published")

    ids = [headers_of(r)["ce_id"] for r in await read_to_end(endpoints.kafka_bootstrap, topic)]
    assert ids == [marker.id]
    assert rolled_back.id not in ids
    assert not await registration_pool.fetchval(
        "SELECT count(*) FROM outbox WHERE event_id = $1", rolled_back.id
    )


async def test_two_relays_on_one_schema_take_turns_and_publish_each_event_once(
    endpoints: Endpoints,
    database: TestDatabase,
    registration_pool: asyncpg.Pool,
    topic_prefix: str,
    token: str,
) -> None:
    topic = events_topic("registration", topic_prefix)
    relays = [relay(database, endpoints.kafka_bootstrap) for _ in range(2)]
    written: list[str] = []

    def leaders() -> list[OutboxRelay]:
        found = [r for r in relays if r.is_leader]
        assert len(found) <= 1, "two relays lead the same schema at once"
        return found

    async def one_leader() -> OutboxRelay | None:
        found = leaders()
        return found[0] if found else None

    async def published(total: int) -> bool:
        leaders()
        return await all_published(registration_pool, total)

    async def write(round_: int) -> None:
        for seq in range(30):
            envelope = event(f"branch-{token}-{seq % 3}", seq + 100 * round_)
            written.append(envelope.id)
            await commit(registration_pool, topic, [envelope])
            leaders()
        await eventually(lambda: published(len(written)), what=f"round {round_} published")

    tasks = {id(r): asyncio.create_task(r.run(), name=f"relay-{i}") for i, r in enumerate(relays)}
    try:
        first = await eventually(one_leader, what="a leader")
        assert first is not None
        await write(0)
        assert first.is_leader and first.published_total == 30

        # The leader goes away; the other takes over and carries on.
        await stop(tasks[id(first)])
        second = await eventually(one_leader, what="the other relay to take over")
        assert second is not None
        assert second is not first
        await write(1)
        assert second.published_total == 30
        assert not tasks[id(second)].done()
    finally:
        for task in tasks.values():
            await stop(task)

    records = await read_to_end(endpoints.kafka_bootstrap, topic)
    counts = Counter(headers_of(r)["ce_id"] for r in records)
    assert counts == Counter(written)
    assert set(counts.values()) == {1}


async def test_rows_wait_while_kafka_is_unreachable_and_go_out_when_it_is_back(
    endpoints: Endpoints,
    database: TestDatabase,
    registration_pool: asyncpg.Pool,
    topic_prefix: str,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = events_topic("registration", topic_prefix)
    key = f"branch-{token}"
    before = [event(key, seq) for seq in range(3)]
    await commit(registration_pool, topic, before)

    async def failed_attempts(at_least: int) -> bool:
        return at_least <= sum(
            1
            for r in caplog.records
            if r.name == "shared.outbox"
            and r.getMessage() == "outbox relay interrupted, retrying"
            and "Unable to bootstrap" in getattr(r, "error", "")
        )

    caplog.set_level(logging.WARNING, logger="shared.outbox")
    unreachable = relay(database, f"127.0.0.1:{free_port()}")
    async with running(unreachable.run(), "relay-without-kafka") as task:
        await eventually(lambda: failed_attempts(1), what="a failed attempt to reach Kafka")
        during = event(key, 3)  # written while Kafka is away
        await commit(registration_pool, topic, [during])
        await eventually(lambda: failed_attempts(3), what="the relay to keep retrying")
        assert not task.done()
        assert await unpublished(registration_pool) == 4
    assert await unpublished(registration_pool) == 4

    async with running(relay(database, endpoints.kafka_bootstrap).run(), "relay"):
        await eventually(lambda: all_published(registration_pool, 4), what="rows published")

    records = await read_to_end(endpoints.kafka_bootstrap, topic)
    assert [headers_of(r)["ce_id"] for r in records] == [e.id for e in [*before, during]]
