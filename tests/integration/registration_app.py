"""The registration service in-process for integration tests, on the real Kafka and PostgreSQL.

The app runs through its lifespan (HTTP via httpx.ASGITransport, its Kafka consumer and outbox
relay as tasks), with a clock the test moves. `Registration` posts as a principal would and
checks what a user would check: status codes, the reason in `detail`, what is stored and what
is published. A refused request is checked to have stored nothing (`Registration.refused`).

Import the fixture into a test module with
`from tests.integration.registration_app import registration_fixture  # noqa: F401`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI

from services.registration.app import service_spec
from services.registration.domain.reference import ReferenceData
from services.registration.handlers import Context
from services.registration.settings import LOCAL_API_TOKENS, RegistrationSettings
from shared.contracts.events.base import TYPE_PREFIX
from shared.contracts.events.registration import contacts_topic
from shared.contracts.topics import commands_topic, dlq_topic, events_topic
from shared.db.pool import connect
from shared.runtime.service import build_app
from shared.runtime.spec import Runtime
from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.integration.support import PERSON_TOKEN_SECRET, headers_of, read_to_end

OSLO = ZoneInfo("Europe/Oslo")
ROUND = "2030"
# The round's default interest deadline is 15.09.2029; the tests start a fortnight before.
START = datetime(2029, 9, 1, 12, 0, tzinfo=OSLO)
MEMBERS = ["4601", "4640", "4627", "4204"]  # Bergen, Sogndal, Askøy (Vestland); Kristiansand
# Vestland's application window in most tests: open at START.
WINDOW_46 = {"county_number": "46", "opens_on": "2029-08-20", "deadline": "2029-09-30"}
# Decisions wait until the county's window has closed (or are marked early, with a reason).
AFTER_WINDOW_46 = datetime(2029, 10, 1, 9, 0, tzinfo=OSLO)

PROGRAMME = {"Authorization": "Bearer local-programme"}
VESTLAND = {"Authorization": "Bearer local-board-vestland"}  # county 46
AGDER = {"Authorization": "Bearer local-board-agder"}  # county 42
OBSERVER = {"Authorization": "Bearer local-observer"}

TYPES = f"{TYPE_PREFIX}.registration."

# Everything the service stores, as a reader sees it. The relay marks outbox rows published
# on its own time, so only which rows exist counts there.
TABLES = {
    "members": "SELECT * FROM members",
    "rounds": "SELECT * FROM rounds",
    "application_windows": "SELECT * FROM application_windows",
    "persons": "SELECT * FROM persons",
    "interest_registrations": "SELECT * FROM interest_registrations",
    "interest_history": "SELECT * FROM interest_history",
    "applications": "SELECT * FROM applications",
    "group_members": "SELECT * FROM group_members",
    "inbox": "SELECT * FROM inbox",
    "outbox": "SELECT id, event_id, topic, key FROM outbox",
}


class Clock:
    """The service's clock; a test sets `now` to cross a deadline."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def short(ce_type: str) -> str:
    """`no.kulturskoleradet.registration.round-opened.v1` → `round-opened.v1`."""
    return ce_type.removeprefix(TYPES)


def person(role: str, first_name: str, *, committed: bool = True) -> dict[str, Any]:
    """A kommunegruppe member, with a name and e-mail unique to this run."""
    tag = uuid.uuid4().hex[:8]
    return {
        "name": f"{first_name} Testesen-{tag}",
        "email": f"{first_name.lower()}.{tag}@example.no",
        "phone": "+47 912 34 567",
        "role": role,
        "organisation": f"{role.title()} i kommunen",
        "commits_to_gatherings": committed,
    }


def complete_group() -> list[dict[str, Any]]:
    return [person("kulturskole", "Kari"), person("grunnskole", "Ola")]


def draft(
    municipality: str,
    group: list[dict[str, Any]],
    *,
    motivation: str = "Vi vil at flere barn skal møte kunst og kultur i hverdagen.",
    co_creation_plan: str = "Samskaping mellom kulturskole, skole og barnehage hver måned.",
) -> dict[str, Any]:
    return {
        "round_id": ROUND,
        "municipality_number": municipality,
        "motivation": motivation,
        "development_areas": ["samskaping", "inkludering"],
        "co_creation_plan": co_creation_plan,
        "group": group,
    }


def submission(municipality: str) -> dict[str, str]:
    return {"round_id": ROUND, "municipality_number": municipality}


def registration_app(settings: RegistrationSettings, clock: Clock) -> FastAPI:
    """The service as `create_app` builds it, but with handlers on the test's clock."""
    ctx = Context(reference=ReferenceData.load(), topic_prefix=settings.topic_prefix, clock=clock)
    return build_app(service_spec(settings, ctx))  # HTTP and handlers share the one context


