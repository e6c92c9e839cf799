"""Dialogmøter both ways, with the services as processes on the real stack.

A county board asks for one: programme management is told by mail and lists the requests.
Programme management answers it, and also proposes one itself without a request; both may
invite other actors by name and address. Those names and addresses reach the guests' mail
through scheduling's restricted contacts topic, never through a public topic."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared.contracts.events.scheduling import guest_contacts_topic
from shared.contracts.topics import events_topic
from shared.testing.fixtures import (
    Endpoints,
    ServiceProcesses,
    SinkClient,
    TestDatabase,
    eventually,
)
from tests.e2e.conftest import PROGRAMME
from tests.personal_data import connect_as_superuser, where_found

pytestmark = pytest.mark.e2e

OSLO = ZoneInfo("Europe/Oslo")
VESTLAND = {"Authorization": "Bearer local-board-vestland"}
ROGALAND = {"Authorization": "Bearer local-board-rogaland"}
MAILBOX = "post@kulturskoleradet.no"
ROUND = "2030"


def oslo(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=OSLO).isoformat()


async def everything_on(bootstrap: str, topic: str) -> list[Any]:
    """Every record on the topic now, from its first offset to its end."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    try:

        async def read() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
            assigned = list(consumer.assignment())
            if not assigned:
                return False
            ends = await consumer.end_offsets(assigned)
            positions = {p: await consumer.position(p) for p in assigned}
            return all(positions[p] >= ends[p] for p in assigned)

        await eventually(read, what=f"the whole of {topic}")
        return records
    finally:
        await consumer.stop()


async def mails_to(sink: SinkClient, address: str, containing: str) -> list[dict[str, Any]]:
    return [m for m in await sink.messages(containing=containing) if address in m["envelope_to"]]


