"""`python -m bench.floor` times the work a command and a mail need: it must be that work."""

from __future__ import annotations

import json

import pytest

from bench.floor import command_work, mail_work
from shared.contracts.events.base import Contract
from shared.contracts.events.notification import NotificationSent
from shared.contracts.events.registration import ContactDetails, InterestRegistered
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import OutboxRow

pytestmark = pytest.mark.unit


def read(row: OutboxRow) -> Contract:
    """The row as a consumer reads it off the topic."""
    headers = [(name, text.encode()) for name, text in json.loads(row.headers)]
    return Envelope.from_kafka(headers, row.payload).decode()


def test_a_commands_work_ends_in_its_two_events_as_a_consumer_reads_them() -> None:
    one = command_work(20)
    for _ in range(20):
        # As the relay hands them to the producer: key, value, headers.
        registered, contact = (
            Envelope.from_kafka(headers, value).decode() for _key, value, headers in one()
        )
        assert isinstance(registered, InterestRegistered)
        assert isinstance(contact, ContactDetails)
        assert contact.person_id == registered.contact_person_id
        assert registered.municipality_numbers  # checked against the reference data


def test_a_mails_work_ends_in_its_notification_sent_event() -> None:
    one = mail_work()
    sent = [read(one()) for _ in range(4)]
    assert all(isinstance(event, NotificationSent) for event in sent)
    assert {event.template for event in sent if isinstance(event, NotificationSent)} == {
        "interest_receipt",
        "interest_programme_copy",
    }
