"""Programme management sets the county boards' contacts and opens a round: each board is
told, by mail, what to send where and by when. All services run as processes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from shared.contracts.events.registration import contacts_topic
from shared.contracts.topics import events_topic
from shared.testing.fixtures import Endpoints, ServiceProcesses, SinkClient, eventually
from tests.e2e.conftest import PROGRAMME
from tests.e2e.test_interest_flow import read_topic

pytestmark = pytest.mark.e2e


async def test_opening_a_round_tells_every_board_what_to_send_where(
    services: ServiceProcesses, sink: SinkClient, endpoints: Endpoints, topic_prefix: str
) -> None:
    token = uuid.uuid4().hex[:10]
    boards = {"rogaland": "nb", "more-og-romsdal": "nn", "agder": "en"}
    async with httpx.AsyncClient(
        base_url=services.url("registration"), headers=PROGRAMME, timeout=30
    ) as client:
        board = await client.put(
            "/branches/rogaland/contact",
            json={"name": "Siri", "email": f"x-{token}@example.no"},
            headers={"Authorization": "Bearer local-board-rogaland"},
        )
        assert board.status_code == 403, board.text
        for branch, language in boards.items():
            response = await client.put(
                f"/branches/{branch}/contact",
                json={
                    "name": f"Leder {branch}",
                    "email": f"{branch}-{token}@example.no",
                    "language": language,
                },
            )
            assert response.status_code == 200, response.text
        opened = await client.post("/rounds", json={"round_id": "2050"})
        assert opened.status_code == 201, opened.text

    # Conftest's rounds (2030-2049) take interest too: a board set now hears of each of them.
    async def letters() -> list[dict[str, Any]] | None:
        found = [m for m in await sink.messages(containing=token) if " 2050:" in m["subject"]]
        return found if len(found) >= len(boards) else None

    mails = await eventually(letters, timeout=60, what="a letter about 2050 to each board")
    by_to = {m["envelope_to"][0]: m for m in mails}
    assert len(mails) == len(by_to) == len(boards)
    nb = by_to[f"rogaland-{token}@example.no"]
    assert nb["subject"] == (
        "Fremtidens kulturskole, regionale program 2050: meld interesse innen 15. september 2049"
    )
    text = " ".join(nb["text"].split())
    assert "Hei Leder rogaland," in text
    assert "Interessen meldes til post@kulturskoleradet.no" in text
    assert "«Fremtidens kulturskole, Regionale program»" in text
    assert "(Rogaland)" in text
    assert "innan 15. september 2049" in by_to[f"more-og-romsdal-{token}@example.no"]["text"]
    assert "by 15 September 2049" in by_to[f"agder-{token}@example.no"]["text"]

    # The contacts travel on the restricted topic; the public events name them by id only.
    # The membership list and 20 rounds (conftest), three contacts set and this round.
    public = await read_topic(
        endpoints.kafka_bootstrap, events_topic("registration", topic_prefix), expect=25
    )
    assert sum(b"branch-contact-set" in dict(r.headers).get("ce_type", b"") for r in public) == 3
    assert not any(token.encode() in (r.value or b"") for r in public)
    restricted = await read_topic(
        endpoints.kafka_bootstrap, contacts_topic(topic_prefix), expect=len(boards)
    )
    assert sum(token.encode() in (r.value or b"") for r in restricted) == len(boards)
