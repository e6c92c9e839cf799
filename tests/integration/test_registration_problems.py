"""Clear answers, on the real stack: RFC 9457 problem documents in bokmål (nynorsk and English
on request), 415 for a body that is not JSON, 401 (never 500) for any bad token; and commands
over Kafka that name their principal are checked like HTTP and record who acted."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared.contracts.events.registration import DecideApplication, Decision, ErasePerson
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import eventually
from tests.integration.registration_app import (
    AFTER_WINDOW_46,
    PROGRAMME,
    ROUND,
    VESTLAND,
    Registration,
    complete_group,
    registration_fixture,  # noqa: F401
)
from tests.integration.support import headers_of, read_to_end

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


def bergen_interest(**more: Any) -> dict[str, Any]:
    return {
        "round_id": ROUND,
        "branch": "Vestland",
        "municipality_numbers": ["4601", "9998"],
        "contact": {"name": "Kari", "email": "kari@example.no"},
        **more,
    }


async def test_refusals_are_problems_in_the_callers_language(registration: Registration) -> None:
    app = registration
    await app.open_round()
    answers = {}
    for language in (None, "nn-NO, en;q=0.5", "en-GB", "de, fr;q=0.9"):
        headers = dict(VESTLAND)
        headers["Accept-Language"] = language or ""
        response = await app.client.post(
            "/interest-registrations", json=bergen_interest(), headers=headers
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        answers[language] = response.json()
    bokmaal = answers[None]
    assert bokmaal == {
        "type": "urn:kulturskole:problem:unknown-municipality",
        "title": "Avvist",
        "status": 422,
        "detail": "Ukjente kommunenummer: 9998 (kommuneinndelingen fra 2024).",
        "instance": "/interest-registrations",
        "field": "municipality_numbers",
    }
    assert answers["nn-NO, en;q=0.5"]["detail"].startswith("Ukjende kommunenummer: 9998")
    assert answers["en-GB"]["detail"] == "unknown municipality number(s) 9998 (2024 structure)"
    assert answers["en-GB"]["title"] == "Refused"
    assert answers["de, fr;q=0.9"] == bokmaal  # no language we have: bokmål
    assert {a["type"] for a in answers.values()} == {bokmaal["type"]}  # stable per rule

    # A validation error names the field and not the value sent.
    secret = "s3cret-looking-value@@"
    invalid = await app.client.post(
        "/interest-registrations",
        json=bergen_interest(contact={"name": "Kari", "email": secret}),
        headers={**VESTLAND, "Accept-Language": "nb"},
    )
    assert invalid.status_code == 422
    problem = invalid.json()
    assert (problem["type"], problem["field"]) == (
        "urn:kulturskole:problem:invalid-input",
        "contact.email",
    )
    assert problem["detail"].startswith("Kontroller disse feltene")
    assert secret not in invalid.text


async def test_wrong_content_type_and_bad_tokens(registration: Registration) -> None:
    app = registration
    await app.open_round()
    as_text = await app.client.post(
        "/interest-registrations",
        content=b"round_id=2030",
        headers={**VESTLAND, "Content-Type": "text/plain"},
    )
    assert as_text.status_code == 415, as_text.text
    assert as_text.headers["content-type"] == PROBLEM
    assert as_text.json()["type"] == "urn:kulturskole:problem:unsupported-media-type"

    for token in ("blåbær", "nope", "local-programme2"):
        response = await app.client.get(
            f"/rounds/{ROUND}/status", headers={"Authorization": f"Bearer {token}".encode()}
        )
        assert response.status_code == 401, (token, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"
    missing = await app.client.get(f"/rounds/{ROUND}/status")
    assert (missing.status_code, missing.json()["title"]) == (401, "Not authenticated")

    unknown_route = await app.client.get("/no-such-thing", headers=PROGRAMME)
    assert (unknown_route.status_code, unknown_route.headers["content-type"]) == (404, PROBLEM)
    wrong_method = await app.client.put("/rounds", headers=PROGRAMME)
    assert wrong_method.status_code == 405
    assert "POST" in wrong_method.headers["allow"]
    assert (await app.client.get("/rounds/0000/status", headers=PROGRAMME)).status_code == 404


async def test_kafka_commands_with_a_principal_are_authorized_and_recorded(
    registration: Registration, producer: AIOKafkaProducer
) -> None:
    app = registration
    await app.open_round()
    await app.submit("4601", complete_group())
    app.clock.now = AFTER_WINDOW_46
    admit = DecideApplication(round_id=ROUND, municipality_number="4601", decision=Decision.ADMIT)
    as_board = Envelope.wrap(admit, source="/test", principal="county_board:vestland:Styret")
    as_programme = Envelope.wrap(admit, source="/test", principal="programme::Kari Programleder")
    forged = Envelope.wrap(
        ErasePerson(person_id="00000000-0000-0000-0000-000000000001"),
        source="/test",
        principal="superuser::Mallory",
    )
    for envelope in (as_board, as_programme, forged):
        await producer.send_and_wait(
            app.commands,
            value=envelope.data,
            key=envelope.subject.encode() if envelope.subject else b"x",
            headers=envelope.headers(),
        )

    async def letters() -> list[Any] | None:
        found = await read_to_end(app.bootstrap, app.commands_dlq)
        return found if len(found) == 2 else None

    dead = await eventually(letters, timeout=30, what="two dead letters")
    reasons = {headers_of(d)["ce_id"]: headers_of(d)["dlq_reason"] for d in dead}
    assert "programme management only" in reasons[as_board.id]
    assert "unknown role" in reasons[forged.id]
    assert headers_of(dead[0])["ce_principal"]  # the letter keeps who sent it

    async def admitted() -> dict[str, Any] | None:
        found = await app.get(f"/rounds/{ROUND}/applications/4601", PROGRAMME)
        return found if found["status"] == "admitted" else None

    read = await eventually(admitted, timeout=30, what="4601 admitted from the command topic")
    assert read["decided_by"] == "Kari Programleder"
