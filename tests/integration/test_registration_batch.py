"""Registration's commands handled as the consumer handles them: many in one transaction.

The outbox rows of such a batch are written together at its end; what a command of the batch
withdraws from the outbox (an erased person's contact records) must include the rows queued
by the commands before it.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from services.registration.app import make_context, make_handlers
from services.registration.settings import RegistrationSettings
from shared.contracts.events.base import Contract
from shared.contracts.events.registration import (
    ContactDetails,
    ImportMembers,
    OpenRound,
    RegisterInterest,
    contacts_topic,
)
from shared.messaging.bus import MessageBus, Work
from shared.messaging.envelope import Envelope

pytestmark = pytest.mark.integration

PREFIX = "itest-batch"
ROUND = "2030"


def work(command: Contract, offset: int) -> Work:
    envelope = Envelope.wrap(command, source="/test/county-system")
    key = command.key().encode()
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        f"{PREFIX}.registration.commands",
        0,
        offset,
        0,
        0,
        key,
        envelope.data,
        None,
        len(key),
        0,
        [],
    )
    return Work(record, envelope, command)


def interest(email: str, message: str) -> RegisterInterest:
    data: dict[str, Any] = {
        "round_id": ROUND,
        "branch": "Vestland",
        "municipality_numbers": ["4601"],
        "contact": {"name": "Kontakt", "email": email},
        "message": message,
    }
    return RegisterInterest.model_validate(data)


async def test_a_contact_replaced_later_in_the_batch_leaves_no_record_of_theirs_but_the_last(
    registration_pool: asyncpg.Pool,
) -> None:
    settings = RegistrationSettings(database_url="postgresql://unused", topic_prefix=PREFIX)
    bus = MessageBus(
        registration_pool, make_handlers(make_context(settings)), service="itest-batch", lanes=1
    )
    await bus.handle_batch(
        [
            work(ImportMembers(municipality_numbers=["4601"]), 0),
            work(OpenRound(round_id=ROUND), 1),
        ]
    )
    first, second = f"kari-{uuid.uuid4().hex[:6]}@example.no", "ola@example.no"
    # One transaction: Kari's contact record is queued, then Ola takes over the registration;
    # Kari is referred to by nothing else, so she is erased in the same transaction.
    await bus.handle_batch([work(interest(first, "Kari"), 2), work(interest(second, "Ola"), 3)])

    kari = await registration_pool.fetchval(
        "SELECT id FROM persons WHERE erased_at IS NOT NULL ORDER BY erased_at DESC LIMIT 1"
    )
    assert kari is not None, "the replaced contact was not erased"
    rows = await registration_pool.fetch(
        "SELECT payload FROM outbox WHERE topic = $1 AND key = $2 ORDER BY id",
        contacts_topic(PREFIX),
        str(kari),
    )
    records = [
        ContactDetails.model_validate_json(r["payload"]) if r["payload"] else None for r in rows
    ]
    # Her last word (someone else holds the contact role now), then the tombstone; her first
    # record, queued earlier in the batch, was withdrawn with the others of hers.
    assert [r.handed_over is not None if r else "tombstone" for r in records] == [
        True,
        "tombstone",
    ]
