"""From admission to invitation, with the services as processes on the real stack.

Registration admits Bergen over its HTTP API while the scheduling service has never run.
Then scheduling starts for the first time: its consumer group reads registration's history
from the beginning, so the samling scheduled now invites Bergen's kommunegruppe, and the
municipality's calendar feed has the gathering.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar

from shared.runtime.catalog import Catalog
from shared.testing.fixtures import (
    Endpoints,
    ServiceProcesses,
    TestDatabase,
    eventually,
)
from tests.e2e.conftest import PROGRAMME, prepare, round_known

pytestmark = pytest.mark.e2e

OSLO = ZoneInfo("Europe/Oslo")
VESTLAND = {"Authorization": "Bearer local-board-vestland"}
OBSERVER = {"Authorization": "Bearer local-observer"}
ROUND = "2030"


@pytest.fixture
def procs(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    logs_dir: Path,
    catalog: Catalog,
) -> Iterator[ServiceProcesses]:
    started = ServiceProcesses(endpoints, database, topic_prefix, logs_dir, catalog)
    try:
        yield started
    finally:
        started.stop_all()


def member(role: str, name: str) -> dict[str, Any]:
    return {
        "name": f"{name} Testesen",
        "email": f"{name.lower()}@bergen.example.no",
        "role": role,
        "organisation": f"{role.title()} i Bergen",
        "commits_to_gatherings": True,
    }


def admit_bergen(registration: str) -> dict[str, Any]:
    """As the Vestland board and programme management would, over registration's API."""
    today = date.today()
    with httpx.Client(base_url=registration, timeout=30) as client:

        def ok(path: str, body: dict[str, Any], who: dict[str, str]) -> dict[str, Any]:
            response = client.post(path, json=body, headers=who)
            assert response.status_code in (200, 201), f"{path}: {response.text}"
            result: dict[str, Any] = response.json()["result"]
            return result

        ok(
            "/application-windows",
            {
                "round_id": ROUND,
                "county_number": "46",
                "opens_on": today.isoformat(),
                "deadline": (today + timedelta(days=30)).isoformat(),
            },
            PROGRAMME,
        )
        ok(
            "/application-drafts",
            {
                "round_id": ROUND,
                "municipality_number": "4601",
                "motivation": "Flere barn skal møte kunst og kultur i hverdagen.",
                "development_areas": ["samskaping"],
                "co_creation_plan": "Kulturskole, skole og barnehage sammen hver måned.",
                "group": [member("kulturskole", "Kari"), member("grunnskole", "Ola")],
            },
            VESTLAND,
        )
        ok("/application-submissions", {"round_id": ROUND, "municipality_number": "4601"}, VESTLAND)
        return ok(
            "/decisions",
            {
                "round_id": ROUND,
                "municipality_number": "4601",
                "decision": "admit",
                "early_reason": "The test does not wait for the window to close",
            },
            PROGRAMME,
        )


def oslo(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=OSLO).isoformat()


async def test_an_admission_before_scheduling_first_starts_ends_as_invitations(
    procs: ServiceProcesses,
) -> None:
    procs.start("registration")
    prepare(procs.url("registration"))
    admitted = admit_bergen(procs.url("registration"))
    people = {m["person_id"] for m in admitted["group"]}
    assert len(people) == 2

    procs.start("scheduling")  # its first start, after the admission
    await round_known(procs.url("scheduling"), ROUND)
    day = date.today() + timedelta(days=60)
    async with httpx.AsyncClient(base_url=procs.url("scheduling"), timeout=30) as client:
        response = await client.post(
            "/gatherings",
            json={
                "round_id": ROUND,
                "region": "vestland",
                "kind": "samling",
                "title": "Samling 1",
                "venue": {"name": "Grieghallen", "address": "Edvard Griegs plass 1, Bergen"},
                "starts_at": oslo(day, 10),
                "ends_at": oslo(day, 16),
                "capacity": 40,
            },
            headers=PROGRAMME,
        )
        assert response.status_code == 201, response.text
        gathering_id = response.json()["result"]["gathering_id"]

        async def invited() -> bool:
            found = await client.get(f"/gatherings/{gathering_id}", headers=OBSERVER)
            assert found.status_code == 200, found.text
            return {i["person_id"] for i in found.json()["invitations"]} == people

        await eventually(invited, timeout=60, what="Bergen's kommunegruppe invited")

        feed = await client.get(
            "/feeds/municipalities/4601.ics", params={"token": "local-observer"}
        )
        assert feed.status_code == 200
        events = Calendar.from_ical(feed.content).walk("VEVENT")
        assert [str(e["uid"]) for e in events] == [f"{gathering_id}@kulturskoleradet.no"]
        assert events[0].decoded("dtstart") == datetime.combine(day, time(10), tzinfo=OSLO)

        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        metrics = await client.get("/metrics")
        assert 'ks_messages_total{outcome="handled",service="scheduling"' in metrics.text
