"""The way in from Kafka: inbox against redelivery, dead letters for poison and for handlers
that cannot succeed, retries for transient failures. Real Kafka and PostgreSQL, in-process."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError

from shared.contracts.events.registration import ContactDetails, contacts_topic
from shared.contracts.topics import dlq_topic
from shared.messaging.bus import (
    OMITTED_HEADER,
    DeadLetters,
    KafkaMessageProcessor,
    MessageBus,
    Rejected,
    UnitOfWork,
)
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import Endpoints
from tests.integration.support import headers_of, read_to_end

pytestmark = pytest.mark.integration

SOURCE = "/test/consumer"
MAX_ATTEMPTS = 3

Behaviour = Any  # called with the attempt number; raises or returns


@dataclass
class Harness:
    """A processor like a service's, with a handler that records contacts in a test table."""

    endpoints: Endpoints
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    topic: str
    group: str
    behaviour: Behaviour = None
    max_attempts: int = MAX_ATTEMPTS
    calls: list[str] = field(default_factory=list)

    @property
    def processor(self) -> KafkaMessageProcessor:
        bus = MessageBus(self.pool, {ContactDetails.TYPE: self.handle}, service="itest-consumer")
        return KafkaMessageProcessor(
            bus, DeadLetters(self.producer, group=self.group), max_attempts=self.max_attempts
        )

    async def handle(self, contact: ContactDetails, uow: UnitOfWork) -> None:
        self.calls.append(uow.caused_by.id)
        await uow.conn.execute(
            "INSERT INTO contact_log (message_id, person_id, name) VALUES ($1, $2, $3)",
            uow.caused_by.id,
            contact.person_id,
            contact.name,
        )
        if self.behaviour is not None:
            self.behaviour(len(self.calls))

    async def publish(
        self, *messages: tuple[list[tuple[str, bytes]], bytes]
    ) -> list[ConsumerRecord]:
        """Publish (headers, value) pairs; return them as a consumer receives them."""
        sent = []
        for headers, value in messages:
            meta = await self.producer.send_and_wait(
                self.topic, value=value, key=f"person-{uuid.uuid4()}".encode(), headers=headers
            )
            sent.append((meta.partition, meta.offset))
        found = {(r.partition, r.offset): r for r in await read_to_end(self.bootstrap, self.topic)}
        return [found[where] for where in sent]

    @property
    def bootstrap(self) -> str:
        return self.endpoints.kafka_bootstrap

    async def dead_letters(self) -> list[ConsumerRecord]:
        return await read_to_end(self.bootstrap, dlq_topic(self.topic))

    async def contact_log(self) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.pool.fetch(
            "SELECT message_id, name FROM contact_log ORDER BY name"
        )
        return rows

    async def inbox(self) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.pool.fetch(
            "SELECT message_id, topic, kafka_partition, kafka_offset FROM inbox"
        )
        return rows


@pytest.fixture
async def harness(
    endpoints: Endpoints,
    registration_pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    topic_prefix: str,
    token: str,
) -> AsyncIterator[Harness]:
    await registration_pool.execute(
        "CREATE TABLE contact_log (message_id text NOT NULL, person_id uuid NOT NULL,"
        " name text NOT NULL)"
    )
    yield Harness(
        endpoints, registration_pool, producer, contacts_topic(topic_prefix), f"itest-{token}"
    )


def contact(name: str, token: str) -> Envelope:
    details = ContactDetails(
        person_id=uuid.uuid4(), name=name, email=f"{name.lower()}-{token}@example.no"
    )
    return Envelope.wrap(details, source=SOURCE)


