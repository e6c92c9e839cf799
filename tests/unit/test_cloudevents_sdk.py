"""Our Kafka envelopes as a downstream consumer reads them: with the CloudEvents Python SDK's
Kafka binary-mode binding, which keeps extension attributes only under spec-valid names."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings import kafka as core_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1 import kafka as v1_kafka

from shared.contracts.events.registration import InterestRegistered, RegisterInterest
from shared.messaging.envelope import Envelope

pytestmark = pytest.mark.unit


def interest_registered() -> InterestRegistered:
    return InterestRegistered(
        registration_id=uuid.uuid4(),
        round_id="2025",
        branch_id="vestland",
        branch_name="Vestland",
        county_numbers=["46"],
        municipality_numbers=["4601"],
        contact_person_id=uuid.uuid4(),
        message="",
        registered_at=datetime(2024, 9, 15, 21, 59, tzinfo=UTC),
    )


def a_caused_event() -> tuple[Envelope, Envelope, InterestRegistered]:
    """An event caused by a command: its correlation and causation are the command's id."""
    command = Envelope.wrap(
        RegisterInterest.model_validate(
            {
                "round_id": "2025",
                "branch": "Vestland",
                "contact": {"name": "Kari", "email": "kari@example.no"},
            }
        ),
        source="/http",
    )
    data = interest_registered()
    event = Envelope.wrap(data, source="/registration", subject=data.key(), caused_by=command)
    return command, event, data


def test_the_sdk_binding_reads_our_envelope_and_keeps_correlation_and_causation() -> None:
    command, event, data = a_caused_event()
    message = core_kafka.KafkaMessage(
        headers=dict(event.headers()), key=data.key().encode(), value=event.data
    )

    read = core_kafka.from_binary(message, JSONFormat())

    assert isinstance(read, CloudEvent)
    assert (read.get_id(), read.get_type(), read.get_source()) == (
        event.id,
        InterestRegistered.TYPE,
        "/registration",
    )
    assert read.get_subject() == "vestland"
    assert read.get_time() == event.time
    assert read.get_datacontenttype() == "application/json"
    assert read.get_extension("correlationid") == command.id
    assert read.get_extension("causationid") == command.id
    assert read.get_extension("partitionkey") == "vestland"
    assert read.get_data() == json.loads(data.model_dump_json())


def test_the_legacy_sdk_binding_keeps_them_too() -> None:
    command, event, data = a_caused_event()
    message = v1_kafka.KafkaMessage(
        headers=dict(event.headers()), key=data.key().encode(), value=event.data
    )

    read = v1_kafka.from_binary(message)

    assert read["id"] == event.id
    assert read["correlationid"] == command.id
    assert read["causationid"] == command.id
    assert read.get_data()["registration_id"] == str(data.registration_id)


def test_the_old_header_names_were_lost_to_an_sdk_consumer() -> None:
    """Why the names changed: `correlation_id` is no CloudEvents attribute, so it vanished."""
    command, event, _ = a_caused_event()
    headers = {
        ("correlation_id" if name == "ce_correlationid" else name): value
        for name, value in event.headers()
        if name != "ce_causationid"
    }
    headers["causation_id"] = command.id.encode()
    read = core_kafka.from_binary(
        core_kafka.KafkaMessage(headers=headers, key=None, value=event.data), JSONFormat()
    )
    attributes = read.get_attributes()
    assert command.id not in attributes.values()
    # Our own reader still understands such a message (one that waited in an outbox).
    ours = Envelope.from_kafka(list(headers.items()), event.data)
    assert (ours.correlation_id, ours.causation_id) == (command.id, command.id)


def test_an_event_written_by_the_sdk_is_read_by_our_envelope() -> None:
    """A producer on the SDK (a test tool, another team) reaches our consumers intact."""
    data = interest_registered()
    sdk_event = CloudEvent(
        attributes={
            "type": InterestRegistered.TYPE,
            "source": "/elsewhere",
            "datacontenttype": "application/json",
            "correlationid": "conversation-7",
            "causationid": "cause-7",
            "partitionkey": data.key(),
        },
        data=json.loads(data.model_dump_json()),
    )
    message = core_kafka.to_binary(sdk_event, JSONFormat())

    received = Envelope.from_kafka(list(message.headers.items()), message.value)

    assert message.key == "vestland"
    assert (received.correlation_id, received.causation_id) == ("conversation-7", "cause-7")
    assert received.id == sdk_event.get_id()
    assert received.decode() == data
