"""A withdrawal takes the calendar with it, with the services as processes on the real stack.

Bergen and Voss are admitted; programme management schedules a samling and a delingsarena,
books veiledning for Bergen and holds a dialogmøte that names Bergen. A member who leaves
Bergen's kommunegruppe, and then the rest of the group when Bergen withdraws, each get one
iCalendar CANCEL per gathering (its stable UID, a SEQUENCE above the one they were sent);
the veiledning is released, its supervisor told, and free for Voss at the same time.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar

from shared.testing.fixtures import ServiceProcesses, SinkClient, eventually
from tests.e2e.conftest import PROGRAMME, round_known

pytestmark = pytest.mark.e2e

OSLO = ZoneInfo("Europe/Oslo")
VESTLAND = {"Authorization": "Bearer local-board-vestland"}
ROUND = "2031"
UID = "{}@kulturskoleradet.no"


def oslo(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=OSLO).isoformat()


def calendars(mail: dict[str, Any]) -> list[Any]:
    """(METHOD, UID, SEQUENCE) of each calendar attachment of a mail."""
    found = []
    for part in mail["parts"]:
        if part["content_type"] == "text/calendar" and part["filename"]:
            cal = Calendar.from_ical(part["content"])
            for event in cal.walk("VEVENT"):
                found.append((str(cal["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])))
    return found


async def entries(sink: SinkClient, address: str) -> list[tuple[str, str, int]]:
    mails = [m for m in await sink.messages(containing=address) if address in m["envelope_to"]]
    return [entry for m in mails for entry in calendars(m)]


async def test_withdrawn_invitations_are_cancelled_in_each_calendar_and_veiledning_released(
    services: ServiceProcesses, sink: SinkClient
) -> None:
    t = uuid.uuid4().hex[:8]
    address = {who: f"{who}-{t}@example.no" for who in ("kari", "ola", "berit", "veileder")}
    voss = {who: f"{who}-{t}@voss.example.no" for who in ("siri", "per")}
    today = date.today()
    async with httpx.AsyncClient(base_url=services.url("registration"), timeout=30) as client:

        async def ok(path: str, body: dict[str, Any], who: dict[str, str]) -> dict[str, Any]:
            response = await client.post(path, json=body, headers=who)
            assert response.status_code in (200, 201), f"{path}: {response.text}"
            result: dict[str, Any] = response.json()["result"]
            return result

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

        def member(role: str, email: str) -> dict[str, Any]:
            return {
                "name": email.split("@")[0],
                "email": email,
                "language": "nb",
                "role": role,
                "organisation": role.title(),
                "commits_to_gatherings": True,
            }

        groups = {
            "4601": [
                member("kulturskole", address["kari"]),
                member("grunnskole", address["ola"]),
                member("barnehage", address["berit"]),
            ],
            "4621": [member("kulturskole", voss["siri"]), member("grunnskole", voss["per"])],
        }
        admitted = {}
        for number, group in groups.items():
            await ok(
                "/application-drafts",
                {
                    "round_id": ROUND,
                    "municipality_number": number,
                    "motivation": "Flere barn skal møte kunst og kultur.",
                    "development_areas": ["samskaping"],
                    "co_creation_plan": "Sammen hver måned.",
                    "group": group,
                },
                VESTLAND,
            )
            await ok(
                "/application-submissions",
                {"round_id": ROUND, "municipality_number": number},
                VESTLAND,
            )
            admitted[number] = await ok(
                "/decisions",
                {
                    "round_id": ROUND,
                    "municipality_number": number,
                    "decision": "admit",
                    "early_reason": "The test does not wait for the window to close",
                },
                PROGRAMME,
            )
    [berit] = [m["person_id"] for m in admitted["4601"]["group"] if m["role"] == "barnehage"]

    async with httpx.AsyncClient(base_url=services.url("notification"), timeout=30) as client:
        response = await client.put(
            "/supervisors/veileder-1",
            json={"name": "Vera Veileder", "email": address["veileder"], "language": "nb"},
            headers=PROGRAMME,
        )
        assert response.status_code == 200, response.text

    day = today + timedelta(days=40)
    await round_known(services.url("scheduling"), ROUND)
    async with httpx.AsyncClient(base_url=services.url("scheduling"), timeout=30) as client:

        async def post(path: str, body: dict[str, Any], who: dict[str, str] = PROGRAMME) -> Any:
            response = await client.post(path, json=body, headers=who)
            assert response.status_code in (200, 201), f"{path}: {response.text}"
            return response.json()["result"]

        venue = {"name": "Grieghallen", "address": "Edvard Griegs plass 1, Bergen"}
        gatherings = {}
        for n, kind in enumerate(("samling", "delingsarena")):
            scheduled = await post(
                "/gatherings",
                {
                    "round_id": ROUND,
                    "region": "vestland",
                    "kind": kind,
                    "title": f"{kind.title()} {t}",
                    "venue": venue,
                    "starts_at": oslo(day + timedelta(days=n), 10),
                    "ends_at": oslo(day + timedelta(days=n), 16),
                },
            )
            gatherings[kind] = scheduled["gathering_id"]
        supervision = {
            "round_id": ROUND,
            "supervisor_id": "veileder-1",
            "title": f"Veiledning {t}",
            "venue": venue,
            "starts_at": oslo(day + timedelta(days=2), 10),
            "ends_at": oslo(day + timedelta(days=2), 12),
        }
        booked = await post("/supervisions", {**supervision, "municipality_number": "4601"})
        gatherings["veiledning"] = booked["gathering_id"]
        requested = await post(
            "/dialogue-requests",
            {"round_id": ROUND, "region": "vestland", "topic": "Samskaping"},
            VESTLAND,
        )
        meeting = await post(
            "/dialogue-meetings",
            {
                "request_id": requested["request_id"],
                "title": f"Dialogmøte {t}",
                "venue": venue,
                "starts_at": oslo(day + timedelta(days=3), 10),
                "ends_at": oslo(day + timedelta(days=3), 12),
                "also_invite": ["4601"],
            },
        )
        gatherings["dialogmote"] = meeting["gathering_id"]
        uids = {UID.format(g) for g in gatherings.values()}

        async def invited(who: str) -> list[tuple[str, str, int]] | None:
            found = await entries(sink, who)
            return found if {u for m, u, _ in found if m == "REQUEST"} == uids else None

        for who in ("kari", "ola", "berit"):
            await eventually(
                lambda who=who: invited(address[who]), timeout=90, what=f"{who} invited"
            )

        # Berit leaves the kommunegruppe: one CANCEL per gathering, to her alone.
        async with httpx.AsyncClient(base_url=services.url("registration"), timeout=30) as reg:
            response = await reg.post(
                "/group-member-removals",
                json={"round_id": ROUND, "municipality_number": "4601", "person_id": berit},
                headers=VESTLAND,
            )
            assert response.status_code == 200, response.text

        async def cancelled(who: str, n: int) -> dict[str, int] | None:
            found = await entries(sink, who)
            sent = {u: s for m, u, s in found if m == "REQUEST"}
            cancels = [(u, s) for m, u, s in found if m == "CANCEL"]
            assert len(cancels) <= n, cancels
            if len(cancels) < n:
                return None
            assert len({u for u, _ in cancels}) == n  # one per gathering
            assert {u for u, _ in cancels} == uids
            for uid, sequence in cancels:
                assert sequence > sent[uid], (uid, sequence, sent[uid])
            return dict(cancels)

        await eventually(
            lambda: cancelled(address["berit"], 4), timeout=90, what="Berit's four cancellations"
        )
        assert not [m for m, _, _ in await entries(sink, address["kari"]) if m == "CANCEL"]

        # Bergen withdraws: the rest of its group's calendar goes, and the supervisor is told.
        async with httpx.AsyncClient(base_url=services.url("registration"), timeout=30) as reg:
            response = await reg.post(
                "/withdrawals",
                json={"round_id": ROUND, "municipality_number": "4601", "reason": "Budsjett"},
                headers=VESTLAND,
            )
            assert response.status_code == 200, response.text
        for who in ("kari", "ola"):
            await eventually(
                lambda who=who: cancelled(address[who], 4),
                timeout=90,
                what=f"{who}'s cancellations",
            )

        async def supervisor_told() -> list[tuple[str, str, int]] | None:
            found = await entries(sink, address["veileder"])
            return found if any(m == "CANCEL" for m, _, _ in found) else None

        told: list[tuple[str, str, int]] = await eventually(
            supervisor_told, timeout=90, what="the supervisor told"
        )
        veiledning = UID.format(gatherings["veiledning"])
        assert [(m, u) for m, u, _ in told] == [("REQUEST", veiledning), ("CANCEL", veiledning)]
        assert told[1][2] > told[0][2]
        [mail] = [
            m
            for m in await sink.messages(containing=address["veileder"])
            if "Avlyst" in m["subject"]
        ]
        assert "Bergen kommune er ikke lenger med" in mail["text"]

        found = await client.get(f"/gatherings/{gatherings['veiledning']}", headers=PROGRAMME)
        assert found.json()["status"] == "cancelled"
        # The supervisor is free again: the same hours go to Voss.
        await post("/supervisions", {**supervision, "municipality_number": "4621"})
        # Voss's group keeps its samling and delingsarena: nothing cancelled for them.
        assert not [m for m, _, _ in await entries(sink, voss["siri"]) if m == "CANCEL"]
