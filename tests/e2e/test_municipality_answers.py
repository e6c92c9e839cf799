"""Presamlinger are for the municipalities: each named contact is invited and answers for
themself from the signed link in the mail; the board sees the answer.

Services as processes on the real stack; mails read back from the SMTP sink.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from shared.runtime.catalog import Catalog
from shared.testing.fixtures import (
    Endpoints,
    ServiceProcesses,
    SinkClient,
    TestDatabase,
    eventually,
    free_port,
)
from tests.e2e.conftest import PROGRAMME, prepare_platform

pytestmark = pytest.mark.e2e

OSLO = ZoneInfo("Europe/Oslo")
VESTLAND = {"Authorization": "Bearer local-board-vestland"}
ROUND = "2031"


@pytest.fixture
def procs(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    logs_dir: Path,
    catalog: Catalog,
) -> Iterator[ServiceProcesses]:
    """All services; notification's answer links point at this scheduling process."""
    started = ServiceProcesses(endpoints, database, topic_prefix, logs_dir, catalog)
    started.ports["scheduling"] = free_port()
    started.overrides["notification"] = {
        "KS_NOTIFICATION_ANSWER_BASE_URL": f"http://127.0.0.1:{started.ports['scheduling']}"
    }
    try:
        started.start()
        prepare_platform(started)
        yield started
    finally:
        started.stop_all()


def oslo(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=OSLO).isoformat()


async def test_each_named_municipality_contact_is_invited_and_answers_from_the_mail(
    procs: ServiceProcesses, sink: SinkClient
) -> None:
    tag = uuid.uuid4().hex[:10]
    board = f"styret-{tag}@vestland.example.no"
    bergen = f"bergen-{tag}@bergen.example.no"
    sogndal = f"sogndal-{tag}@sogndal.example.no"
    async with httpx.AsyncClient(base_url=procs.url("registration"), timeout=30) as client:
        response = await client.post(
            "/interest-registrations",
            json={
                "round_id": ROUND,
                "branch": "Vestland",
                "municipality_numbers": ["4601", "4640", "4627", "4624"],
                "contact": {"name": "Styreleder Vestland", "email": board},
                "municipality_contacts": [
                    {
                        "municipality_number": "4601",
                        "contact": {"name": "Kari Bergen", "email": bergen},
                    },
                    {
                        "municipality_number": "4640",
                        "contact": {"name": "Nils Sogndal", "email": sogndal, "language": "nn"},
                    },
                ],
            },
            headers=VESTLAND,
        )
        assert response.status_code == 201, response.text
        named = {
            c["municipality_number"]: c["person_id"]
            for c in response.json()["result"]["municipality_contacts"]
        }
        assert set(named) == {"4601", "4640"}
        # Personal data stays off the public event: ids only.
        assert bergen not in response.text
        # The board reads back whom it named.
        registration_id = response.json()["result"]["registration_id"]
        read = await client.get(f"/interest-registrations/{registration_id}", headers=VESTLAND)
        assert read.status_code == 200, read.text
        contacts = read.json()["municipality_contacts"]
        assert {n: c["email"] for n, c in contacts.items()} == {"4601": bergen, "4640": sogndal}

    day = date.today() + timedelta(days=40)
    async with httpx.AsyncClient(base_url=procs.url("scheduling"), timeout=30) as client:
        response = await client.post(
            "/gatherings",
            json={
                "round_id": ROUND,
                "region": "vestland",
                "kind": "presamling",
                "title": f"Presamling {tag}",
                "venue": {"name": "Scandic Ørnen", "address": "Lars Hilles gate 18, Bergen"},
                "starts_at": oslo(day, 10),
                "ends_at": oslo(day, 15),
                # The test's rounds lie years ahead; this presamling is weeks away.
                "override_reason": "Presamling utenom høsten i testen",
            },
            headers=PROGRAMME,
        )
        assert response.status_code == 201, response.text
        gathering_id = response.json()["result"]["gathering_id"]

        async def to(address: str) -> list[dict[str, Any]]:
            return [
                m
                for m in await sink.messages(containing=tag)
                if address in m["envelope_to"] and f"Presamling {tag}" in m["subject"]
            ]

        async def all_sent() -> bool:
            return (
                len(await to(bergen)) == 1
                and len(await to(sogndal)) == 1
                and len(await to(board)) == 3
            )

        await eventually(all_sent, timeout=60, what="the invitations to the contacts and board")
        # The board: its own invitation and one for each municipality without a contact
        # (Askøy, Bjørnafjorden), none for Bergen or Sogndal.
        board_texts = " ".join(m["text"] for m in await to(board))
        on_behalf = re.findall(r"Invitasjonen gjelder (\S+) kommune", board_texts)
        assert sorted(on_behalf) == ["Askøy", "Bjørnafjorden"]
        (sogndal_mail,) = await to(sogndal)
        assert "Svar på invitasjonen her" in sogndal_mail["text"]  # nynorsk, their language
        (mail,) = await to(bergen)
        link = re.search(r"(http://\S+/answers/\S+\?response=yes&lang=nb)", mail["text"])
        assert link is not None, mail["text"]
        url = link.group(1)

        async def answer_of(person_id: str) -> str | None:
            found = await client.get(f"/gatherings/{gathering_id}", headers=VESTLAND)
            assert found.status_code == 200, found.text
            (invitation,) = [i for i in found.json()["invitations"] if i["person_id"] == person_id]
            assert invitation["role"] == "municipality"
            assert invitation["municipality_number"] == "4601"
            answer: str | None = invitation["rsvp"]
            return answer

        async with httpx.AsyncClient(timeout=30) as person:
            page = await person.get(url)  # no bearer token: the link is the credential
            assert page.status_code == 200, page.text
            assert f"Presamling {tag}" in page.text and 'method="post"' in page.text
            assert await answer_of(named["4601"]) is None  # looking changes nothing

            recorded = await person.post(
                url.split("?")[0],
                content="response=yes",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert recorded.status_code == 200, recorded.text
            assert "Svaret ditt er registrert" in recorded.text
            assert await answer_of(named["4601"]) == "yes"

            token = url.split("/answers/")[1].split("?")[0]
            tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
            refused = await person.post(
                f"{procs.url('scheduling')}/answers/{tampered}",
                content="response=no",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert refused.status_code == 404, refused.text
            assert await answer_of(named["4601"]) == "yes"
