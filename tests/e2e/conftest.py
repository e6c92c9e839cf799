from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.registration.domain.reference import ReferenceData
from shared.runtime.catalog import Catalog
from shared.testing.fixtures import Endpoints, ServiceProcesses, TestDatabase, eventually

PROGRAMME = {"Authorization": "Bearer local-programme"}
ROUNDS = [str(year) for year in range(2030, 2050)]  # interest deadlines: 15 September before


@pytest.fixture
def services(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    logs_dir: Path,
    catalog: Catalog,
) -> Iterator[ServiceProcesses]:
    """All the services as processes, on this test's own topics and database."""
    procs = ServiceProcesses(endpoints, database, topic_prefix, logs_dir, catalog)
    try:
        procs.start()
        prepare_platform(procs)
        yield procs
    finally:
        # Also when one failed to start: the others would outlive the test and, still
        # subscribed, keep its topics and database in use after they are removed.
        procs.stop_all()


async def round_known(scheduling: str, round_id: str) -> None:
    """Until scheduling has read the round's opening from registration's events."""

    async def known() -> bool:
        async with httpx.AsyncClient(base_url=scheduling, timeout=30) as client:
            found = await client.get(f"/rounds/{round_id}", headers=PROGRAMME)
            return found.status_code == 200

    await eventually(known, timeout=90, what=f"scheduling knows round {round_id}")


async def rounds_known_to_notification(dsn: str) -> None:
    """Until notification has read every round's opening. A board whose contact it learns
    of before that would also get the letter of each round it reads later, and a test
    counting one board's mails would find more than its own."""

    async def known() -> bool:
        conn = await asyncpg.connect(dsn)
        try:
            found = await conn.fetchval(
                "SELECT count(*) FROM deadlines WHERE kind = 'interest' AND round_id = ANY($1)",
                ROUNDS,
            )
        finally:
            await conn.close()
        return bool(found == len(ROUNDS))

    await eventually(known, timeout=90, what="notification knows every round's opening")


def prepare_platform(procs: ServiceProcesses) -> None:
    """`prepare`, and then, when notification runs, until it has read every round's opening
    (from a fixture; a test on an event loop awaits `rounds_known_to_notification` itself)."""
    prepare(procs.url("registration"))
    if procs.running("notification"):
        asyncio.run(rounds_known_to_notification(procs.database.dsns["notification"]))


def prepare(registration: str) -> None:
    """As programme management would: the membership list in, the rounds open."""
    numbers = sorted(ReferenceData.load().municipalities)
    with httpx.Client(base_url=registration, headers=PROGRAMME, timeout=30) as client:
        response = client.post("/members", json={"municipality_numbers": numbers})
        assert response.status_code == 200, response.text
        for round_id in ROUNDS:
            response = client.post("/rounds", json={"round_id": round_id})
            assert response.status_code == 201, response.text