async def test_a_redelivered_message_has_its_effect_once(harness: Harness, token: str) -> None:
    kari, ola = contact("Kari", token), contact("Ola", token)
    records = await harness.publish(
        (kari.headers(), kari.data),
        (kari.headers(), kari.data),  # the producer sent it twice
        (ola.headers(), ola.data),
    )
    processor = harness.processor
    for record in records:
        await processor.process(record)
    await processor.process(records[0])  # and the same record comes again after a rebalance

    assert [(r["message_id"], r["name"]) for r in await harness.contact_log()] == [
        (kari.id, "Kari"),
        (ola.id, "Ola"),
    ]
    inbox = {r["message_id"]: r for r in await harness.inbox()}
    assert set(inbox) == {kari.id, ola.id}
    first = records[0]
    assert (inbox[kari.id]["topic"], inbox[kari.id]["kafka_partition"]) == (
        first.topic,
        first.partition,
    )
    assert inbox[kari.id]["kafka_offset"] == first.offset
    assert harness.calls == [kari.id, ola.id]
    assert await harness.dead_letters() == []


async def test_poison_goes_to_the_dead_letter_topic_with_the_reason(
    harness: Harness, token: str
) -> None:
    broken_json = contact("Kari", token)
    no_cloudevent = contact("Ola", token)
    bad_email = contact("Per", token)
    invalid = json.loads(bad_email.data)
    invalid["email"] = "not an address"
    good = contact("Siri", token)
    records = await harness.publish(
        (broken_json.headers(), b'{"person_id": '),
        ([("content-type", b"application/json")], no_cloudevent.data),
        (bad_email.headers(), json.dumps(invalid).encode()),
        (good.headers(), good.data),
    )
    processor = harness.processor
    for record in records:
        await processor.process(record)  # returns: the consumer can commit and move on

    dead = {
        (int(headers_of(d)["dlq_original_partition"]), int(headers_of(d)["dlq_original_offset"])): d
        for d in await harness.dead_letters()
    }
    poison = records[:3]
    assert set(dead) == {(r.partition, r.offset) for r in poison}
    reasons = [headers_of(dead[(r.partition, r.offset)])["dlq_reason"] for r in poison]
    assert reasons[0].startswith("value is not JSON"), reasons[0]
    assert "missing header(s) ce_specversion, ce_id, ce_type, ce_source" in reasons[1]
    assert f"{ContactDetails.TYPE} failed validation" in reasons[2]
    assert "email" in reasons[2]
    for record in poison:
        letter = dead[(record.partition, record.offset)]
        headers = headers_of(letter)
        # The letter keeps what was sent, so it can be inspected and replayed.
        assert (letter.key, letter.value) == (record.key, record.value)
        assert headers["dlq_original_topic"] == harness.topic
        assert headers["dlq_consumer_group"] == harness.group
        for name, value in record.headers:
            assert headers[name] == value.decode()

    # Nothing of the poison was stored; the good message after it was handled.
    assert [r["message_id"] for r in await harness.contact_log()] == [good.id]
    assert [r["message_id"] for r in await harness.inbox()] == [good.id]


