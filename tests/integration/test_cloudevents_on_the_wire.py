"""What the registration service publishes on the real broker, read the way a downstream team
would: with the CloudEvents SDK's Kafka binding. The conversation (correlationid) and the cause
(causationid) are extension attributes the SDK keeps, and the key is the aggregate id."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from shared.contracts.events.registration import ImportMembers, MembershipChanged
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import eventually
from tests.integration.registration_app import (
    Registration,
    registration_fixture,  # noqa: F401
)
from tests.integration.support import headers_of

pytestmark = pytest.mark.integration


async def test_an_sdk_consumer_reads_correlation_and_causation_of_a_published_event(
    registration: Registration, producer: AIOKafkaProducer
) -> None:
    app = registration
    command = Envelope.wrap(ImportMembers(municipality_numbers=["4601", "4640"]), source="/test")
    await producer.send_and_wait(
        app.commands, value=command.data, key=b"membership", headers=command.headers()
    )

    async def caused_events() -> list[object]:
        return [
            r
            for r in await app.published(app.events)
            if headers_of(r).get("ce_causationid") == command.id
        ]

    (record,) = await eventually(caused_events, timeout=30, what="the event the command caused")
    event = from_binary(
        KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value),
        JSONFormat(),
    )

    assert event.get_type() == MembershipChanged.TYPE
    assert event.get_source() == "/registration"
    assert event.get_extension("correlationid") == command.id
    assert event.get_extension("causationid") == command.id
    assert event.get_extension("partitionkey") == "membership"  # the Kafka key
    assert event.get_subject() == "membership"
    data = event.get_data()
    assert isinstance(data, dict)
    assert sorted(data["added"]) == ["4601", "4640"]
    assert MembershipChanged.model_validate(data).key() == "membership"
