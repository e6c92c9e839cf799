"""Each service takes person tokens (signed at sign-in by a front acting for a person) beside
its API tokens: the person acts in their role and branch, under their own name, and a bad
token is a clear 401."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.notification.app import create_app as notification_app
from services.notification.app import local_tokens as notification_tokens
from services.notification.settings import NotificationSettings
from shared.contracts.events.registration import RoundOpened
from shared.contracts.topics import events_topic
from shared.messaging.envelope import Envelope
from shared.runtime.auth import issue_person_token
from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.integration.registration_app import (
    AFTER_WINDOW_46,
    AGDER,
    MEMBERS,
    OSLO,
    ROUND,
    START,
    WINDOW_46,
    Registration,
    complete_group,
    draft,
    registration_fixture,  # noqa: F401
    short,
)
from tests.integration.scheduling_app import started_scheduling
from tests.integration.support import (
    PERSON_TOKEN_SECRET,
    as_person,
    data_of,
    headers_of,
    person_token,
)

pytestmark = pytest.mark.integration

KARI = ("programme", "Kari Programleder", None)
VERA = ("board", "Vera Vestland", "Vestland")  # the branch by name, as people write it
AGNES = ("county_board", "Agnes Agder", "agder")
OLA = ("observer", "Ola Observatør", None)


def bad_tokens() -> dict[str, tuple[str, str]]:
    """Person tokens no service may take, with what the 401 says (in English)."""
    claims = {"role": "county_board", "name": "Vera", "branch": None, "exp": 2**40}
    payload = person_token(*KARI).split(".")[0]
    return {
        "expired": (person_token(*KARI, expired=True), "The sign-in has expired"),
        "signed with another secret": (
            issue_person_token("another-secret-of-some-length", *KARI, 600),
            "its signature does not match",
        ),
        "tampered": (
            # Kari's payload under Ola's signature: an observer made programme management.
            f"{payload}.{person_token(*OLA).split('.')[1]}",
            "its signature does not match",
        ),
        "unknown role": (_signed({**claims, "role": "admin", "branch": "agder"}), "unknown role"),
        "board without a branch": (_signed(claims), "must name its branch"),
        "board of no branch": (person_token("board", "Vera", "Atlantis"), "does not exist"),
        "malformed": ("eyJyb2xlIjoi.c2lnbmF0dXJl.ZXh0cmE", "cannot be read"),
    }


def _signed(claims: dict[str, Any]) -> str:
    """A token in the right format and signature holding what `issue_person_token` refuses."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(PERSON_TOKEN_SECRET.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{b64(mac)}"


