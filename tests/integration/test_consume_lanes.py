"""A batch's keys are handled in lanes: one transaction per lane, side by side, and each key
in the order its records came, always in the same lane; a small batch takes fewer lanes. The
outbox rows of a lane's messages are written together, in the order they were emitted."""

from __future__ import annotations

import uuid
import zlib

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from shared.contracts.events.registration import ContactDetails
from shared.messaging.bus import RECORDS_PER_LANE, MessageBus, UnitOfWork, Work
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import add_to_outbox

pytestmark = pytest.mark.integration

LANES = 4
PER_KEY = RECORDS_PER_LANE  # three keys' records: a batch that takes three lanes of the four


def keys_in_distinct_lanes(count: int, lanes: int) -> list[bytes]:
    """Keys that hash into `count` different lanes of `lanes`."""
    found: dict[int, bytes] = {}
    n = 0
    while len(found) < count:
        key = f"person-{n}".encode()
        found.setdefault(zlib.crc32(key) % lanes, key)
        n += 1
    return list(found.values())


def work(key: bytes, offset: int, *, partition: int = 0, timestamp: int = 0) -> Work:
    contact = ContactDetails(
        person_id=uuid.uuid4(), name=f"{key.decode()}#{offset}", email="kari@example.no"
    )
    envelope = Envelope.wrap(contact, source="/test/lanes")
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        "t.contacts", partition, offset, timestamp, 0, key, envelope.data, None, len(key), 0, []
    )
    return Work(record, envelope, contact)


async def handled_by(
    pool: asyncpg.Pool, lanes: int, per_key: int = PER_KEY
) -> list[asyncpg.Record]:
    async def handle(contact: ContactDetails, uow: UnitOfWork) -> None:
        await uow.conn.execute(
            "INSERT INTO lane_log (name, tx) VALUES ($1, txid_current())", contact.name
        )

    await pool.execute("DROP TABLE IF EXISTS lane_log")
    await pool.execute("CREATE TABLE lane_log (seq bigserial, name text NOT NULL, tx bigint)")
    await pool.execute("TRUNCATE inbox")
    used = min(lanes, -(-3 * per_key // RECORDS_PER_LANE))  # the lanes the batch takes
    keys = keys_in_distinct_lanes(3, max(used, 3))
    # Interleaved, as a partition holds them: a, b, c, a, b, c, ...
    batch = [work(keys[i % 3], i) for i in range(3 * per_key)]
    bus = MessageBus(pool, {ContactDetails.TYPE: handle}, service="itest-lanes", lanes=lanes)
    await bus.handle_batch(batch)
    rows: list[asyncpg.Record] = await pool.fetch("SELECT name, tx FROM lane_log ORDER BY seq")
    return rows


def by_key(rows: list[asyncpg.Record]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for row in rows:
        key, offset = row["name"].split("#")
        found.setdefault(key, []).append(int(offset))
    return found


async def test_each_key_keeps_its_order_in_a_lane_of_its_own(
    registration_pool: asyncpg.Pool,
) -> None:
    rows = await handled_by(registration_pool, LANES)

    assert len(rows) == 3 * PER_KEY
    for key, offsets in by_key(rows).items():
        assert offsets == sorted(offsets), f"{key} handled out of order"
    transactions: dict[str, set[int]] = {}
    for row in rows:
        transactions.setdefault(row["name"].split("#")[0], set()).add(row["tx"])
    assert all(len(txs) == 1 for txs in transactions.values()), "a key split over lanes"
    assert len({tx for txs in transactions.values() for tx in txs}) == 3, "lanes not separate"


async def test_one_lane_is_one_transaction_in_the_partition_order(
    registration_pool: asyncpg.Pool,
) -> None:
    rows = await handled_by(registration_pool, 1)

    assert [int(row["name"].split("#")[1]) for row in rows] == list(range(3 * PER_KEY))
    assert len({row["tx"] for row in rows}) == 1


async def test_a_small_batch_is_one_transaction_whatever_the_lanes(
    registration_pool: asyncpg.Pool,
) -> None:
    per_key = RECORDS_PER_LANE // 3  # fewer records than one lane takes
    rows = await handled_by(registration_pool, LANES, per_key)

    assert [int(row["name"].split("#")[1]) for row in rows] == list(range(3 * per_key))
    assert len({row["tx"] for row in rows}) == 1


async def test_the_outbox_rows_of_a_batch_keep_the_order_they_were_written_in(
    registration_pool: asyncpg.Pool,
) -> None:
    """Events and a tombstone written straight to the outbox, interleaved, come out in the
    order written: a consumer of a compacted topic must see the last word before the
    tombstone."""

    async def handle(contact: ContactDetails, uow: UnitOfWork) -> None:
        await uow.emit("t.events", contact)
        await add_to_outbox(
            uow.conn,
            topic="t.contacts",
            key=str(contact.person_id),
            envelope=None,
            tombstone_id=f"tombstone:{contact.name}",
        )
        await uow.emit("t.events", contact)

    await registration_pool.execute("TRUNCATE inbox")
    await registration_pool.execute("DELETE FROM outbox WHERE topic IN ('t.events', 't.contacts')")
    [key] = keys_in_distinct_lanes(1, 1)
    batch = [work(key, i) for i in range(5)]
    bus = MessageBus(registration_pool, {ContactDetails.TYPE: handle}, service="itest-lanes")
    await bus.handle_batch(batch)

    rows = await registration_pool.fetch(
        "SELECT topic, event_id, payload FROM outbox"
        " WHERE topic IN ('t.events', 't.contacts') ORDER BY id"
    )
    written = [
        (
            r["topic"],
            r["event_id"]
            if r["payload"] is None
            else ContactDetails.model_validate_json(r["payload"]).name,
        )
        for r in rows
    ]
    expected = []
    for item in batch:
        name = item.message.name
        expected += [("t.events", name), ("t.contacts", f"tombstone:{name}"), ("t.events", name)]
    assert written == expected


async def test_a_batch_of_several_partitions_is_handled_in_the_order_it_was_published(
    registration_pool: asyncpg.Pool,
) -> None:
    """A fetch hands over partition after partition; one lane takes them by their times, each
    partition in its own order."""

    async def handle(contact: ContactDetails, uow: UnitOfWork) -> None:
        await uow.conn.execute(
            "INSERT INTO lane_log (name, tx) VALUES ($1, txid_current())", contact.name
        )

    await registration_pool.execute("DROP TABLE IF EXISTS lane_log")
    await registration_pool.execute(
        "CREATE TABLE lane_log (seq bigserial, name text NOT NULL, tx bigint)"
    )
    await registration_pool.execute("TRUNCATE inbox")
    a, b = keys_in_distinct_lanes(2, 2)
    # As a fetch returns them: partition 0's records, then partition 1's, which were published
    # in between them (timestamps in ms).
    batch = [
        work(a, 0, partition=0, timestamp=1000),
        work(a, 1, partition=0, timestamp=3000),
        work(b, 0, partition=1, timestamp=2000),
        work(b, 1, partition=1, timestamp=4000),
    ]
    bus = MessageBus(
        registration_pool, {ContactDetails.TYPE: handle}, service="itest-lanes", lanes=LANES
    )
    await bus.handle_batch(batch)

    rows = await registration_pool.fetch("SELECT name, tx FROM lane_log ORDER BY seq")
    assert [row["name"] for row in rows] == [
        f"{a.decode()}#0",
        f"{b.decode()}#0",
        f"{a.decode()}#1",
        f"{b.decode()}#1",
    ]
    assert len({row["tx"] for row in rows}) == 1
