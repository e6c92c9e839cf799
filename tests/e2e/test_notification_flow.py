"""Everyone told, in their language, with the services as processes on the real stack.

A county board registers interest and applies for Bergen over registration's API, programme
management admits Bergen and schedules, moves and cancels a samling over scheduling's API.
The mails are read from an SMTP sink process of this test's own: the board's and the
kommunegruppe's mails in bokmål and nynorsk, and one calendar entry per gathering that is
invited, updated (SEQUENCE raised) and cancelled under the same UID.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from shared.runtime.catalog import Catalog
from shared.testing.fixtures import Endpoints, ServiceProcesses, TestDatabase, eventually
from tests.e2e.conftest import PROGRAMME, prepare_platform, round_known
from tests.integration.test_notification_mail import SinkProcess, calendar_of, vevent

pytestmark = pytest.mark.e2e

OSLO = ZoneInfo("Europe/Oslo")
VESTLAND = {"Authorization": "Bearer local-board-vestland"}
ROUND = "2030"
DASH = "\u2013"


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SinkProcess]:
    found = SinkProcess(tmp_path / "mail")
    found.start()
    yield found
    found.stop()


@pytest.fixture
def procs(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    logs_dir: Path,
    catalog: Catalog,
    sink: SinkProcess,
) -> Iterator[ServiceProcesses]:
    own = dataclasses.replace(endpoints, smtp_port=sink.smtp_port, smtp_web=sink.web, _cleanup=[])
    started = ServiceProcesses(own, database, topic_prefix, logs_dir, catalog)
    try:
        started.start()
        prepare_platform(started)
        yield started
    finally:
        started.stop_all()


async def mails_to(sink: SinkProcess, address: str, n: int) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        found = [m for m in await sink.messages() if address in m["envelope_to"]]
        assert len(found) <= n, [m["subject"] for m in found]
        return found if len(found) == n else None

    found: list[dict[str, Any]] = await eventually(
        check, timeout=90, what=f"{n} mails to {address}"
    )
    return found


def oslo(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=OSLO).isoformat()


async def test_board_and_kommunegruppe_are_told_everything_once_with_one_calendar_entry(
    procs: ServiceProcesses, sink: SinkProcess
) -> None:
    t = uuid.uuid4().hex[:8]
    board, rektor, laerer = (f"{who}-{t}@example.no" for who in ("styret", "rektor", "laerer"))
    today = date.today()
    async with httpx.AsyncClient(base_url=procs.url("registration"), timeout=30) as client:

        async def ok(path: str, body: dict[str, Any], who: dict[str, str]) -> dict[str, Any]:
            response = await client.post(path, json=body, headers=who)
            assert response.status_code in (200, 201), f"{path}: {response.text}"
            result: dict[str, Any] = response.json()["result"]
            return result

        await ok(
            "/interest-registrations",
            {
                "round_id": ROUND,
                "branch": "Vestland",
                "municipality_numbers": ["4601"],
                "contact": {"name": f"Styret {t}", "email": board, "language": "nb"},
                "message": "",
            },
            PROGRAMME,
        )
        # Weeks pass in a real round between a board's interest and its municipality's
        # application. Here they follow within a second, on different partitions: wait until
        # notification has read the interest (its receipt is planned in the same transaction),
        # or the application's event may be read first and find no board to copy.
        await mails_to(sink, board, 1)
        await ok(
            "/application-windows",
            {
                "round_id": ROUND,
                "county_number": "46",
                "opens_on": today.isoformat(),
                "deadline": (today + timedelta(days=30)).isoformat(),
            },
            PROGRAMME,
        )

        def member(role: str, name: str, email: str, language: str) -> dict[str, Any]:
            return {
                "name": name,
                "email": email,
                "language": language,
                "role": role,
                "organisation": f"{role.title()} i Bergen",
                "commits_to_gatherings": True,
            }

        await ok(
            "/application-drafts",
            {
                "round_id": ROUND,
                "municipality_number": "4601",
                "motivation": "Flere barn skal møte kunst og kultur.",
                "development_areas": ["samskaping"],
                "co_creation_plan": "Sammen hver måned.",
                "group": [
                    member("kulturskole", f"Rektor {t}", rektor, "nn"),
                    member("grunnskole", f"Lærer {t}", laerer, "nb"),
                ],
            },
            VESTLAND,
        )
        await ok(
            "/application-submissions", {"round_id": ROUND, "municipality_number": "4601"}, VESTLAND
        )
        await ok(
            "/decisions",
            {
                "round_id": ROUND,
                "municipality_number": "4601",
                "decision": "admit",
                "early_reason": "The test does not wait for the window to close",
            },
            PROGRAMME,
        )

    # The board: receipt, window opened, application received, admitted. The commands above
    # follow each other within a second, and their mails go out over several SMTP connections
    # at once, so they may arrive in any order (as they may over any mail route).
    board_mails = await mails_to(sink, board, 4)
    subjects = [m["subject"] for m in board_mails]
    assert f"Kvittering: interesse for Fremtidens kulturskole {DASH} Vestland" in subjects
    assert any(s.startswith("Søknadsfrist for kommunene i Vestland") for s in subjects)
    assert "Søknaden fra Bergen er mottatt" in subjects
    assert "Bergen er tatt opp i Fremtidens kulturskole" in subjects
    # The kulturskole speaks for the municipality (nynorsk); the whole group hears the decision.
    rektor_mails = await mails_to(sink, rektor, 2)
    assert sorted(m["subject"] for m in rektor_mails) == [
        "Bergen er teken opp i Fremtidens kulturskole",
        "Søknaden frå Bergen er motteken",
    ]
    assert all(m["headers"]["Content-Language"] == "nn" for m in rektor_mails)
    [admitted] = await mails_to(sink, laerer, 1)
    assert admitted["subject"] == "Bergen er tatt opp i Fremtidens kulturskole"

    day = today + timedelta(days=60)
    await round_known(procs.url("scheduling"), ROUND)
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
            },
            headers=PROGRAMME,
        )
        assert response.status_code == 201, response.text
        gathering_id = response.json()["result"]["gathering_id"]
        invited = (await mails_to(sink, laerer, 2))[-1]
        assert invited["subject"].startswith("Invitasjon: Samling 1")
        event = vevent(calendar_of(invited))
        uid = f"{gathering_id}@kulturskoleradet.no"
        assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, 0)
        assert event.decoded("DTSTART") == datetime.combine(day, time(10), tzinfo=OSLO)

        moved = day + timedelta(days=1)
        response = await client.post(
            "/reschedulings",
            json={
                "gathering_id": gathering_id,
                "starts_at": oslo(moved, 12),
                "ends_at": oslo(moved, 18),
                "reason": "Salen er opptatt.",
            },
            headers=PROGRAMME,
        )
        assert response.status_code == 200, response.text
        changed = (await mails_to(sink, laerer, 3))[-1]
        assert changed["subject"].startswith("Endret: Samling 1")
        event = vevent(calendar_of(changed))
        assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, 1)
        assert event.decoded("DTSTART") == datetime.combine(moved, time(12), tzinfo=OSLO)

        response = await client.post(
            "/cancellations",
            json={"gathering_id": gathering_id, "reason": "Avlyst."},
            headers=PROGRAMME,
        )
        assert response.status_code == 200, response.text
        cancelled = (await mails_to(sink, laerer, 4))[-1]
        cal = calendar_of(cancelled)
        event = vevent(cal)
        assert (str(cal["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])) == ("CANCEL", uid, 2)
    # The rektor got the same three, in nynorsk.
    rektor_mails = await mails_to(sink, rektor, 5)
    assert [m["subject"].split(":")[0] for m in rektor_mails[2:]] == [
        "Invitasjon",
        "Endra",
        "Avlyst",
    ]
