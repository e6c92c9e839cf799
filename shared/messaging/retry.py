"""Which failures are worth another try, and how long to wait before it.

An error is classified by what it is, not by its base class: a refused connection or a
serialization conflict passes; a message too large for the broker, a topic nobody may write
to or a missing file stays as it is however often it is tried. `is_transient` says which;
callers retry the first with backoff and dead-letter, park or fail the second with a reason.
"""

from __future__ import annotations

import errno
import random
import socket

import asyncpg
from aiokafka import errors as kafka_errors

# Network conditions that end by themselves (a peer restarting, a route coming back).
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
        errno.EADDRNOTAVAIL,
        errno.EAGAIN,
    }
)

_TRANSIENT_POSTGRES: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,  # starting up, shutting down, in recovery
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.QueryCanceledError,  # statement timeout: the load may pass
    asyncpg.exceptions.InsufficientResourcesError,  # disk full, out of memory
)

# Kafka errors whose `retriable` flag is true but which do not pass on their own here: a topic
# that does not exist is not created by waiting (our topics are created before use).
_PERMANENT_KAFKA: tuple[type[BaseException], ...] = (
    kafka_errors.UnknownTopicOrPartitionError,
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.ClusterAuthorizationFailedError,
    kafka_errors.GroupAuthorizationFailedError,
    kafka_errors.TransactionalIdAuthorizationFailed,
    kafka_errors.InvalidTopicError,
    kafka_errors.CorruptRecordException,
    kafka_errors.UnsupportedVersionError,
)

# Not flagged retriable by aiokafka, yet what a broker that is away or restarting looks like:
# a request that timed out, no broker answering, a producer closed under a reconnect.
_TRANSIENT_KAFKA: tuple[type[BaseException], ...] = (
    kafka_errors.KafkaTimeoutError,
    kafka_errors.KafkaUnavailableError,
    kafka_errors.BrokerNotAvailableError,
    kafka_errors.ReplicaNotAvailableError,
    kafka_errors.RebalanceInProgressError,
    kafka_errors.ProducerClosed,
)


def is_transient(error: BaseException) -> bool:
    """True when the same operation may well succeed later without anyone changing anything."""
    if isinstance(error, kafka_errors.KafkaError):
        if isinstance(error, _PERMANENT_KAFKA):
            return False
        return bool(error.retriable) or isinstance(error, _TRANSIENT_KAFKA)
    if isinstance(error, asyncpg.exceptions.InterfaceError):
        # "connection is closed", "pool is closing": the connection went, not the statement.
        return isinstance(error, asyncpg.exceptions.ConnectionDoesNotExistError) or (
            "closed" in str(error) or "connection" in str(error)
        )
    if isinstance(error, _TRANSIENT_POSTGRES):
        return True
    if isinstance(error, TimeoutError | ConnectionError | socket.gaierror):
        return True
    if isinstance(error, OSError):
        # FileNotFoundError, PermissionError and their kind stay as they are.
        return error.errno in _TRANSIENT_ERRNOS
    return False


def describe(error: BaseException) -> str:
    """A short, stable text of an error for reasons and logs: its class and message."""
    text = str(error).strip()
    name = type(error).__name__
    if not text:
        return name
    return text if name in text else f"{name}: {text}"


def backoff_delay(attempt: int, *, base: float = 0.2, cap: float = 10.0) -> float:
    """Seconds to wait before retry number `attempt` (1-based)."""
    # The exponent is capped too: 2**1024 does not fit a float, and retries may go on for days.
    return min(cap, base * 2.0 ** min(attempt - 1, 64)) * (0.5 + random.random() / 2)