async def refused_as_401(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> None:
    """Every bad token answers 401 with a problem document saying why, never a 5xx."""
    for what, (token, reason) in bad_tokens().items():
        response = await client.request(
            method,
            path,
            headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
            **kw,
        )
        assert response.status_code == 401, f"{what}: {response.status_code} {response.text}"
        assert response.headers["content-type"] == "application/problem+json", what
        assert response.headers["www-authenticate"] == "Bearer", what
        assert reason in response.json()["detail"], f"{what}: {response.json()}"


async def test_registration_acts_for_the_person_and_records_who_decided(
    registration: Registration,
) -> None:
    app = registration
    kari, vera, agnes = as_person(*KARI), as_person(*VERA), as_person(*AGNES)
    await app.accepted("/members", {"municipality_numbers": MEMBERS}, kari)
    await app.accepted("/rounds", {"round_id": ROUND}, kari, status=201)
    await app.accepted("/application-windows", {"round_id": ROUND, **WINDOW_46}, kari, status=201)
    await app.refused("/rounds", {"round_id": "2031"}, vera, 403, "programme management only")
    await app.refused("/rounds", {"round_id": "2031"}, as_person(*OLA), 403)

    # Vestland's board applies for Bergen; Agder's may not, with a person token as with an
    # API token (403, nothing stored).
    await app.refused(
        "/application-drafts", draft("4601", complete_group()), agnes, 403, "county 46"
    )
    await app.refused(
        "/application-drafts", draft("4601", complete_group()), AGDER, 403, "county 46"
    )
    await app.submit("4601", complete_group(), vera)
    response = await app.client.get(f"/rounds/{ROUND}/applications/4601", headers=agnes)
    assert response.status_code == 403, response.text

    app.clock.now = AFTER_WINDOW_46
    await refused_as_401(
        app.client,
        "POST",
        "/decisions",
        json={"round_id": ROUND, "municipality_number": "4601", "decision": "admit"},
    )
    decided = await app.accepted(
        "/decisions", {"round_id": ROUND, "municipality_number": "4601", "decision": "admit"}, kari
    )
    assert decided["decided_by"] == "Kari Programleder"
    read = await app.client.get(f"/rounds/{ROUND}/applications/4601", headers=vera)
    assert read.status_code == 200, read.text
    assert (read.json()["status"], read.json()["decided_by"]) == ("admitted", "Kari Programleder")
    [admitted] = [
        data_of(r)
        for r in await app.published(app.events)
        if short(headers_of(r)["ce_type"]) == "municipality-admitted.v1"
    ]
    assert admitted["decided_by"] == "Kari Programleder"


async def test_scheduling_takes_person_tokens_and_keeps_a_board_to_its_region(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str, producer: AIOKafkaProducer
) -> None:
    opened = RoundOpened(
        round_id=ROUND,
        interest_deadline=date(2029, 9, 15),
        interest_closes_at=datetime(2029, 9, 15, 23, 59, tzinfo=OSLO),
        capacity_per_branch={},
    )
    envelope = Envelope.wrap(opened, source="/registration", subject=opened.key())
    await producer.send_and_wait(
        events_topic("registration", topic_prefix),
        value=envelope.data,
        key=opened.key().encode(),
        headers=envelope.headers(),
    )
    async with started_scheduling(endpoints, database, topic_prefix, START) as s:

        async def round_known() -> bool:
            return bool(await s.db.fetchval("SELECT count(*) FROM rounds"))

        await eventually(round_known, timeout=60, what="the round read by scheduling")
        request = {"round_id": ROUND, "region": "vestland", "topic": "Kulturskolen og skolen"}
        await s.refused(
            "/dialogue-requests", request, as_person(*AGNES), 403, "may not act for the branch"
        )
        await refused_as_401(s.client, "POST", "/dialogue-requests", json=request)
        vera = as_person(*VERA)
        asked = await s.accepted("/dialogue-requests", request, vera, status=201)
        requested_by = await s.db.fetchval(
            "SELECT requested_by FROM dialogue_requests WHERE id = $1",
            uuid.UUID(asked["request_id"]),
        )
        assert requested_by == "Vera Vestland"
        listed = await s.get(f"/rounds/{ROUND}/dialogue-requests", vera, region="vestland")
        assert [r["id"] for r in listed] == [asked["request_id"]]
        response = await s.client.get(
            f"/rounds/{ROUND}/dialogue-requests",
            params={"region": "vestland"},
            headers=as_person(*AGNES),
        )
        assert response.status_code == 403, response.text
        # A calendar app may send the token in the query: a person token too.
        feed = await s.client.get(
            "/feeds/regions/vestland.ics", params={"token": person_token(*OLA)}
        )
        assert (feed.status_code, feed.headers["content-type"].split(";")[0]) == (
            200,
            "text/calendar",
        )
        await refused_as_401(s.client, "GET", f"/rounds/{ROUND}")


@contextlib.asynccontextmanager
async def started_notification(
    endpoints: Endpoints, database: TestDatabase, prefix: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = NotificationSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        database_url=database.dsns["notification"],
        topic_prefix=prefix,
        smtp_host=endpoints.smtp_host,
        smtp_port=endpoints.smtp_port,
        mail_sending=False,
        api_tokens=json.dumps(notification_tokens()),
        person_token_secret=PERSON_TOKEN_SECRET,
    )
    app = notification_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as client,
    ):
        yield client


async def test_notification_takes_person_tokens_for_programme_management_only(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str
) -> None:
    async with started_notification(endpoints, database, topic_prefix) as client:
        supervisor = {"name": "Anne Veileder", "email": "anne@example.no"}
        for who in (VERA, AGNES, OLA):
            response = await client.put(
                "/supervisors/veileder-1", json=supervisor, headers=as_person(*who)
            )
            assert response.status_code == 403, f"{who}: {response.text}"
        await refused_as_401(client, "PUT", "/supervisors/veileder-1", json=supervisor)
        response = await client.put(
            "/supervisors/veileder-1", json=supervisor, headers=as_person(*KARI)
        )
        assert response.status_code == 200, response.text
        deliveries = await client.get("/deliveries", headers=as_person(*KARI))
        assert deliveries.status_code == 200, deliveries.text
        # The API tokens keep working beside person tokens.
        local = await client.get("/deliveries", headers={"Authorization": "Bearer local-programme"})
        assert local.status_code == 200, local.text