@dataclass
class Registration:
    client: httpx.AsyncClient
    clock: Clock
    bootstrap: str
    prefix: str
    db: asyncpg.Connection
    runtime: Runtime

    @property
    def events(self) -> str:
        return events_topic("registration", self.prefix)

    @property
    def contacts(self) -> str:
        return contacts_topic(self.prefix)

    @property
    def commands(self) -> str:
        return commands_topic("registration", self.prefix)

    @property
    def commands_dlq(self) -> str:
        return dlq_topic(self.commands)

    # --- requests ---------------------------------------------------------------------------

    async def post(self, path: str, body: Any, who: dict[str, str] = PROGRAMME) -> httpx.Response:
        return await self.client.post(path, json=body, headers=who)

    async def accepted(
        self, path: str, body: Any, who: dict[str, str] = PROGRAMME, *, status: int = 200
    ) -> dict[str, Any]:
        """POST that must succeed; the command's result (the event it published, mostly)."""
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
        content: str | None = None,
    ) -> Any:
        """POST that must be refused with `status` and every one of `reasons` in its detail,
        and leave every table (outbox included: no event) exactly as it was. Returns the
        problem document (RFC 9457)."""
        before = await self.snapshot()
        if content is None:
            response = await self.post(path, body, who)
        else:
            response = await self.client.post(
                path, content=content, headers={**who, "Content-Type": "application/json"}
            )
        assert response.status_code == status, f"{path}: {response.status_code} {response.text}"
        assert response.headers["content-type"] == "application/problem+json", response.headers
        problem = response.json()
        detail = problem["detail"]
        for reason in reasons:
            assert reason in str(detail), f"{reason!r} not in the reason {detail!r}"
        after = await self.snapshot()
        changed = [t for t in TABLES if before[t] != after[t]]
        assert not changed, f"refused {path} changed {changed}: {before} -> {after}"
        return problem

    async def get(self, path: str, who: dict[str, str] = OBSERVER) -> dict[str, Any]:
        response = await self.client.get(path, headers=who)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        found: dict[str, Any] = response.json()
        return found

    async def status_of(self, municipality: str) -> dict[str, Any]:
        return await self.get(f"/rounds/{ROUND}/municipalities/{municipality}/status")

    # --- set-up --------------------------------------------------------------------------------

    async def open_round(
        self,
        *,
        capacity: dict[str, int] | None = None,
        windows: tuple[dict[str, str], ...] = (WINDOW_46,),
    ) -> None:
        """Programme management imports the members, opens round 2030 and county windows."""
        await self.accepted("/members", {"municipality_numbers": MEMBERS})
        await self.accepted(
            "/rounds", {"round_id": ROUND, "capacity_per_branch": capacity or {}}, status=201
        )
        for window in windows:
            await self.accepted("/application-windows", {"round_id": ROUND, **window}, status=201)

    async def submit(
        self, municipality: str, group: list[dict[str, Any]], who: dict[str, str] = VESTLAND
    ) -> dict[str, Any]:
        """Draft and submit a complete application; the ApplicationSubmitted data."""
        saved = await self.accepted("/application-drafts", draft(municipality, group), who)
        submitted = await self.accepted("/application-submissions", submission(municipality), who)
        assert submitted["application_id"] == saved["id"]
        return submitted

    # --- what is stored and published ---------------------------------------------------------

    async def snapshot(self) -> dict[str, list[str]]:
        return {
            table: sorted(json.dumps(dict(r), default=str) for r in await self.db.fetch(query))
            for table, query in TABLES.items()
        }

    @contextlib.asynccontextmanager
    async def relay_held(self) -> AsyncIterator[None]:
        """Nothing leaves the outbox inside the block (the relay stops, and starts again after
        it): for what happens to rows written while the broker is slow or away."""
        [task] = [t for t in self.runtime.tasks if t.get_name() == "outbox-relay"]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            yield
        finally:
            self.runtime.tasks.remove(task)
            self.runtime.tasks.append(
                asyncio.create_task(self.runtime.relay.run(), name="outbox-relay")
            )

    async def published(self, topic: str) -> list[ConsumerRecord]:
        """Every record on `topic`, once the relay has published every outbox row."""

        async def drained() -> bool:
            unpublished = await self.db.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            return bool(unpublished == 0)

        await eventually(drained, timeout=20, what="the outbox to be published")
        return await read_to_end(self.bootstrap, topic, timeout=20)

    async def event_types(self) -> Counter[str]:
        return Counter(short(headers_of(r)["ce_type"]) for r in await self.published(self.events))


@pytest.fixture(name="registration")
async def registration_fixture(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str
) -> AsyncIterator[Registration]:
    settings = RegistrationSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        database_url=database.dsns["registration"],
        topic_prefix=topic_prefix,
        relay_poll_interval_s=0.5,
        api_tokens=json.dumps(LOCAL_API_TOKENS),
        person_token_secret=PERSON_TOKEN_SECRET,
    )
    clock = Clock(START)
    app = registration_app(settings, clock)
    async with (
        app.router.lifespan_context(app),
        # English details, which the rule tests match; bokmål, the default, has its own tests.
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"Accept-Language": "en"},
        ) as client,
    ):
        db = await connect(database.dsns["registration"], "registration", name="test-reader")
        try:
            yield Registration(
                client, clock, endpoints.kafka_bootstrap, topic_prefix, db, app.state.runtime
            )
        finally:
            await db.close()


__all__ = [
    "AFTER_WINDOW_46",
    "AGDER",
    "MEMBERS",
    "OBSERVER",
    "OSLO",
    "PROGRAMME",
    "ROUND",
    "START",
    "VESTLAND",
    "WINDOW_46",
    "Clock",
    "Registration",
    "complete_group",
    "draft",
    "person",
    "registration_fixture",
    "short",
    "submission",
]
