"""Mellomarbeid between samlinger, with the services as processes on the real stack.

Programme management sets the work after the first samling; every member of the admitted
kommunegrupper is told in their own language; Bergen's board reports it done while
Sogndal's has not; the region's status shows who is behind; the next samling's invitation
lists what is due.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from shared.testing.fixtures import ServiceProcesses, SinkClient, eventually
from tests.e2e.conftest import PROGRAMME

pytestmark = pytest.mark.e2e

OSLO = ZoneInfo("Europe/Oslo")
VESTLAND = {"Authorization": "Bearer local-board-vestland"}
AGDER = {"Authorization": "Bearer local-board-agder"}
OBSERVER = {"Authorization": "Bearer local-observer"}
ROUND = "2032"


def oslo(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=OSLO).isoformat()


def member(tag: str, municipality: str, role: str, name: str, language: str) -> dict[str, Any]:
    return {
        "name": f"{name} Testesen",
        "email": f"{name.lower()}-{tag}@{municipality}.example.no",
        "language": language,
        "role": role,
        "organisation": f"{role.title()} i {municipality}",
        "commits_to_gatherings": True,
    }


def admit(registration: str, tag: str) -> None:
    """Bergen (a member writing bokmål, one nynorsk) and Sogndal (English), admitted."""
    today = date.today()
    groups = {
        "4601": [
            member(tag, "bergen", "kulturskole", "Kari", "nb"),
            member(tag, "bergen", "grunnskole", "Ola", "nn"),
        ],
        "4640": [
            member(tag, "sogndal", "kulturskole", "Siv", "en"),
            member(tag, "sogndal", "barnehage", "Per", "nb"),
        ],
    }
    with httpx.Client(base_url=registration, timeout=30) as client:

        def ok(path: str, body: dict[str, Any], who: dict[str, str]) -> None:
            response = client.post(path, json=body, headers=who)
            assert response.status_code in (200, 201), f"{path}: {response.text}"

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
        for number, group in groups.items():
            ok(
                "/application-drafts",
                {
                    "round_id": ROUND,
                    "municipality_number": number,
                    "motivation": "Flere barn skal møte kunst og kultur i hverdagen.",
                    "development_areas": ["samskaping"],
                    "co_creation_plan": "Kulturskole, skole og barnehage sammen hver måned.",
                    "group": group,
                },
                VESTLAND,
            )
            ok(
                "/application-submissions",
                {"round_id": ROUND, "municipality_number": number},
                VESTLAND,
            )
            ok(
                "/decisions",
                {
                    "round_id": ROUND,
                    "municipality_number": number,
                    "decision": "admit",
                    "early_reason": "The test does not wait for the window to close",
                },
                PROGRAMME,
            )


async def test_interim_work_is_told_reported_shown_per_municipality_and_listed_as_due(
    services: ServiceProcesses, sink: SinkClient
) -> None:
    tag = uuid.uuid4().hex[:10]
    admit(services.url("registration"), tag)
    first = date.today() + timedelta(days=20)
    second = first + timedelta(days=35)
    async with httpx.AsyncClient(base_url=services.url("scheduling"), timeout=30) as client:

        async def schedule(day: date, title: str) -> str:
            response = await client.post(
                "/gatherings",
                json={
                    "round_id": ROUND,
                    "region": "vestland",
                    "kind": "samling",
                    "title": title,
                    "venue": {"name": "Grieghallen", "address": "Edvard Griegs plass 1"},
                    "starts_at": oslo(day, 10),
                    "ends_at": oslo(day, 16),
                },
                headers=PROGRAMME,
            )
            assert response.status_code == 201, response.text
            found: str = response.json()["result"]["gathering_id"]
            return found

        async def admitted_seen() -> bool:
            # Scheduling has both groups once the first samling invites all four members.
            found = await client.get(f"/rounds/{ROUND}/regions/vestland/calendar", headers=OBSERVER)
            if found.status_code != 200 or not found.json()["gatherings"]:
                return False
            gathering = found.json()["gatherings"][0]["gathering_id"]
            detail = (await client.get(f"/gatherings/{gathering}", headers=OBSERVER)).json()
            return len(detail["invitations"]) == 4

        first_id = await schedule(first, f"Samling 1 {tag}")
        await eventually(admitted_seen, timeout=60, what="both kommunegrupper invited")

        work = {
            "after_gathering_id": first_id,
            "title": f"Kartlegging {tag}",
            "description": "Kartlegg hvem kulturskolen samarbeider med i dag.",
            "due_on": (second - timedelta(days=7)).isoformat(),
        }
        refused = await client.post("/interim-work", json=work, headers=VESTLAND)
        assert refused.status_code == 403, refused.text  # programme management sets it
        too_early = {**work, "due_on": first.isoformat()}
        refused = await client.post("/interim-work", json=too_early, headers=PROGRAMME)
        assert refused.status_code == 422, refused.text
        response = await client.post("/interim-work", json=work, headers=PROGRAMME)
        assert response.status_code == 201, response.text
        set_ = response.json()["result"]
        work_id = set_["interim_work_id"]
        assert set_["municipality_numbers"] == ["4601", "4640"]
        assert "example.no" not in response.text  # ids and roles, no addresses

        # Every member told, in their own language.
        async def told() -> list[dict[str, Any]]:
            return [
                m
                for m in await sink.messages(containing=tag)
                if m["subject"].startswith(("Mellomarbeid", "Work between"))
            ]

        async def all_told() -> bool:
            return len(await told()) == 4

        await eventually(all_told, timeout=60, what="the kommunegrupper told of the work")
        by_address = {m["envelope_to"][0].split("-")[0]: m for m in await told()}
        assert "kommunegruppen for Bergen" in by_address["kari"]["text"]  # bokmål
        assert "kommunegruppa for Bergen" in by_address["ola"]["text"]  # nynorsk
        assert "kommunegruppe of Sogndal" in by_address["siv"]["text"]  # English
        assert f"Kartlegging {tag}" in by_address["per"]["text"]

        # Bergen's board reports; another county's board may not.
        report = {
            "interim_work_id": work_id,
            "region": "vestland",
            "municipality_number": "4601",
            "report": "Kartlagt sammen med skolene og barnehagene.",
        }
        refused = await client.post("/interim-work-reports", json=report, headers=AGDER)
        assert refused.status_code == 403, refused.text
        response = await client.post("/interim-work-reports", json=report, headers=VESTLAND)
        assert response.status_code == 200, response.text
        assert response.json()["result"]["late"] is False

        status = await client.get(
            f"/rounds/{ROUND}/regions/vestland/interim-work", headers=VESTLAND
        )
        assert status.status_code == 200, status.text
        (item,) = status.json()
        states = {m["municipality_number"]: m for m in item["municipalities"]}
        assert states["4601"]["status"] == "done"
        assert states["4601"]["report"] == report["report"]
        assert states["4640"]["status"] == "not_done"
        assert item["counts"] == {"done": 1, "not_done": 1, "overdue": 0}
        observed = await client.get(
            f"/rounds/{ROUND}/regions/vestland/interim-work", headers=OBSERVER
        )
        assert "report" not in observed.json()[0]["municipalities"][0]  # states, not reports

        # The next samling's invitations list what is due before it.
        await schedule(second, f"Samling 2 {tag}")

        async def invitations_to_second() -> list[dict[str, Any]]:
            return [m for m in await told_all() if f"Samling 2 {tag}" in m["subject"]]

        async def told_all() -> list[dict[str, Any]]:
            return await sink.messages(containing=tag)

        async def second_invited() -> bool:
            return len(await invitations_to_second()) == 4

        await eventually(second_invited, timeout=60, what="the invitations to the next samling")
        for mail in await invitations_to_second():
            assert f"Kartlegging {tag}" in mail["text"], mail["text"]
