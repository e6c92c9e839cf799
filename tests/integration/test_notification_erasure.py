"""The notification service forgets an erased person and does not take them back.

The service runs in-process through its lifespan (its real FastStream subscribers) on the
real Kafka and PostgreSQL; the test publishes what registration would: contact details and
tombstones on the compacted contacts topic, events on the public topic.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services.notification.adapters import repository
from services.notification.app import create_app
from services.notification.domain.messages import PlannedMail
from services.notification.settings import NotificationSettings
from shared.contracts.events.base import Contract
from shared.contracts.events.registration import (
    ContactDetails,
    InterestRegistered,
    PersonErased,
    contacts_topic,
)
from shared.contracts.topics import dlq_topic, events_topic
from shared.messaging.bus import tombstone_handler
from shared.messaging.envelope import Envelope
from shared.messaging.redact import EMAIL_MASK
from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.integration.support import (
    NOTIFICATION_MIGRATIONS,
    headers_of,
    migrated_pool,
    read_to_end,
)

pytestmark = pytest.mark.integration


@dataclass
class Notification:
    db: asyncpg.Pool
    producer: AIOKafkaProducer
    prefix: str

    @property
    def contacts(self) -> str:
        return contacts_topic(self.prefix)

    async def publish(self, topic: str, contract: Contract) -> None:
        envelope = Envelope.wrap(contract, source="/test/registration")
        await self.producer.send_and_wait(
            topic, value=envelope.data, key=contract.key().encode(), headers=envelope.headers()
        )

    async def contact(self, person_id: uuid.UUID, email: str) -> None:
        await self.publish(
            self.contacts, ContactDetails(person_id=person_id, name="Kari Nordmann", email=email)
        )

    async def tombstone(self, person_id: uuid.UUID) -> None:
        await self.producer.send_and_wait(self.contacts, value=None, key=str(person_id).encode())

    async def recipients(self) -> set[uuid.UUID]:
        return {r["person_id"] for r in await self.db.fetch("SELECT person_id FROM recipients")}

    async def erased(self) -> set[uuid.UUID]:
        return {r["person_id"] for r in await self.db.fetch("SELECT person_id FROM erased_persons")}

    async def has_recipient(self, person_id: uuid.UUID) -> bool:
        return person_id in await self.recipients()

    async def is_erased(self, person_id: uuid.UUID) -> bool:
        return person_id in await self.erased() and person_id not in await self.recipients()

    async def deliveries_of(self, person_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT status, context, address, last_error FROM deliveries WHERE person_id = $1",
            person_id,
        )
        return [dict(r) for r in rows]


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
    )
    app = create_app(settings)
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap)
    await producer.start()
    try:
        async with app.router.lifespan_context(app):
            yield Notification(app.state.runtime.pool, producer, topic_prefix)
    finally:
        await producer.stop()


def interest_for(person_id: uuid.UUID) -> InterestRegistered:
    return InterestRegistered(
        registration_id=uuid.uuid4(),
        round_id="2030",
        branch_id="vestland",
        branch_name="Vestland",
        county_numbers=["46"],
        municipality_numbers=["4601"],
        contact_person_id=person_id,
        message="",
        registered_at=datetime.now(UTC),
    )


async def test_a_tombstone_erases_the_recipient_for_good(notification: Notification) -> None:
    app = notification
    person, marker = uuid.uuid4(), uuid.uuid4()
    await app.contact(person, f"kari-{person.hex[:8]}@example.no")
    await eventually(lambda: app.has_recipient(person), what="the recipient")

    await app.tombstone(person)
    await eventually(lambda: app.is_erased(person), what="the recipient erased by the tombstone")
    # The tombstone went through the inbox, under its place in the log.
    name = tombstone_handler(app.contacts)
    inbox = await app.db.fetch(
        "SELECT message_id, kafka_partition, kafka_offset FROM inbox WHERE type = $1", name
    )
    assert [r["message_id"] for r in inbox] == [
        f"{name}:{r['kafka_partition']}:{r['kafka_offset']}" for r in inbox
    ]
    assert len(inbox) == 1

    # Contact details that come late or again do not bring the person back; a later message
    # for someone else shows they were read.
    await app.contact(person, f"kari-{person.hex[:8]}@example.no")
    await app.contact(marker, f"ola-{marker.hex[:8]}@example.no")
    await eventually(lambda: app.has_recipient(marker), what="the later contact")
    assert person not in await app.recipients()


async def test_contact_details_after_person_erased_are_ignored(notification: Notification) -> None:
    app = notification
    person, marker = uuid.uuid4(), uuid.uuid4()
    await app.contact(person, f"kari-{person.hex[:8]}@example.no")
    await eventually(lambda: app.has_recipient(person), what="the recipient")

    await app.publish(
        events_topic("registration", app.prefix),
        PersonErased(person_id=person, erased_at=datetime.now(UTC)),
    )
    await eventually(lambda: app.is_erased(person), what="the recipient erased by the event")

    await app.contact(person, f"kari-{person.hex[:8]}@example.no")
    await app.contact(marker, f"ola-{marker.hex[:8]}@example.no")
    await eventually(lambda: app.has_recipient(marker), what="the later contact")
    assert person not in await app.recipients()


async def test_mails_to_an_erased_person_are_cancelled_and_keep_nothing(
    notification: Notification,
) -> None:
    app = notification
    events = events_topic("registration", app.prefix)
    waiting, late = uuid.uuid4(), uuid.uuid4()
    # No contact details yet: the receipt waits for the address.
    await app.publish(events, interest_for(waiting))

    async def planned() -> bool:
        return [d["status"] for d in await app.deliveries_of(waiting)] == ["pending"]

    await eventually(planned, what="a receipt waiting for its address")

    await app.tombstone(waiting)

    async def cancelled(person: uuid.UUID) -> bool:
        rows = await app.deliveries_of(person)
        return bool(rows) and all(
            (d["status"], d["context"], d["address"], d["last_error"])
            == ("cancelled", {}, None, None)
            for d in rows
        )

    await eventually(lambda: cancelled(waiting), what="the waiting receipt cancelled")

    # An event about a person erased before it came plans nothing that could be sent.
    await app.tombstone(late)
    await eventually(lambda: app.is_erased(late), what="the second person erased")
    await app.publish(events, interest_for(late))
    await eventually(lambda: cancelled(late), what="the late event's receipt cancelled")


async def test_a_tombstone_with_a_key_that_is_no_person_id_is_dead_lettered(
    notification: Notification, endpoints: Endpoints
) -> None:
    app = notification
    await app.producer.send_and_wait(app.contacts, value=None, key=b"not-a-person")

    async def dead_letters() -> list[Any]:
        return await read_to_end(endpoints.kafka_bootstrap, dlq_topic(app.contacts))

    letters = await eventually(dead_letters, what="the tombstone dead-lettered")
    assert [(r.key, r.value) for r in letters] == [(b"not-a-person", None)]
    reason = headers_of(letters[0])["dlq_reason"]
    assert reason.startswith("rejected: a contacts tombstone's key must be a person id")


async def test_a_stored_error_text_keeps_no_address(database: TestDatabase) -> None:
    pool = await migrated_pool(
        database.dsns["notification"], "notification", NOTIFICATION_MIGRATIONS
    )
    try:
        retried, failed = uuid.uuid4(), uuid.uuid4()
        for delivery in (retried, failed):
            await pool.execute(
                "INSERT INTO deliveries (id, event_id, recipient_key, template, context, status)"
                " VALUES ($1, $2, 'mailbox:x', 't', '{}', 'sending')",
                delivery,
                str(delivery),
            )
        error = "SMTPRecipientsRefused({'kari@example.no': (550, 'no such user')})"
        async with pool.acquire() as conn, conn.transaction():
            await repository.retry_later(conn, [(retried, error, 1)])
            await repository.mark_failed(conn, [(failed, error)], [])
        rows = await pool.fetch(
            "SELECT id, status, last_error FROM deliveries WHERE id = ANY($1::uuid[])",
            [retried, failed],
        )
        assert {r["id"]: r["status"] for r in rows} == {retried: "pending", failed: "failed"}
        for row in rows:
            assert "kari@example.no" not in row["last_error"]
            assert EMAIL_MASK in row["last_error"] and "(550, 'no such user')" in row["last_error"]
    finally:
        await pool.close()


async def test_erasure_also_forgets_the_opt_out_and_the_reply_to(database: TestDatabase) -> None:
    pool = await migrated_pool(
        database.dsns["notification"], "notification", NOTIFICATION_MIGRATIONS
    )
    try:
        person, copy = uuid.uuid4(), uuid.uuid4()
        await pool.execute(
            "INSERT INTO deliveries (id, event_id, recipient_key, address, template, context,"
            " reply_to_person_id) VALUES ($1, 'e', 'mailbox:x', 'x@example.no', 't', '{}', $2)",
            copy,
            person,
        )
        await repository.set_opt_out(pool, person, True)
        async with pool.acquire() as conn, conn.transaction():
            await repository.erase_recipient(conn, person)
        # The programme's copy still goes, but without their name and address in it.
        row = await pool.fetchrow(
            "SELECT status, reply_to_person_id FROM deliveries WHERE id = $1", copy
        )
        assert (row["status"], row["reply_to_person_id"]) == ("pending", None)
        assert await pool.fetchval("SELECT count(*) FROM reminder_opt_outs") == 0
    finally:
        await pool.close()


async def test_what_waited_for_an_erasure_sees_it_once_the_erasure_commits(
    database: TestDatabase,
) -> None:
    """A recipient's address and a planned mail, written while the person's erasure is in
    flight, wait for it and then see it: nothing of theirs is kept, the mail is cancelled."""
    pool = await migrated_pool(
        database.dsns["notification"], "notification", NOTIFICATION_MIGRATIONS
    )
    try:
        person = uuid.uuid4()
        erasing = await pool.acquire()
        transaction = erasing.transaction()
        await transaction.start()
        await repository.erase_recipient(erasing, person)  # holds the person's lock

        async def write_address() -> bool:
            async with pool.acquire() as conn, conn.transaction():
                return await repository.upsert_recipient(
                    conn, person_id=person, name="Kari", email="kari@example.no", language="nb"
                )

        async def plan_mail() -> None:
            mail = PlannedMail("person:x", "interest_receipt", {"a": 1}, person_id=str(person))
            async with pool.acquire() as conn, conn.transaction():
                await repository.plan_deliveries(conn, event_id="e-race", mails=[mail])

        writers = [asyncio.create_task(write_address()), asyncio.create_task(plan_mail())]

        async def both_waiting() -> bool:
            waiting = await pool.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            )
            return waiting == 2

        await eventually(both_waiting, timeout=10, what="both writers waiting for the erasure")
        await transaction.commit()
        await pool.release(erasing)
        stored, _ = await asyncio.wait_for(asyncio.gather(*writers), timeout=10)
        assert stored is False
        assert (
            await pool.fetchval("SELECT count(*) FROM recipients WHERE person_id = $1", person) == 0
        )
        row = await pool.fetchrow(
            "SELECT status, context FROM deliveries WHERE event_id = 'e-race'"
        )
        assert (row["status"], row["context"]) == ("cancelled", {})
    finally:
        await pool.close()