@pytest.fixture
async def db(endpoints: Endpoints, database: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """The test database as the superuser, who sees every schema."""
    conn = await connect_as_superuser(endpoints.pg_superuser_dsn, database.name)
    yield conn
    await conn.close()


async def test_dialogue_meetings_both_ways_with_other_actors(
    services: ServiceProcesses,
    sink: SinkClient,
    endpoints: Endpoints,
    topic_prefix: str,
    db: asyncpg.Connection,
) -> None:
    token = uuid.uuid4().hex[:10]
    board = f"kari-{token}@example.no"
    guro = f"guro-{token}@example.no"
    per = f"per-{token}@example.no"
    day = date.today() + timedelta(days=40)
    venue = {"name": "Fylkeshuset", "address": "Agnes Mowinckels gate 5, Bergen"}

    async with httpx.AsyncClient(base_url=services.url("registration"), timeout=30) as reg:
        response = await reg.post(
            "/interest-registrations",
            json={
                "round_id": ROUND,
                "branch": "Vestland",
                "municipality_numbers": ["4601"],
                "contact": {"name": "Kari Nordmann", "email": board},
            },
            headers=VESTLAND,
        )
        assert response.status_code == 201, response.text

    async with httpx.AsyncClient(base_url=services.url("scheduling"), timeout=30) as client:
        # A board asks in its own region only.
        refused = await client.post(
            "/dialogue-requests",
            json={"round_id": ROUND, "region": "vestland", "topic": "Samarbeid"},
            headers=ROGALAND,
        )
        assert refused.status_code == 403
        response = await client.post(
            "/dialogue-requests",
            json={
                "round_id": ROUND,
                "region": "vestland",
                "topic": f"Kobling av kommuner i regionen {token}",
                "wished_dates": [day.isoformat()],
            },
            headers=VESTLAND,
        )
        assert response.status_code == 201, response.text
        request_id = response.json()["result"]["request_id"]

        # Programme management is told, in the programme mailbox.
        told = await eventually(
            lambda: mails_to(sink, MAILBOX, token), timeout=60, what="the request told"
        )
        assert told[0]["subject"].startswith("Ønske om dialogmøte: Vestland")
        assert f"Kobling av kommuner i regionen {token}" in told[0]["text"]
        assert request_id in told[0]["text"]

        listed = await client.get(f"/rounds/{ROUND}/dialogue-requests", headers=PROGRAMME)
        assert listed.status_code == 200, listed.text
        mine = next(r for r in listed.json() if str(r["id"]) == request_id)
        assert mine["origin"] == "board" and mine["gathering_id"] is None
        assert mine["requested_by"] == "Styret i Vestland"

        # The request answered, with another actor invited by name.
        response = await client.post(
            "/dialogue-meetings",
            json={
                "request_id": request_id,
                "venue": venue,
                "starts_at": oslo(day, 10),
                "ends_at": oslo(day, 12),
                "guests": [{"name": "Per Partner", "email": per, "organisation": "KS Vestland"}],
            },
            headers=PROGRAMME,
        )
        assert response.status_code == 201, response.text
        answered = response.json()["result"]
        assert answered["proposed_by_programme"] is False

        # Programme management's own initiative: no request from the board.
        later = day + timedelta(days=7)
        response = await client.post(
            "/dialogue-proposals",
            json={
                "round_id": ROUND,
                "region": "vestland",
                "topic": "Delingsarenaer i regionen",
                "title": f"Dialogmøte om delingsarenaer {token}",
                "venue": venue,
                "starts_at": oslo(later, 13),
                "ends_at": oslo(later, 15),
                "guests": [
                    {"name": "Guro Gjest", "email": guro, "language": "nn", "organisation": "UiB"}
                ],
            },
            headers=PROGRAMME,
        )
        assert response.status_code == 201, response.text
        proposed = response.json()["result"]
        assert proposed["proposed_by_programme"] is True
        refused = await client.post(
            "/dialogue-proposals",
            json={
                "round_id": ROUND,
                "region": "vestland",
                "topic": "x",
                "venue": venue,
                "starts_at": oslo(later, 13),
                "ends_at": oslo(later, 15),
            },
            headers=VESTLAND,
        )
        assert refused.status_code == 403

        listed = await client.get(f"/rounds/{ROUND}/dialogue-requests", headers=PROGRAMME)
        by_id = {str(r["id"]): r for r in listed.json()}
        assert str(by_id[request_id]["gathering_id"]) == answered["gathering_id"]
        own = by_id[proposed["request_id"]]
        assert own["origin"] == "programme" and own["requested_by"] == "Programledelsen"

        gathering = await client.get(f"/gatherings/{proposed['gathering_id']}", headers=PROGRAMME)
        roles = sorted(i["role"] for i in gathering.json()["invitations"])
        assert roles == ["county_board", "guest"]
        guro_id = next(
            i["person_id"] for i in gathering.json()["invitations"] if i["role"] == "guest"
        )

    # The guests are written to by name, in their language, with the calendar.
    guest_mail = await eventually(
        lambda: mails_to(sink, guro, guro), timeout=60, what="the guest's invitation"
    )
    assert "Hei Guro Gjest" in guest_mail[0]["text"]
    assert "inviterer deg til eit dialogmøte" in guest_mail[0]["text"]  # nynorsk
    assert any("METHOD:REQUEST" in p.get("content", "") for p in guest_mail[0]["parts"])
    await eventually(lambda: mails_to(sink, per, per), timeout=60, what="Per's invitation")

    # The board reads "you asked for" only where it did.
    async def board_mails() -> list[dict[str, Any]]:
        found = await mails_to(sink, board, board)
        return found if len([m for m in found if "Dialogmøte" in m["subject"]]) >= 2 else []

    letters = [m for m in await eventually(board_mails, timeout=60) if "Dialogmøte" in m["subject"]]
    texts = sorted(m["text"] for m in letters)
    assert any("dialogmøtet dere ba om" in t for t in texts)
    assert any("Programledelsen inviterer til et dialogmøte" in t for t in texts)

    # Names and addresses of other actors: on the restricted contacts topic, nowhere public.
    public = await everything_on(
        endpoints.kafka_bootstrap, events_topic("scheduling", topic_prefix)
    )
    assert public, "the scheduling events are on their topic"
    for record in public:
        value = (record.value or b"").decode()
        assert guro not in value and per not in value
        assert "Guro Gjest" not in value and "Per Partner" not in value
    contacts = await everything_on(endpoints.kafka_bootstrap, guest_contacts_topic(topic_prefix))
    assert any(guro in (r.value or b"").decode() for r in contacts)

    # Programme management erases a guest: invitations ahead withdrawn, a tombstone and an
    # event tell downstream, and notification forgets the address.
    # Before: kept where it is needed (so the search below can fail).
    found = {hit.split(":")[0] for hit in await where_found(db, [guro])}
    assert {"scheduling.guests", "notification.recipients"} <= found, found
    async with httpx.AsyncClient(base_url=services.url("scheduling"), timeout=30) as client:
        response = await client.post(
            "/guest-erasures", json={"person_id": guro_id}, headers=PROGRAMME
        )
        assert response.status_code == 200, response.text
        again = await client.post("/guest-erasures", json={"person_id": guro_id}, headers=PROGRAMME)
        assert again.status_code == 404
        gathering = await client.get(f"/gatherings/{proposed['gathering_id']}", headers=PROGRAMME)
        assert [i["role"] for i in gathering.json()["invitations"]] == ["county_board"]

    async def tombstone() -> bool:
        found = await everything_on(endpoints.kafka_bootstrap, guest_contacts_topic(topic_prefix))
        return any(r.key == guro_id.encode() and r.value is None for r in found)

    await eventually(tombstone, timeout=30, what="a tombstone for the erased guest")

    async def nowhere() -> bool:
        return await where_found(db, [guro, "Guro Gjest"]) == []

    await eventually(nowhere, timeout=30, what="nothing of the erased guest in any schema")
