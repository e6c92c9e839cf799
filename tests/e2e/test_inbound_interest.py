"""Interest by e-mail, as the invitation asks: a board writes to the programme mailbox, the
mail reaches registration's SMTP endpoint (over a real SMTP connection on loopback), waits
for programme management, survives a crash, and once confirmed is an ordinary interest
registration with its receipt. A mail that names no branch is listed, never dropped."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
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
from tests.personal_data import connect_as_superuser, where_found

pytestmark = pytest.mark.e2e

SUBJECT = "Fremtidens kulturskole, Regionale program"
VESTLAND = {"Authorization": "Bearer local-board-vestland"}


@pytest.fixture
def mail_in(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    logs_dir: Path,
    catalog: Catalog,
) -> Iterator[tuple[ServiceProcesses, int]]:
    """The services, registration with its inbound SMTP endpoint on a loopback port."""
    port = free_port()
    procs = ServiceProcesses(endpoints, database, topic_prefix, logs_dir, catalog)
    procs.overrides["registration"] = {
        "KS_REGISTRATION_INBOUND_SMTP_HOST": "127.0.0.1",
        "KS_REGISTRATION_INBOUND_SMTP_PORT": str(port),
    }
    try:
        procs.start()
        prepare_platform(procs)
        yield procs, port
    finally:
        procs.stop_all()


def letter(sender: str, text: str, subject: str = SUBJECT) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "post@kulturskoleradet.no"
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.no>"
    message.set_content(text)
    return message


async def send(port: int, message: EmailMessage) -> str:
    """Over SMTP, as the organisation's mail server would forward it; the server's answer."""

    async def sent() -> str | None:
        try:
            _, answer = await aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=10)
        except (aiosmtplib.SMTPConnectError, ConnectionError):
            return None  # the endpoint comes up with the service
        return answer

    return await eventually(sent, what="the inbound SMTP endpoint to take the mail")


async def listed(base: str, sender: str) -> dict[str, Any] | None:
    async with httpx.AsyncClient(base_url=base, headers=PROGRAMME, timeout=30) as client:
        response = await client.get("/inbound-interest")
    assert response.status_code == 200, response.text
    return next((m for m in response.json() if m["sender_email"] == sender), None)


@pytest.fixture
async def db(endpoints: Endpoints, database: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """The test database as the superuser, who sees every schema."""
    conn = await connect_as_superuser(endpoints.pg_superuser_dsn, database.name)
    yield conn
    await conn.close()


async def test_a_mailed_interest_waits_for_confirmation_and_becomes_a_registration(
    mail_in: tuple[ServiceProcesses, int], sink: SinkClient, db: asyncpg.Connection
) -> None:
    procs, port = mail_in
    base = procs.url("registration")
    token = uuid.uuid4().hex[:10]
    kari = f"kari-{token}@example.no"
    ola = f"ola-{token}@example.no"
    answer = await send(
        port,
        letter(
            f"Kari Nordmann <{kari}>",
            "Hei!\n\nStyret i Vestland fylkesavdeling melder interesse for deltakelse, "
            "for Bergen og Sogndal.\n\nHilsen Kari, tlf 99 99 99 99",
        ),
    )
    assert answer.startswith("2.0.0") or "Kept" in answer
    await send(port, letter(f"Ola <{ola}>", "Vi vil gjerne være med! Hilsen styret"))

    # Kept before the 250: a crash right after loses neither.
    procs.kill("registration")
    procs.start("registration")

    vestland = await eventually(lambda: listed(base, kari), what="Kari's mail listed")
    assert vestland["status"] == "pending"
    assert vestland["branch_id"] == "vestland" and vestland["branch_name"] == "Vestland"
    assert vestland["subject_as_asked"] is True
    assert "Bergen og Sogndal" in vestland["body"]
    unknown = await listed(base, ola)
    assert unknown is not None and unknown["status"] == "unrecognised"
    assert unknown["branch_id"] is None

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        # Only programme management reads and decides them.
        refused = await client.get("/inbound-interest", headers=VESTLAND)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")

        # An unrecognised mail cannot be confirmed without naming the branch.
        response = await client.post(
            f"/inbound-interest/{unknown['id']}/confirmation",
            json={"round_id": "2030"},
            headers=PROGRAMME,
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "branch"

        response = await client.post(
            f"/inbound-interest/{vestland['id']}/confirmation",
            json={"round_id": "2030", "municipality_numbers": ["4601", "4640"]},
            headers=PROGRAMME,
        )
        assert response.status_code == 200, response.text
        confirmed = response.json()
        assert confirmed["status"] == "confirmed" and confirmed["decided_by"] == "Programledelsen"
        registration_id = confirmed["registration_id"]
        assert registration_id

        again = await client.post(
            f"/inbound-interest/{vestland['id']}/confirmation",
            json={"round_id": "2030"},
            headers=PROGRAMME,
        )
        assert again.status_code == 409

        # An ordinary interest registration, with the sender as its contact.
        response = await client.get(f"/interest-registrations/{registration_id}", headers=PROGRAMME)
        assert response.status_code == 200, response.text
        registration = response.json()
        assert registration["branch_id"] == "vestland"
        assert registration["contact"]["email"] == kari
        assert registration["contact"]["name"] == "Kari Nordmann"

        rejected = await client.post(
            f"/inbound-interest/{unknown['id']}/rejection",
            json={"reason": "Ikke fra et styre; svart per e-post"},
            headers=PROGRAMME,
        )
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["status"] == "rejected"
        assert rejected.json()["reason"] == "Ikke fra et styre; svart per e-post"

        pending = await client.get("/inbound-interest?status=pending", headers=PROGRAMME)
        assert all(m["sender_email"] not in (kari, ola) for m in pending.json())

    async def receipt() -> list[dict[str, Any]]:
        return [m for m in await sink.messages(containing=kari) if m["envelope_to"] == [kari]]

    mails = await eventually(receipt, what="the interest receipt to the sender")
    assert "Vestland" in mails[0]["subject"]
    assert "Hei Kari Nordmann" in mails[0]["text"]

    # Erasing the contact erases the mail they sent too (the row stays, empty).
    assert "registration.inbound_interest" in {
        h.split(":")[0] for h in await where_found(db, [kari])
    }
    async with httpx.AsyncClient(base_url=base, headers=PROGRAMME, timeout=30) as client:
        erased = await client.post(
            "/erasures", json={"person_id": registration["contact"]["person_id"]}
        )
        assert erased.status_code == 200, erased.text
        kept = await client.get(f"/inbound-interest/{vestland['id']}")
        assert kept.json()["status"] == "confirmed" and kept.json()["sender_email"] == ""
    assert [h for h in await where_found(db, [kari]) if h.startswith("registration.")] == []
