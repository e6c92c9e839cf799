"""What the outbox relay tells transient from permanent, and what a parked row's reason says."""

from __future__ import annotations

import pytest
from aiokafka import errors as kafka_errors

from shared.messaging.outbox import REASON_LIMIT, failure_reason, transient_for_relay

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.KafkaTimeoutError("not acknowledged"),
        kafka_errors.KafkaConnectionError("Unable to bootstrap from 127.0.0.1:1"),
        kafka_errors.NotLeaderForPartitionError(),
        # The producer's sequence state broke, not the row: a fresh producer sends it.
        kafka_errors.OutOfOrderSequenceNumber(),
        kafka_errors.UnknownProducerId(),
        ConnectionRefusedError(111, "Connect call failed"),
    ],
)
def test_the_relay_waits_and_reconnects_on(error: BaseException) -> None:
    assert transient_for_relay(error)


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.MessageSizeTooLargeError(),
        kafka_errors.RecordTooLargeError(),
        kafka_errors.UnknownTopicOrPartitionError("topic t does not exist"),
        kafka_errors.TopicAuthorizationFailedError("t"),
        kafka_errors.InvalidTopicError(),
        ValueError("a value the producer cannot take"),
    ],
)
def test_the_relay_parks_a_row_refused_alone_with(error: BaseException) -> None:
    assert not transient_for_relay(error)


def test_a_reason_names_the_error_and_what_the_broker_code_means() -> None:
    reason = failure_reason(kafka_errors.MessageSizeTooLargeError())
    assert "MessageSizeTooLargeError" in reason
    assert "MESSAGE_SIZE_TOO_LARGE" in reason
    assert "maximum message size" in reason


def test_a_reason_holds_no_address_and_stays_short() -> None:
    reason = failure_reason(ValueError("no route for kari.nordmann@example.no, +47 912 34 567"))
    assert "kari.nordmann@example.no" not in reason
    assert "912 34 567" not in reason
    assert "<e-mail>" in reason and "<phone>" in reason
    assert len(failure_reason(ValueError("x" * 10 * REASON_LIMIT))) == REASON_LIMIT
