"""Fixtures shared by the integration and end-to-end tiers (unit tests need none).

Each test gets topics under a prefix of its own and a database of its own; both are removed
after the test, so a developer's broker and cluster do not fill up with test leftovers.
`KS_TEST_KEEP=1` keeps them, to look at what a failing test left behind.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.catalog import SERVICES
from shared.messaging.kafka_admin import delete_topics_with_prefix, ensure_topics
from shared.runtime.catalog import Catalog, names, topic_specs
from shared.testing.fixtures import (
    Endpoints,
    SinkClient,
    TestDatabase,
    create_test_database,
    drop_test_database,
    keep_test_state,
    start_endpoints,
)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The platform's services, as the local stack runs them."""
    return SERVICES


@pytest.fixture(scope="session")
def endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    found = start_endpoints(tmp_path_factory.mktemp("endpoints"))
    yield found
    found.close()


@pytest.fixture
async def database(endpoints: Endpoints, catalog: Catalog) -> AsyncIterator[TestDatabase]:
    created = await create_test_database(endpoints, names(catalog))
    yield created
    if not keep_test_state():
        await drop_test_database(endpoints, created)


@pytest.fixture
async def topic_prefix(endpoints: Endpoints, catalog: Catalog) -> AsyncIterator[str]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    await ensure_topics(endpoints.kafka_bootstrap, topic_specs(catalog, prefix))
    yield prefix
    if not keep_test_state():
        # By prefix, not by spec: DLQs and topics a test made on the side go too.
        await delete_topics_with_prefix(endpoints.kafka_bootstrap, prefix)


@pytest.fixture
def sink(endpoints: Endpoints) -> SinkClient:
    return SinkClient(endpoints.smtp_web)


@pytest.fixture
def logs_dir(tmp_path: Path) -> Path:
    return tmp_path
