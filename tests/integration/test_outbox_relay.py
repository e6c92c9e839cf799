"""The outbox relay against the real PostgreSQL and Kafka: what is committed is published, in
order per key, once; what is rolled back never is; a broker that goes away and comes back
means rows wait and then go out; a row the broker refuses for good is parked, its key waits
behind it, other keys flow, and an operator retries or discards it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prometheus_client import REGISTRY

from shared.contracts.events.registration import InterestRegistered
from shared.contracts.topics import events_topic
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import OutboxRelay, add_to_outbox
from shared.testing.fixtures import ROOT, Endpoints, TestDatabase, eventually
from shared.testing.kafka_broker import PrivateKafka, missing_prerequisite, private_broker
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


def relay(
    database: TestDatabase,
    bootstrap: str,
    *,
    service: str | None = None,
    delivery_timeout: float = 30.0,
) -> OutboxRelay:
    return OutboxRelay(
        dsn=database.dsns["registration"],
        schema="registration",
        bootstrap=bootstrap,
        service=service,
        poll_interval=0.2,
        delivery_timeout=delivery_timeout,
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


# --- the broker goes away and comes back --------------------------------------------------


@pytest.fixture(scope="module")
async def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PrivateKafka]:
    """A broker of this module's own: stopping the shared one would fail everyone's tests."""
    reason = missing_prerequisite()
    if reason and os.environ.get("KS_TEST_KAFKA_BOOTSTRAP"):
        # The local stack runs from these jars: where it runs, the broker must start too.
        pytest.fail(f"no private Kafka broker beside the local stack: {reason}")
    if reason:  # Kafka from testcontainers: no jars to start a second broker from
        pytest.skip(f"no private Kafka broker: {reason}")
    async with private_broker(tmp_path_factory.mktemp("private-kafka")) as broker:
        yield broker


def interruptions(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "shared.messaging.outbox"
        and r.getMessage() == "outbox relay interrupted, retrying"
    ]


async def test_rows_wait_while_the_broker_is_down_and_go_out_when_it_is_back(
    private_kafka: PrivateKafka,
    database: TestDatabase,
    registration_pool: asyncpg.Pool,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await private_kafka.start()  # running, also after an earlier test here stopped it
    topic = f"t{token}.outbox.events"
    await create_topic(private_kafka.bootstrap, topic, partitions=3)
    keys = [f"branch-{token}-{i}" for i in range(3)]
    written: list[Envelope] = []

    async def write(seq: int) -> None:
        # One transaction per key and step, as handlers write them.
        for key in keys:
            envelope = event(key, seq)
            written.append(envelope)
            await commit(registration_pool, topic, [envelope])

    async def waits_through_interruptions(since: int, at_least: int) -> bool:
        return len(interruptions(caplog)) - since >= at_least

    caplog.set_level(logging.WARNING, logger="shared.messaging.outbox")
    # A short delivery timeout, so that the relay gives up on its producer while the broker
    # is away and has to reconnect with a fresh one once it is back.
    relay_ = relay(database, private_kafka.bootstrap, delivery_timeout=2.0)
    async with running(relay_.run(), "relay") as task:
        await write(0)
        await eventually(lambda: all_published(registration_pool, 3), what="rows published")

        for outage, end in enumerate((private_kafka.stop, private_kafka.kill)):
            await end()  # SIGTERM, then SIGKILL the second time
            assert not private_kafka.running
            mark = len(interruptions(caplog))
            for step in range(1, 4):
                await write(10 * outage + step)  # written while the broker is away
            await eventually(
                lambda mark=mark: waits_through_interruptions(mark, 3),
                timeout=60,
                what="the relay to back off and retry while the broker is away",
            )
            assert not task.done()
            assert await unpublished(registration_pool) == 9
            errors = await registration_pool.fetch(
                "SELECT last_error FROM outbox WHERE published_at IS NULL AND last_error IS NOT NULL"
            )
            assert errors, "the failed attempt is recorded on the waiting rows"
            assert all("KafkaTimeoutError" in r["last_error"] for r in errors), errors

            await private_kafka.start()  # same ports, same data folder
            await eventually(
                lambda: all_published(registration_pool, len(written)),
                timeout=60,
                what=f"the waiting rows published after restart {outage + 1}",
            )
            assert not task.done()
        assert await parked_rows(registration_pool) == []

    # Every row exactly once (nothing was in flight when the broker went), in order per key.
    records = await read_to_end(private_kafka.bootstrap, topic)
    ids = [headers_of(r)["ce_id"] for r in records]
    assert Counter(ids) == Counter(e.id for e in written)
    assert set(Counter(ids).values()) == {1}
    for key in keys:
        mine = [r for r in records if r.key == key.encode()]
        assert [headers_of(r)["ce_id"] for r in mine] == [e.id for e in written if e.subject == key]


async def test_a_row_for_a_topic_that_does_not_exist_is_parked(
    private_kafka: PrivateKafka,
    database: TestDatabase,
    registration_pool: asyncpg.Pool,
    token: str,
) -> None:
    # This broker creates no topic on first use: an unknown topic stays unknown.
    await private_kafka.start()
    known, missing = f"t{token}.known.events", f"t{token}.missing.events"
    await create_topic(private_kafka.bootstrap, known, partitions=1)
    lost, behind, fine = event("k1", 0), event("k1", 1), event("k2", 0)
    async with registration_pool.acquire() as conn, conn.transaction():
        await add_to_outbox(conn, topic=missing, key="k1", envelope=lost)
        await add_to_outbox(conn, topic=missing, key="k1", envelope=behind)
        await add_to_outbox(conn, topic=known, key="k2", envelope=fine)

    async with running(relay(database, private_kafka.bootstrap).run(), "relay"):
        parked = await eventually(
            lambda: parked_rows(registration_pool), timeout=60, what="the row to be parked"
        )
        await eventually(lambda: published_ids(registration_pool, [fine.id]), what="k2 sent")
    assert [(r["event_id"], r["topic"]) for r in parked] == [(lost.id, missing)]
    assert "UnknownTopicOrPartitionError" in parked[0]["parked_reason"]
    assert missing in parked[0]["parked_reason"]
    assert await state_of(registration_pool, behind.id) == "waiting"


# --- permanent refusals: parked, the key waits, the rest flows ----------------------------

SMALL_LIMIT = 4096  # bytes per record batch the topic accepts: room for one ordinary event


def big_event(key: str, seq: int) -> Envelope:
    contract = InterestRegistered(
        registration_id=uuid.uuid4(),
        round_id="2024",
        branch_id=key,
        branch_name=key.title(),
        county_numbers=["46"],
        municipality_numbers=["4601"],
        contact_person_id=uuid.uuid4(),
        message=f"seq={seq} " + "x" * 5 * SMALL_LIMIT,
        registered_at=datetime.now(UTC),
    )
    return Envelope.wrap(contract, source=SOURCE, subject=key)


async def create_topic(
    bootstrap: str, topic: str, *, partitions: int, configs: dict[str, str] | None = None
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=configs or {})])
    finally:
        await admin.close()


async def set_topic_config(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def small_topic(bootstrap: str, token: str) -> AsyncIterator[str]:
    """A topic of this test's own that refuses record batches over SMALL_LIMIT bytes."""
    topic = f"t{token}.small.events"
    await create_topic(
        bootstrap, topic, partitions=3, configs={"max.message.bytes": str(SMALL_LIMIT)}
    )
    try:
        yield topic
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


