"""Backoff for transient failures: exponential, capped, with jitter."""

from __future__ import annotations

import random

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError

# Failures that say "try again later", not "this message is bad".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    ConnectionError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.AdminShutdownError,
    KafkaConnectionError,
    KafkaError,
)


def backoff_delay(attempt: int, *, base: float = 0.2, cap: float = 10.0) -> float:
    """Seconds to wait before retry number `attempt` (1-based)."""
    # The exponent is capped too: 2**1024 does not fit a float, and retries may go on for days.
    return min(cap, base * 2.0 ** min(attempt - 1, 64)) * (0.5 + random.random() / 2)
