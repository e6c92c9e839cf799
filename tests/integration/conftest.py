"""Fixtures of the integration tier, on top of tests/conftest.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from shared.messaging.outbox import kafka_producer
from shared.testing.fixtures import Endpoints, TestDatabase
from tests.integration.support import REGISTRATION_MIGRATIONS, migrated_pool


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def registration_pool(database: TestDatabase) -> AsyncIterator[asyncpg.Pool]:
    """A pool as the registration role on its migrated schema."""
    pool = await migrated_pool(
        database.dsns["registration"], "registration", REGISTRATION_MIGRATIONS
    )
    yield pool
    await pool.close()


@pytest.fixture
async def producer(endpoints: Endpoints) -> AsyncIterator[AIOKafkaProducer]:
    started = kafka_producer(endpoints.kafka_bootstrap)
    await started.start()
    yield started
    await started.stop()
