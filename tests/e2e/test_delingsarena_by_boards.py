"""County boards help arrange delingsarenaer, as the invitation says: a board proposes one or
schedules one in its own region (not in another's), and programme management is told by mail.
The services run as processes on the real stack."""

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
ROGALAND = {"Authorization": "Bearer local-board-rogaland"}
MAILBOX = "post@kulturskoleradet.no"
ROUND = "2030"
PROBLEM = "application/problem+json"


def oslo(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=OSLO).isoformat()


async def to_mailbox(sink: SinkClient, token: str) -> list[dict[str, Any]]:
    return [m for m in await sink.messages(containing=token) if MAILBOX in m["envelope_to"]]


async def test_a_board_proposes_and_schedules_a_delingsarena_in_its_own_region(
    services: ServiceProcesses, sink: SinkClient
) -> None:
    token = uuid.uuid4().hex[:10]
    board = f"kari-{token}@example.no"
    day = date.today() + timedelta(days=50)
    venue = {"name": "Kulturhuset", "address": "Kanalveien 1, Knarvik"}

    async with httpx.AsyncClient(base_url=services.url("registration"), timeout=30) as reg:
        response = await reg.post(
            "/interest-registrations",
            json={
                "round_id": ROUND,
                "branch": "Vestland",
                "contact": {"name": "Kari Nordmann", "email": board},
            },
            headers=VESTLAND,
        )
        assert response.status_code == 201, response.text

    async with httpx.AsyncClient(base_url=services.url("scheduling"), timeout=30) as client:
        proposal = {
            "round_id": ROUND,
            "region": "vestland",
            "title": f"Delingsarena om medvirkning {token}",
            "description": "Kulturskolene i Nordhordland viser fram arbeidet sitt.",
            "wished_dates": [day.isoformat()],
            "venue": venue,
        }
        refused = await client.post(
            "/delingsarena-proposals", json={**proposal, "region": "rogaland"}, headers=VESTLAND
        )
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith(PROBLEM)
        response = await client.post("/delingsarena-proposals", json=proposal, headers=VESTLAND)
        assert response.status_code == 201, response.text
        proposal_id = response.json()["result"]["proposal_id"]

        listed = await client.get(f"/rounds/{ROUND}/delingsarena-proposals", headers=PROGRAMME)
        assert listed.status_code == 200, listed.text
        mine = next(p for p in listed.json() if str(p["id"]) == proposal_id)
        assert mine["proposed_by"] == "Styret i Vestland"
        assert mine["venue"]["name"] == "Kulturhuset"

        told = await eventually(
            lambda: to_mailbox(sink, token), timeout=60, what="the proposal told"
        )
        assert told[0]["subject"].startswith("Forslag om delingsarena: Vestland")
        assert "Kulturskolene i Nordhordland" in told[0]["text"]

        # Scheduled by the board itself: in its region, and only a delingsarena.
        arena = {
            "round_id": ROUND,
            "region": "vestland",
            "kind": "delingsarena",
            "title": f"Delingsarena i Knarvik {token}",
            "venue": venue,
            "starts_at": oslo(day, 10),
            "ends_at": oslo(day, 15),
        }
        elsewhere = await client.post(
            "/gatherings", json={**arena, "region": "rogaland"}, headers=VESTLAND
        )
        assert elsewhere.status_code == 403
        assert elsewhere.headers["content-type"].startswith(PROBLEM)
        assert "Rogaland" in elsewhere.json()["detail"]
        other_kind = await client.post(
            "/gatherings", json={**arena, "kind": "samling"}, headers=VESTLAND
        )
        assert other_kind.status_code == 403
        assert other_kind.headers["content-type"].startswith(PROBLEM)
        assert (await client.post("/gatherings", json=arena, headers=ROGALAND)).status_code == 403

        # The board takes up its own proposal.
        response = await client.post(
            "/gatherings", json={**arena, "proposal_id": proposal_id}, headers=VESTLAND
        )
        assert response.status_code == 201, response.text
        scheduled = response.json()["result"]
        assert scheduled["arranged_by_branch"] == "vestland"
        shown = await client.get(f"/gatherings/{scheduled['gathering_id']}", headers=PROGRAMME)
        assert shown.json()["arranged_by"] == "vestland"
        listed = await client.get(f"/rounds/{ROUND}/delingsarena-proposals", headers=PROGRAMME)
        mine = next(p for p in listed.json() if str(p["id"]) == proposal_id)
        assert str(mine["gathering_id"]) == scheduled["gathering_id"]
        twice = await client.post(
            "/gatherings",
            json={**arena, "proposal_id": proposal_id, "title": "Igjen"},
            headers=PROGRAMME,
        )
        assert twice.status_code == 409, twice.text

    # Programme management is told; the board gets its invitation as for any delingsarena.
    async def arranged() -> list[dict[str, Any]]:
        return [m for m in await to_mailbox(sink, token) if "satt opp av Vestland" in m["subject"]]

    told = await eventually(arranged, timeout=60, what="the arranged delingsarena told")
    assert f"Delingsarena i Knarvik {token}" in told[0]["text"]
    assert "Kulturhuset, Kanalveien 1, Knarvik" in told[0]["text"]

    async def invitation() -> list[dict[str, Any]]:
        found = await sink.messages(containing=board)
        return [m for m in found if f"Delingsarena i Knarvik {token}" in m["text"]]

    await eventually(invitation, timeout=60, what="the board's invitation")