async def parked_rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT id, event_id, topic, key, parked_reason FROM outbox"
        " WHERE parked_at IS NOT NULL AND published_at IS NULL AND discarded_at IS NULL"
        " ORDER BY id"
    )
    return rows


async def published_ids(pool: asyncpg.Pool, event_ids: list[str]) -> bool:
    count = await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE event_id = ANY($1) AND published_at IS NOT NULL",
        event_ids,
    )
    return bool(count == len(event_ids))


async def state_of(pool: asyncpg.Pool, event_id: str) -> str:
    row = await pool.fetchrow(
        "SELECT published_at, parked_at, discarded_at FROM outbox WHERE event_id = $1", event_id
    )
    assert row is not None
    for state in ("published", "parked", "discarded"):
        if row[f"{state}_at"] is not None:
            return state
    return "waiting"


def gauge(name: str, service: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": service})


async def outbox_cli(database: TestDatabase, *args: str) -> tuple[int, str, str]:
    """`kulturskole outbox ...` as an operator runs it, on the registration schema."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        "outbox",
        *args,
        "--schema",
        "registration",
        "--dsn",
        database.dsns["registration"],
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_row_too_large_for_its_topic_is_parked_its_key_waits_and_retry_sends_all_in_order(
    endpoints: Endpoints,
    database: TestDatabase,
    registration_pool: asyncpg.Pool,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b, c = (f"branch-{token}-{name}" for name in "abc")
    too_big = big_event(a, 1)
    first = [event(a, 0), event(b, 0), too_big, event(b, 1), event(c, 0), event(a, 2)]
    first += [event(b, 2), event(a, 3)]
    service = f"test-{token}"
    caplog.set_level(logging.INFO, logger="shared.messaging.outbox")
    async with small_topic(endpoints.kafka_bootstrap, token) as topic:
        await commit(registration_pool, topic, first)  # one transaction: one batch
        relay_ = relay(database, endpoints.kafka_bootstrap, service=service)
        async with running(relay_.run(), "relay") as task:
            parked = await eventually(lambda: parked_rows(registration_pool), what="a parked row")
            others = [e.id for e in first if e.subject != a] + [first[0].id]
            await eventually(
                lambda: published_ids(registration_pool, others), what="the other keys sent"
            )
            # The relay goes on: later rows of other keys flow, later rows of `a` wait.
            later = [event(b, 3), event(a, 4)]
            await commit(registration_pool, topic, later)
            await eventually(lambda: published_ids(registration_pool, [later[0].id]), what="b3")
            assert not task.done()

            assert [(r["event_id"], r["key"]) for r in parked] == [(too_big.id, a)]
            assert "MessageSizeTooLargeError" in parked[0]["parked_reason"]
            held = [first[5], first[7], later[1]]
            for envelope in held:
                assert await state_of(registration_pool, envelope.id) == "waiting"
            assert [r for r in caplog.records if r.getMessage().startswith("outbox row parked")]
            assert [
                getattr(r, "outbox_id", None)
                for r in caplog.records
                if r.getMessage().startswith("outbox row parked")
            ] == [parked[0]["id"]]

            async def gauges_current() -> bool:
                return gauge("ks_outbox_parked", service) == 1.0 and gauge(
                    "ks_outbox_unpublished", service
                ) == float(1 + len(held))

            # Kept by the relay itself, without anyone asking /readyz.
            await eventually(gauges_current, what="the outbox gauges")

            code, out, err = await outbox_cli(database, "parked", "--json")
            assert code == 0, err
            listed = [json.loads(line) for line in out.splitlines()]
            assert [(r["id"], r["event_id"], r["held"]) for r in listed] == [
                (parked[0]["id"], too_big.id, len(held))
            ]
            assert "MessageSizeTooLargeError" in listed[0]["reason"]
            assert listed[0]["size"] == len(too_big.data)

            # The operator raises the topic's limit and sends the parked row again.
            await set_topic_config(
                endpoints.kafka_bootstrap, topic, {"max.message.bytes": str(1024 * 1024)}
            )
            code, out, err = await outbox_cli(database, "retry", "--all", "--yes")
            assert code == 0, err
            assert str(parked[0]["id"]) in out
            everything = [*first, *later]
            await eventually(
                lambda: all_published(registration_pool, len(everything)), what="all published"
            )
            assert await parked_rows(registration_pool) == []
            await eventually(
                lambda: async_true(gauge("ks_outbox_parked", service) == 0.0),
                what="the parked gauge back at 0",
            )

        records = await read_to_end(endpoints.kafka_bootstrap, topic)
    ids = [headers_of(r)["ce_id"] for r in records]
    assert Counter(ids) == Counter(e.id for e in everything)  # each once
    for key in (a, b, c):
        mine = [headers_of(r)["ce_id"] for r in records if r.key == key.encode()]
        assert mine == [e.id for e in everything if e.subject == key], key


async def async_true(value: bool) -> bool:
    return value


async def test_an_operator_discards_a_parked_row_and_the_rows_behind_it_go_on(
    endpoints: Endpoints,
    database: TestDatabase,
    registration_pool: asyncpg.Pool,
    token: str,
) -> None:
    key = f"branch-{token}"
    given_up, behind = big_event(key, 0), event(key, 1)
    async with small_topic(endpoints.kafka_bootstrap, token) as topic:
        await commit(registration_pool, topic, [given_up, behind])
        async with running(relay(database, endpoints.kafka_bootstrap).run(), "relay"):
            parked = await eventually(lambda: parked_rows(registration_pool), what="a parked row")
            assert await state_of(registration_pool, behind.id) == "waiting"

            code, _, err = await outbox_cli(database, "discard", "--id", str(parked[0]["id"]))
            assert code == 2 and "--reason" in err  # giving up needs a reason
            code, out, err = await outbox_cli(
                database,
                "discard",
                "--id",
                str(parked[0]["id"]),
                "--reason",
                "superseded; asked by kari@example.no",
            )
            assert code == 0, err
            assert "discarded" in out
            await eventually(lambda: published_ids(registration_pool, [behind.id]), what="sent")
            code, _, err = await outbox_cli(database, "retry", "--id", str(parked[0]["id"]))
            assert code == 1 and "not parked" in err

        records = await read_to_end(endpoints.kafka_bootstrap, topic)
    assert [headers_of(r)["ce_id"] for r in records] == [behind.id]
    row = await registration_pool.fetchrow(
        "SELECT published_at, discarded_reason FROM outbox WHERE event_id = $1", given_up.id
    )
    assert row["published_at"] is None
    assert row["discarded_reason"] == "superseded; asked by <e-mail>"
