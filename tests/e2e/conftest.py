from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.testing.fixtures import Endpoints, ServiceProcesses, TestDatabase


@pytest.fixture
def services(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str, logs_dir: Path
) -> Iterator[ServiceProcesses]:
    """All three services as processes, on this test's own topics and database."""
    procs = ServiceProcesses(endpoints, database, topic_prefix, logs_dir)
    procs.start()
    yield procs
    procs.stop_all()
