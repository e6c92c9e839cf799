"""Backoff for transient failures: exponential, capped, jittered, never zero or negative."""

from __future__ import annotations

import errno
import socket
from itertools import pairwise

import asyncpg
import pytest
from aiokafka import errors as kafka_errors

from shared.messaging.retry import backoff_delay, describe, is_transient

pytestmark = pytest.mark.unit

SAMPLES = 200  # the jitter is random: check each bound over many draws


@pytest.mark.parametrize("attempt", range(1, 7))
def test_delay_lies_in_jitter_band(attempt: int) -> None:
    full = 0.2 * 2 ** (attempt - 1)  # below the 10 s cap for attempts 1..6
    for _ in range(SAMPLES):
        delay = backoff_delay(attempt)
        assert full / 2 <= delay <= full


def test_delay_grows_with_each_attempt_below_the_cap() -> None:
    # Attempt n+1 never waits less than attempt n, whatever the jitter.
    for _ in range(SAMPLES):
        delays = [backoff_delay(attempt) for attempt in range(1, 7)]
        assert delays == sorted(delays)
        assert delays[-1] > delays[0]


def test_delay_grows_on_average() -> None:
    means = [sum(backoff_delay(a) for _ in range(SAMPLES)) / SAMPLES for a in range(1, 7)]
    for earlier, later in pairwise(means):
        assert later > 1.5 * earlier


@pytest.mark.parametrize("attempt", [7, 8, 20, 100, 1000])
def test_delay_is_capped(attempt: int) -> None:
    for _ in range(SAMPLES):
        delay = backoff_delay(attempt)
        assert 5.0 <= delay <= 10.0


def test_custom_base_and_cap() -> None:
    # The mailer's schedule: base 1 s, cap 5 min.
    for _ in range(SAMPLES):
        assert 0.5 <= backoff_delay(1, base=1.0, cap=300.0) <= 1.0
        assert 4.0 <= backoff_delay(4, base=1.0, cap=300.0) <= 8.0
        assert 150.0 <= backoff_delay(30, base=1.0, cap=300.0) <= 300.0


@pytest.mark.parametrize("attempt", [-3, 0, 1, 2, 5, 50, 1000])
def test_delay_is_always_positive(attempt: int) -> None:
    for _ in range(SAMPLES):
        assert backoff_delay(attempt) > 0


def test_delay_is_jittered() -> None:
    assert len({backoff_delay(3) for _ in range(SAMPLES)}) > 1


def test_transient_errors_cover_network_and_timeouts() -> None:
    assert is_transient(ConnectionRefusedError())
    assert is_transient(TimeoutError())
    assert not is_transient(ValueError())
    assert not is_transient(KeyError())


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.KafkaConnectionError("broker away"),
        kafka_errors.NotLeaderForPartitionError(),
        kafka_errors.RequestTimedOutError(),
        kafka_errors.KafkaTimeoutError(),  # not flagged retriable, yet a broker that is away
        kafka_errors.NodeNotReadyError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        OSError(errno.EHOSTUNREACH, "no route to host"),
        socket.gaierror(-3, "Temporary failure in name resolution"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_what_passes_by_itself_is_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.MessageSizeTooLargeError(),
        kafka_errors.RecordTooLargeError(),
        kafka_errors.TopicAuthorizationFailedError(),
        kafka_errors.UnknownTopicOrPartitionError(),  # flagged retriable by aiokafka
        kafka_errors.InvalidTopicError(),
        kafka_errors.UnsupportedVersionError(),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedTableError("relation does not exist"),
        asyncpg.exceptions.InsufficientPrivilegeError("permission denied"),
        FileNotFoundError(errno.ENOENT, "no such file"),
        PermissionError(errno.EACCES, "permission denied"),
        OSError(errno.EINVAL, "invalid argument"),
        ValueError("bad value"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_what_stays_as_it_is_is_permanent(error: BaseException) -> None:
    assert not is_transient(error)


def test_describe_names_the_error_and_its_message() -> None:
    assert describe(ValueError("bad value")) == "ValueError: bad value"
    assert describe(KeyError()) == "KeyError"
    # aiokafka's texts name their class already: not twice.
    assert describe(kafka_errors.MessageSizeTooLargeError()) == (
        "[Error 10] MessageSizeTooLargeError"
    )
