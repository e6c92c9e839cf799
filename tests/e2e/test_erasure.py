"""Erasure holds across the services: after it, no schema and no log keeps the person.

All services run as processes against the real Kafka, PostgreSQL and SMTP sink. Two people
come in through the real flow (an interest registration over HTTP, mails sent): Kari, the
first contact, is replaced by Ola in an update (so Kari is erased by registration itself),
and Ola is erased on request. Once notification has both as erased, every table of every
schema of the database is searched for their names, e-mail addresses and phone numbers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from shared.testing.fixtures import (
    Endpoints,
    ServiceProcesses,
    SinkClient,
    TestDatabase,
    eventually,
)
from tests.e2e.conftest import PROGRAMME
from tests.personal_data import Person, connect_as_superuser, tables, where_found

pytestmark = pytest.mark.e2e

PROGRAMME_MAILBOX = "post@kulturskoleradet.no"


def interest(contact: Person, token: str) -> dict[str, Any]:
    return {
        "round_id": "2030",
        "branch": "Vestland",
        "municipality_numbers": ["4601", "4640"],
        "contact": contact.contact(),
        "message": f"Styret vil delta. ref {token}",
    }


async def mails(sink: SinkClient, containing: str, n: int) -> list[dict[str, Any]] | None:
    found = await sink.messages(containing=containing)
    assert len(found) <= n, [m["subject"] for m in found]
    return found if len(found) == n else None


@pytest.fixture
async def db(endpoints: Endpoints, database: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """The test database as the superuser, who sees every schema."""
    conn = await connect_as_superuser(endpoints.pg_superuser_dsn, database.name)
    yield conn
    await conn.close()


async def test_an_erased_person_is_nowhere(
    services: ServiceProcesses, sink: SinkClient, db: asyncpg.Connection
) -> None:
    token = uuid.uuid4().hex[:10]
    kari, ola = Person.new("Kari"), Person.new("Ola")
    async with httpx.AsyncClient(
        base_url=services.url("registration"), headers=PROGRAMME
    ) as registration:
        first = await registration.post("/interest-registrations", json=interest(kari, token))
        assert first.status_code == 201, first.text
        # A receipt to Kari, a copy to the programme mailbox (the copy holds the message).
        await eventually(lambda: mails(sink, kari.email, 1), what="Kari's receipt")
        await eventually(lambda: mails(sink, token, 1), what="the programme copy")

        update = await registration.post("/interest-registrations", json=interest(ola, token))
        assert update.status_code == 200, update.text
        await eventually(lambda: mails(sink, ola.email, 1), what="Ola's receipt of the update")
        await eventually(lambda: mails(sink, token, 2), what="the update's programme copy")
        # The search finds Ola where both services keep him (so it can fail below).
        found = {hit.split(":")[0] for hit in await where_found(db, ola.details)}
        assert {"registration.persons", "notification.recipients"} <= found, found

        ola_id = update.json()["result"]["contact_person_id"]
        erased = await registration.post("/erasures", json={"person_id": ola_id})
        assert erased.status_code == 200, erased.text

    people = [uuid.UUID(first.json()["result"]["contact_person_id"]), uuid.UUID(ola_id)]

    async def erased_in_notification() -> bool:
        gone = await db.fetchval(
            "SELECT count(*) FROM notification.erased_persons WHERE person_id = ANY($1)", people
        )
        return bool(gone == 2)

    await eventually(erased_in_notification, timeout=60, what="both erased in notification")
    await assert_searched_everywhere(db)

    needles = [*kari.details, *ola.details]

    async def nowhere() -> bool:
        # Registration drops Kari's last record (the notice that Ola holds the role now)
        # from its outbox once it is sent.
        return await where_found(db, needles) == []

    await eventually(nowhere, timeout=30, what="nothing of Kari and Ola anywhere")
    # Their mails were sent and are still on record, without anything of theirs.
    rows = await db.fetch(
        "SELECT status, context = '{}' AS cleared FROM notification.deliveries"
        " WHERE person_id = ANY($1)",
        people,
    )
    # Kari's receipt, the notice to Kari that Ola holds the role now, Ola's receipt.
    assert [(r["status"], r["cleared"]) for r in rows] == [("sent", True)] * 3

    # Nor did any service write them to its log.
    for service in services.procs:
        log = (services.logs / f"{service}.log").read_text(errors="replace").lower()
        assert [n for n in needles if n.lower() in log] == [], f"{service}.log"


async def assert_searched_everywhere(db: asyncpg.Connection) -> None:
    """The search covers each service's schema and its main tables (not an empty database)."""
    found = set(await tables(db))
    for expected in [
        ("registration", "persons"),
        ("registration", "outbox"),
        ("registration", "applications"),
        ("notification", "recipients"),
        ("notification", "deliveries"),
        ("notification", "inbox"),
        ("scheduling", "inbox"),
    ]:
        assert expected in found, expected