async def test_a_handler_that_always_fails_is_dead_lettered_after_max_attempts(
    harness: Harness, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(attempt: int) -> None:
        raise ValueError(f"cannot file contact (attempt {attempt})")

    harness.behaviour = fail
    kari = contact("Kari", token)
    (record,) = await harness.publish((kari.headers(), kari.data))
    caplog.set_level(logging.WARNING, logger="shared.messaging.bus")
    await harness.processor.process(record)

    # Each line about the message names it: id, type, conversation and trace. (The first
    # failure is in the batch; the others as the record is taken alone.)
    about = [r for r in caplog.records if r.name == "shared.messaging.bus"]
    assert [r.getMessage() for r in about] == [
        "a handler failed in a batch; handling its records one by one",
        *["handler failed"] * (MAX_ATTEMPTS - 1),
        "message dead-lettered",
    ]
    for line in about:
        assert line.__dict__["ce_id"] == kari.id
        assert line.__dict__["ce_type"] == ContactDetails.TYPE
        assert line.__dict__["correlation_id"] == kari.correlation_id
        assert "trace_id" in line.__dict__  # None: tracing is off and the message had none

    assert harness.calls == [kari.id] * MAX_ATTEMPTS
    (letter,) = await harness.dead_letters()
    reason = headers_of(letter)["dlq_reason"]
    assert reason.startswith(f"handler failed {MAX_ATTEMPTS} times"), reason
    assert f"cannot file contact (attempt {MAX_ATTEMPTS})" in reason
    assert headers_of(letter)["dlq_original_offset"] == str(record.offset)
    # Each attempt rolled back: neither the effect nor the inbox row stayed.
    assert await harness.contact_log() == []
    assert await harness.inbox() == []


async def test_a_rejected_message_is_dead_lettered_at_once(harness: Harness, token: str) -> None:
    def reject(_: int) -> None:
        raise Rejected("person is not known to this branch")

    harness.behaviour = reject
    kari = contact("Kari", token)
    (record,) = await harness.publish((kari.headers(), kari.data))
    await harness.processor.process(record)

    assert harness.calls == [kari.id]
    (letter,) = await harness.dead_letters()
    assert headers_of(letter)["dlq_reason"] == "rejected: person is not known to this branch"
    assert headers_of(letter)["dlq_original_offset"] == str(record.offset)
    assert await harness.contact_log() == []
    assert await harness.inbox() == []


async def test_a_transient_failure_is_retried_until_handled_once(
    harness: Harness, token: str
) -> None:
    def flaky(attempt: int) -> None:
        if attempt <= 2:
            raise ConnectionError("database went away")

    harness.behaviour = flaky
    # Transient failures do not use up attempts: two of them are more than this allows
    # for a handler that is simply wrong.
    harness.max_attempts = 2
    kari = contact("Kari", token)
    (record,) = await harness.publish((kari.headers(), kari.data))
    await harness.processor.process(record)

    assert harness.calls == [kari.id] * 3
    assert [(r["message_id"], r["name"]) for r in await harness.contact_log()] == [
        (kari.id, "Kari")
    ]
    assert [r["message_id"] for r in await harness.inbox()] == [kari.id]
    assert await harness.dead_letters() == []


async def test_a_permanent_error_is_dead_lettered_not_retried_forever(
    harness: Harness, token: str
) -> None:
    def too_large(_: int) -> None:
        # What a handler sees when a message it produces directly is refused for good.
        raise MessageSizeTooLargeError()

    harness.behaviour = too_large
    kari = contact("Kari", token)
    (record,) = await harness.publish((kari.headers(), kari.data))
    await harness.processor.process(record)  # returns: not retried forever

    assert harness.calls == [kari.id] * MAX_ATTEMPTS
    (letter,) = await harness.dead_letters()
    assert "MessageSizeTooLargeError" in headers_of(letter)["dlq_reason"]
    assert await harness.inbox() == []


async def test_a_letter_too_large_for_the_dead_letter_topic_goes_without_its_value(
    harness: Harness, endpoints: Endpoints, topic_prefix: str, token: str
) -> None:
    # A topic whose DLQ takes small records only, set when it is created: a limit changed on
    # a live topic takes a moment to reach the broker's log.
    harness.topic = f"{topic_prefix}.itest.small"
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(harness.topic, 1, 1),
                NewTopic(
                    dlq_topic(harness.topic), 1, 1, topic_configs={"max.message.bytes": "2000"}
                ),
            ]
        )
    finally:
        await admin.close()
    kari = contact("Kari", token)
    broken = b'{"name": "' + b"x" * 5000
    (record,) = await harness.publish((kari.headers(), broken))
    await harness.processor.process(record)  # returns: the letter was written

    (letter,) = await harness.dead_letters()
    headers = headers_of(letter)
    assert letter.value is None and letter.key == record.key
    assert headers["dlq_reason"].startswith("value is not JSON")
    assert "MessageSizeTooLargeError" in headers[OMITTED_HEADER]
    assert (headers["dlq_original_topic"], headers["dlq_original_offset"]) == (
        harness.topic,
        str(record.offset),
    )


async def test_reasons_name_no_address(harness: Harness, token: str) -> None:
    def refuse(_: int) -> None:
        raise Rejected(f"kari-{token}@example.no is not known to this branch")

    harness.behaviour = refuse
    kari = contact("Kari", token)
    (record,) = await harness.publish((kari.headers(), kari.data))
    await harness.processor.process(record)

    (letter,) = await harness.dead_letters()
    assert headers_of(letter)["dlq_reason"] == "rejected: <e-mail> is not known to this branch"
