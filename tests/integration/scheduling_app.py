"""The scheduling service in-process for integration tests, on the real Kafka and PostgreSQL.

`started_scheduling(...)` runs the app through its lifespan (its consumer of registration's
events and of its command topic, its relay) with a clock the test moves, and yields a
`Scheduling` that posts as a principal would and reads what the service published.
Start it after registration has done its part to prove it reads registration's history.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from aiokafka import ConsumerRecord
from fastapi import FastAPI

from services.scheduling.app import LOCAL_ANSWER_SECRET, local_tokens, make_context, service_spec
from services.scheduling.settings import SchedulingSettings
from shared.contracts.events.base import TYPE_PREFIX
from shared.contracts.topics import commands_topic, dlq_topic, events_topic
from shared.db.pool import connect
from shared.runtime.service import build_app
from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.integration.registration_app import Clock
from tests.integration.support import PERSON_TOKEN_SECRET, data_of, headers_of, read_to_end

TYPES = f"{TYPE_PREFIX}.scheduling."
PROGRAMME = {"Authorization": "Bearer local-programme"}
VESTLAND = {"Authorization": "Bearer local-board-vestland"}
AGDER = {"Authorization": "Bearer local-board-agder"}
OBSERVER = {"Authorization": "Bearer local-observer"}

# What the service stores, as a reader sees it; a refused request must change none of it.
TABLES = {
    "semesters": "SELECT * FROM semesters",
    "gatherings": "SELECT * FROM gatherings",
    "invitations": "SELECT * FROM invitations",
    "dialogue_requests": "SELECT * FROM dialogue_requests",
    "inbox": "SELECT message_id FROM inbox WHERE topic = 'http'",
    "outbox": "SELECT id, event_id, topic, key FROM outbox",
}


def short(ce_type: str) -> str:
    return ce_type.removeprefix(TYPES)


def scheduling_app(settings: SchedulingSettings, clock: Clock) -> FastAPI:
    ctx = replace(make_context(settings), clock=clock)
    return build_app(service_spec(settings, ctx))


@dataclass
class Scheduling:
    client: httpx.AsyncClient
    clock: Clock
    bootstrap: str
    prefix: str
    db: asyncpg.Connection

    @property
    def events(self) -> str:
        return events_topic("scheduling", self.prefix)

    @property
    def commands(self) -> str:
        return commands_topic("scheduling", self.prefix)

    @property
    def commands_dlq(self) -> str:
        return dlq_topic(self.commands)

    async def post(self, path: str, body: Any, who: dict[str, str] = PROGRAMME) -> httpx.Response:
        return await self.client.post(path, json=body, headers=who)

    async def accepted(
        self, path: str, body: Any, who: dict[str, str] = PROGRAMME, *, status: int = 200
    ) -> dict[str, Any]:
        response = await self.post(path, body, who)
        assert response.status_code == status, f"{path}: {response.status_code} {response.text}"
        answer = response.json()
        assert answer["duplicate"] is False, answer
        result: dict[str, Any] = answer["result"]
        return result

    async def refused(
        self,
        path: str,
        body: Any,
        who: dict[str, str],
        status: int,
        *reasons: str,
        language: str = "en",
    ) -> Any:
        """Refused with `status` and every reason in its detail (in `language`); nothing
        stored or emitted."""
        before = await self.snapshot()
        response = await self.client.post(
            path, json=body, headers={**who, "Accept-Language": language}
        )
        assert response.status_code == status, f"{path}: {response.status_code} {response.text}"
        assert response.headers["content-language"] == language
        detail = response.json()["detail"]
        for reason in reasons:
            assert reason in str(detail), f"{reason!r} not in the reason {detail!r}"
        after = await self.snapshot()
        changed = [t for t in TABLES if before[t] != after[t]]
        assert not changed, f"refused {path} changed {changed}"
        return detail

    async def get(self, path: str, who: dict[str, str] = OBSERVER, **params: Any) -> Any:
        response = await self.client.get(path, headers=who, params=params)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        return response.json()

    async def gathering(self, gathering_id: UUID | str) -> dict[str, Any]:
        # As programme management: a veiledning is not shown to everyone.
        found: dict[str, Any] = await self.get(f"/gatherings/{gathering_id}", PROGRAMME)
        return found

    async def invited(self, gathering_id: UUID | str) -> set[str]:
        """Who is invited, as `person:<id>` / `municipality:<number>`."""
        found = await self.gathering(gathering_id)
        return {
            f"person:{i['person_id']}"
            if i["person_id"]
            else f"municipality:{i['municipality_number']}"
            for i in found["invitations"]
        }

    async def until_round(self, round_id: str, *, timeout: float = 60) -> None:
        """Until the service has read the round's opening from registration's events."""

        async def known() -> bool:
            response = await self.client.get(f"/rounds/{round_id}", headers=OBSERVER)
            return response.status_code == 200

        await eventually(known, timeout=timeout, what=f"round {round_id} known")

    async def until_invited(
        self, gathering_id: UUID | str, expected: set[str], *, timeout: float = 60
    ) -> None:
        async def matches() -> bool:
            # A gathering scheduled over the command topic may not be there yet.
            response = await self.client.get(f"/gatherings/{gathering_id}", headers=PROGRAMME)
            if response.status_code == 404:
                return False
            return await self.invited(gathering_id) == expected

        await eventually(matches, timeout=timeout, what=f"invitations {sorted(expected)}")

    async def snapshot(self) -> dict[str, list[str]]:
        return {
            table: sorted(json.dumps(dict(r), default=str) for r in await self.db.fetch(query))
            for table, query in TABLES.items()
        }

    async def published(self, topic: str | None = None) -> list[ConsumerRecord]:
        """Every record on the topic (default: its events) once the outbox is all sent."""

        async def drained() -> bool:
            waiting = await self.db.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            return bool(waiting == 0)

        await eventually(drained, timeout=30, what="the scheduling outbox to be published")
        return await read_to_end(self.bootstrap, topic or self.events, timeout=30)

    async def events_of(self, ce_type: str) -> list[dict[str, Any]]:
        return [
            data_of(r) for r in await self.published() if short(headers_of(r)["ce_type"]) == ce_type
        ]

    async def event_types(self) -> Counter[str]:
        return Counter(short(headers_of(r)["ce_type"]) for r in await self.published())


@contextlib.asynccontextmanager
async def started_scheduling(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    now: datetime,
    *,
    consumer_group: str = "",
) -> AsyncIterator[Scheduling]:
    settings = SchedulingSettings(
        consumer_group=consumer_group,
        kafka_bootstrap=endpoints.kafka_bootstrap,
        database_url=database.dsns["scheduling"],
        topic_prefix=topic_prefix,
        relay_poll_interval_s=0.3,
        api_tokens=json.dumps(local_tokens()),
        answer_secret=LOCAL_ANSWER_SECRET,
        person_token_secret=PERSON_TOKEN_SECRET,
    )
    clock = Clock(now)
    app = scheduling_app(settings, clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        db = await connect(database.dsns["scheduling"], "scheduling", name="test-reader")
        try:
            yield Scheduling(client, clock, endpoints.kafka_bootstrap, topic_prefix, db)
        finally:
            await db.close()
