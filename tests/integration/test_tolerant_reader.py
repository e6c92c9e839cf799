"""A current consumer handles messages from a newer producer: a known version with an added
optional property (and an extension attribute it does not know) is handled, not dead-lettered.
Commands stay strict: one with a property its version does not declare is refused, by name.

The services run in-process through their lifespans, so the messages go through their real
FastStream subscribers on the real Kafka, into the real PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services.notification.app import create_app
from services.notification.settings import NotificationSettings
from shared.contracts.events.base import Contract
from shared.contracts.events.registration import (
    ContactDetails,
    InterestRegistered,
    SubmitApplication,
    contacts_topic,
)
from shared.contracts.topics import dlq_topic, events_topic
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.integration.registration_app import (
    ROUND,
    Registration,
    registration_fixture,  # noqa: F401
)
from tests.integration.support import headers_of, read_to_end

pytestmark = pytest.mark.integration

PROGRAMME_MAILBOX = "programme@example.no"


@dataclass
class Notification:
    db: asyncpg.Pool
    producer: AIOKafkaProducer
    bootstrap: str
    prefix: str

    async def publish_from_newer_producer(
        self, topic: str, contract: Contract, added: dict[str, Any]
    ) -> Envelope:
        """`contract` as a newer producer writes it: its data with `added` properties, and a
        CloudEvents extension attribute this consumer has never heard of."""
        envelope = Envelope.wrap(contract, source="/registration", subject=contract.key())
        data = {**json.loads(envelope.data), **added}
        headers = [*envelope.headers(), ("ce_traceparent", b"00-4bf92f3577b34da6-00f067aa-01")]
        await self.producer.send_and_wait(
            topic, value=json.dumps(data).encode(), key=contract.key().encode(), headers=headers
        )
        return envelope

    async def deliveries(self, event_id: str) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.db.fetch(
            "SELECT recipient_key, template, status FROM deliveries WHERE event_id = $1"
            " ORDER BY recipient_key",
            event_id,
        )
        return rows


@pytest.fixture
async def notification(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str
) -> AsyncIterator[Notification]:
    settings = NotificationSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        database_url=database.dsns["notification"],
        topic_prefix=topic_prefix,
        smtp_host=endpoints.smtp_host,
        smtp_port=endpoints.smtp_port,
        mail_poll_interval_s=0.5,
        programme_mailbox=PROGRAMME_MAILBOX,
    )
    app = create_app(settings)
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap)
    await producer.start()
    try:
        async with app.router.lifespan_context(app):
            yield Notification(
                app.state.runtime.pool, producer, endpoints.kafka_bootstrap, topic_prefix
            )
    finally:
        await producer.stop()


async def test_an_event_with_a_property_from_a_newer_producer_is_handled(
    notification: Notification,
) -> None:
    app = notification
    person = uuid.uuid4()
    email = f"kari-{person.hex[:8]}@example.no"
    contacts, events = contacts_topic(app.prefix), events_topic("registration", app.prefix)

    await app.publish_from_newer_producer(
        contacts,
        ContactDetails(person_id=person, name="Kari Nordmann", email=email),
        {"preferred_channel": "sms"},
    )
    interest = InterestRegistered(
        registration_id=uuid.uuid4(),
        round_id="2030",
        branch_id="vestland",
        branch_name="Vestland",
        county_numbers=["46"],
        municipality_numbers=["4601"],
        contact_person_id=person,
        message="",
        registered_at=datetime.now(UTC),
    )
    sent = await app.publish_from_newer_producer(
        events,
        interest,
        {"board_meeting_on": "2030-09-01", "representatives": [{"role": "leader"}]},
    )

    async def both_mails_sent() -> bool:
        rows = await app.deliveries(sent.id)
        return [(r["recipient_key"], r["status"]) for r in rows] == [
            (f"mailbox:{PROGRAMME_MAILBOX}", "sent"),
            (f"person:{person}", "sent"),
        ]

    # The receipt went to the address from the newer contact details, and the copy to the
    # programme mailbox: both messages were handled, their added properties ignored.
    await eventually(both_mails_sent, what="the receipt and the programme copy sent")
    recipient = await app.db.fetchrow(
        "SELECT name, email FROM recipients WHERE person_id = $1", person
    )
    assert recipient is not None and (recipient["name"], recipient["email"]) == (
        "Kari Nordmann",
        email,
    )
    inbox = await app.db.fetch("SELECT message_id FROM inbox WHERE message_id = $1", sent.id)
    assert len(inbox) == 1
    # Nothing was dead-lettered.
    assert await read_to_end(app.bootstrap, dlq_topic(events)) == []
    assert await read_to_end(app.bootstrap, dlq_topic(contacts)) == []


async def test_a_command_with_a_property_its_version_lacks_is_refused_by_name(
    registration: Registration, producer: AIOKafkaProducer
) -> None:
    app = registration
    command = SubmitApplication(round_id=ROUND, municipality_number="4601")
    envelope = Envelope.wrap(command, source="/test/newer-sender")
    data = {**json.loads(envelope.data), "priority": "high"}
    await producer.send_and_wait(
        app.commands, value=json.dumps(data).encode(), key=b"4601", headers=envelope.headers()
    )

    async def dead_letters() -> list[Any]:
        return await read_to_end(app.bootstrap, app.commands_dlq)

    (dead,) = await eventually(dead_letters, timeout=30, what="the command dead-lettered")
    assert headers_of(dead)["ce_id"] == envelope.id
    assert headers_of(dead)["dlq_reason"] == (
        f"{SubmitApplication.TYPE} failed validation: "
        "priority: unknown property 'priority', not in this contract"
    )
    inbox = await app.db.fetchval("SELECT count(*) FROM inbox WHERE message_id = $1", envelope.id)
    assert inbox == 0
