"""Bad input on every topic a service consumes: each bad message becomes a letter on
`<topic>.dlq` with its reason (or is passed over or handled, as tests/poison_corpus.py says for
that kind and topic), and the valid messages sent just before and after it, under the same
key, are handled all the same.

The services run as processes on the real stack. Which topics they consume comes from their
specs in the catalog, so a new subscription without a profile of bad input fails here. The
whole corpus goes out at once, on every topic, and is checked when it has all come through.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from shared.contracts.topics import dlq_topic, events_topic
from shared.db.pool import connect
from shared.messaging.envelope import CAUSATION_HEADER
from shared.runtime.catalog import Catalog
from shared.testing.fixtures import Endpoints, ServiceProcesses, TestDatabase, eventually
from tests.integration.support import read_to_end
from tests.poison_corpus import Case, DeadLetter, DomainCase, Kept, Outcome, Record, Sample, profile

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Reader:
    service: str
    group: str


@dataclass
class Sent:
    topic: str
    case: str
    record: Record
    partition: int
    offset: int
    outcomes: dict[str, Outcome]  # by the reading service


def readers(catalog: Catalog, prefix: str) -> dict[str, list[Reader]]:
    """Every topic some service consumes, with the services that consume it."""
    found: dict[str, list[Reader]] = {}
    for declaration in catalog:
        settings = declaration.settings.model_construct(topic_prefix=prefix)
        spec = declaration.spec(settings)
        for topic in spec.subscribe_to:
            found.setdefault(topic, []).append(Reader(spec.name, settings.group_id))
    return found


def build(case: Case | DomainCase, key: bytes, sample: Sample) -> Record:
    if isinstance(case, DomainCase):
        return case.sample.record(key)
    return case.build(sample, key)


def outcome_of(case: Case | DomainCase, topic: str, service: str) -> Outcome:
    if isinstance(case, DomainCase):
        return case.by_service.get(service, case.outcome)
    return case.outcome(topic)


async def send(producer: AIOKafkaProducer, topic: str, record: Record) -> tuple[int, int]:
    if record.key is None and record.value is None:
        # `send` refuses a record with neither, which other clients send; a batch carries it.
        batch = producer.create_batch()
        batch.append(key=None, value=None, timestamp=None, headers=record.headers)
        batch.close()
        meta = await (await producer.send_batch(batch, topic, partition=0))
    else:
        meta = await (
            await producer.send(topic, key=record.key, value=record.value, headers=record.headers)
        )
    return meta.partition, meta.offset


def dlq_headers(letter: ConsumerRecord) -> dict[str, str]:
    """The `dlq_*` headers of a letter (the original's may be anything, even not UTF-8)."""
    return {k: v.decode() for k, v in letter.headers if k.startswith("dlq_")}


async def inbox(database: TestDatabase, service: str, ids: Sequence[str]) -> set[str]:
    conn = await connect(database.dsns[service], service)
    try:
        rows = await conn.fetch(
            "SELECT message_id FROM inbox WHERE message_id = ANY($1::text[])", list(ids)
        )
    finally:
        await conn.close()
    return {row["message_id"] for row in rows}


@pytest.mark.timeout(300)
async def test_bad_input_on_every_topic_is_dead_lettered_and_the_good_flows_on(
    services: ServiceProcesses,
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    catalog: Catalog,
) -> None:
    topics = readers(catalog, topic_prefix)
    assert len(topics) >= 6, topics  # commands of each service, events, contacts
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    sent: list[Sent] = []
    valid: dict[str, list[str]] = {}  # topic -> ids of the valid messages around the bad ones
    try:
        for topic, reading in topics.items():
            found = profile(topic)
            assert len(found.cases()) >= 50, (topic, len(found.cases()))
            valid[topic] = []
            for n, case in enumerate(found.cases()):
                around = found.sample(2 * n)
                if found.taken:
                    good = around.record(found.key)
                    await send(producer, topic, good)
                    valid[topic].append(str(good.message_id))
                record = build(case, found.key, around)
                partition, offset = await send(producer, topic, record)
                outcomes = {r.service: outcome_of(case, topic, r.service) for r in reading}
                if not found.taken:
                    # No reader takes any message of this topic: everything is a letter.
                    outcomes = {r.service: DeadLetter(".") for r in reading}
                sent.append(Sent(topic, case.name, record, partition, offset, outcomes))
            if found.taken:
                last = found.sample(10_000).record(found.key)
                await send(producer, topic, last)
                valid[topic].append(str(last.message_id))
    finally:
        await producer.stop()

    groups = {r.group: r.service for reading in topics.values() for r in reading}
    expected = {
        topic: sum(
            isinstance(o, DeadLetter) for s in sent if s.topic == topic for o in s.outcomes.values()
        )
        for topic in topics
    }

    async def through() -> bool:
        # The last valid message of each topic handled by each reader: all before it passed.
        for topic, reading in topics.items():
            for r in reading:
                if valid[topic] and not await inbox(database, r.service, valid[topic][-1:]):
                    return False
        return True

    await eventually(through, timeout=60, what="the last valid message of every topic")

    async def letters() -> dict[str, list[ConsumerRecord]]:
        return {t: await read_to_end(endpoints.kafka_bootstrap, dlq_topic(t)) for t in topics}

    async def all_letters() -> dict[str, list[ConsumerRecord]]:
        found = await letters()
        return found if all(len(found[t]) >= expected[t] for t in topics) else {}

    try:
        # On a topic with valid messages, the letters were written before the last of them
        # was handled; on one without, they follow soon after.
        dead = await eventually(all_letters, timeout=15, what="a letter for every bad message")
    except AssertionError:
        dead = await letters()  # what is missing is reported below, case by case

    # Each letter: where it came from, who wrote it, and why.
    by_place: dict[tuple[str, int, int, str], str] = {}
    for records in dead.values():
        for letter in records:
            h = dlq_headers(letter)
            where = (
                h["dlq_original_topic"],
                int(h["dlq_original_partition"]),
                int(h["dlq_original_offset"]),
                groups[h["dlq_consumer_group"]],
            )
            assert where not in by_place, f"two letters for one message: {where}"
            by_place[where] = h["dlq_reason"]

    wrong: list[str] = []
    handled_ids: dict[str, list[str]] = {}
    ignored_ids: dict[str, list[str]] = {}
    for item in sent:
        for service, outcome in item.outcomes.items():
            reason = by_place.pop((item.topic, item.partition, item.offset, service), None)
            what = f"{item.topic} [{service}] {item.case!r}"
            if isinstance(outcome, DeadLetter):
                if reason is None:
                    wrong.append(f"{what}: no letter")
                elif not re.search(outcome.reason, reason):
                    wrong.append(f"{what}: reason {reason!r} does not match {outcome.reason!r}")
            elif reason is not None:
                wrong.append(f"{what}: dead-lettered ({reason!r}), should be {outcome}")
            elif isinstance(outcome, Kept) and item.record.message_id is not None:
                chosen = handled_ids if outcome.handled else ignored_ids
                chosen.setdefault(service, []).append(item.record.message_id)
    wrong += [f"letter for a message that is not bad: {w} {r!r}" for w, r in by_place.items()]

    # The valid messages around the bad ones, and what was kept, are handled; what is to be
    # passed over is not.
    for topic, reading in topics.items():
        for r in reading:
            ids = valid[topic]
            seen = await inbox(database, r.service, ids)
            missing = [i for i in ids if i not in seen]
            if missing:
                wrong.append(f"{topic} [{r.service}]: {len(missing)} valid messages not handled")
    for service, ids in handled_ids.items():
        seen = await inbox(database, service, ids)
        if len(seen) != len(set(ids)):
            wrong.append(f"[{service}]: {len(set(ids)) - len(seen)} kept messages not handled")
    for service, ids in ignored_ids.items():
        seen = await inbox(database, service, ids)
        if seen:
            wrong.append(f"[{service}]: messages to pass over were handled: {sorted(seen)}")
    assert not wrong, "\n".join(wrong)

    # A valid command has its effect: an event it caused.
    for topic in topics:
        if not topic.endswith(".commands") or not valid[topic]:
            continue
        service = topic.removeprefix(f"{topic_prefix}.").split(".")[0]
        events = await read_to_end(endpoints.kafka_bootstrap, events_topic(service, topic_prefix))
        # The events topic also carries the corpus sent to it: read only the header sought.
        caused = {v for e in events for k, v in e.headers if k == CAUSATION_HEADER and v}
        caused_ids = {v.decode() for v in caused}
        assert set(valid[topic]) <= caused_ids, f"{topic}: commands without their event"
