"""Fixtures shared by the integration and end-to-end tiers (unit tests need none)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.kafka_admin import ensure_topics
from shared.testing.fixtures import (
    Endpoints,
    SinkClient,
    TestDatabase,
    create_test_database,
    start_endpoints,
)
from shared.topics import all_topic_specs


@pytest.fixture(scope="session")
def endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    found = start_endpoints(tmp_path_factory.mktemp("endpoints"))
    yield found
    found.close()


@pytest.fixture
async def database(endpoints: Endpoints) -> TestDatabase:
    return await create_test_database(endpoints)


@pytest.fixture
async def topic_prefix(endpoints: Endpoints) -> AsyncIterator[str]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    await ensure_topics(endpoints.kafka_bootstrap, all_topic_specs(prefix))
    yield prefix


@pytest.fixture
def sink(endpoints: Endpoints) -> SinkClient:
    return SinkClient(endpoints.smtp_web)


@pytest.fixture
def logs_dir(tmp_path: Path) -> Path:
    return tmp_path
