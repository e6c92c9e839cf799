"""A county branch registers interest; the branch's contact and the programme mailbox are told.

All three services run as processes against the real Kafka, PostgreSQL and SMTP sink.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.contracts.events.registration import RegisterInterest
from shared.contracts.topics import commands_topic, dlq_topic
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import (
    Endpoints,
    ServiceProcesses,
    SinkClient,
    eventually,
)
from tests.e2e.conftest import PROGRAMME

pytestmark = pytest.mark.e2e

PROGRAMME_MAILBOX = "post@kulturskoleradet.no"
PROGRAMME_SUBJECT = "Fremtidens kulturskole, Regionale program"


def interest(
    token: str,
    *,
    branch: str = "Vestland",
    round_id: str = "2030",
    municipalities: list[str] | None = None,
    language: str = "nb",
) -> dict[str, Any]:
    return {
        "round_id": round_id,
        "branch": branch,
        "municipality_numbers": ["4601", "4640"] if municipalities is None else municipalities,
        "contact": {
            "name": "Kari Nordmann",
            "email": f"kari-{token}@example.no",
            "language": language,
        },
        "message": f"Styret vil delta. ref {token}",
    }


async def send_commands(
    bootstrap: str, topic: str, records: list[tuple[list[tuple[str, bytes]], bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for headers, value in records:
            await producer.send_and_wait(topic, value=value, key=b"test", headers=headers)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout: float = 30) -> list[Any]:
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

        async def collected() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
            return len(records) >= expect

        await eventually(collected, timeout=timeout, what=f"{expect} records on {topic}")
    finally:
        await consumer.stop()
    return records


async def test_interest_over_http_sends_receipt_and_programme_copy(
    services: ServiceProcesses, sink: SinkClient
) -> None:
    token = uuid.uuid4().hex[:10]
    async with httpx.AsyncClient(
        base_url=services.url("registration"), headers=PROGRAMME
    ) as client:
        response = await client.post("/interest-registrations", json=interest(token, language="nn"))
    assert response.status_code == 201, response.text
    registration_id = response.json()["result"]["registration_id"]

    mails = await eventually(
        lambda: _when_count(sink.messages(containing=token), 2), what="receipt and programme copy"
    )
    by_to = {m["envelope_to"][0]: m for m in mails}
    receipt = by_to[f"kari-{token}@example.no"]
    assert "Vestland" in receipt["subject"]
    assert "Hei Kari Nordmann" in receipt["text"]
    assert "Venleg helsing" in receipt["text"]  # the contact asked for nynorsk
    copy = by_to[PROGRAMME_MAILBOX]
    assert copy["subject"] == PROGRAMME_SUBJECT
    assert "Fylkesavdeling: Vestland" in copy["text"]
    assert registration_id in copy["text"]
    assert "Interesserte medlemskommuner: Bergen og Sogndal" in copy["text"]  # by name


async def test_interest_over_command_topic_takes_the_same_path(
    services: ServiceProcesses, sink: SinkClient, endpoints: Endpoints, topic_prefix: str
) -> None:
    token = uuid.uuid4().hex[:10]
    command = RegisterInterest.model_validate(
        interest(token, branch="Trøndelag", municipalities=["5001"])
    )
    envelope = Envelope.wrap(command, source="/test/county-system")
    await send_commands(
        endpoints.kafka_bootstrap,
        commands_topic("registration", topic_prefix),
        [(envelope.headers(), envelope.data)],
    )

    mails = await eventually(
        lambda: _when_count(sink.messages(containing=token), 2), what="two mails"
    )
    assert {m["envelope_to"][0] for m in mails} == {f"kari-{token}@example.no", PROGRAMME_MAILBOX}
    copy = next(m for m in mails if m["envelope_to"][0] == PROGRAMME_MAILBOX)
    assert "Fylkesavdeling: Trøndelag" in copy["text"]


async def test_bad_input_is_refused_with_a_reason_and_nothing_else_breaks(
    services: ServiceProcesses, sink: SinkClient, endpoints: Endpoints, topic_prefix: str
) -> None:
    token = uuid.uuid4().hex[:10]
    async with httpx.AsyncClient(
        base_url=services.url("registration"), headers=PROGRAMME
    ) as client:
        malformed = await client.post(
            "/interest-registrations",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        unknown = await client.post(
            "/interest-registrations", json=interest(token, municipalities=["9998"])
        )
        wrong_county = await client.post(
            "/interest-registrations", json=interest(token, branch="Agder", municipalities=["4601"])
        )
        too_long = await client.post(
            "/interest-registrations", json={**interest(token), "message": "x" * 4001}
        )
    assert malformed.status_code == 400  # not JSON at all: a bad request, as a problem document
    assert unknown.status_code == 422 and "9998" in unknown.json()["detail"]
    assert wrong_county.status_code == 422 and "4601 Bergen" in wrong_county.json()["detail"]
    assert too_long.status_code == 422

    topic = commands_topic("registration", topic_prefix)
    good = Envelope.wrap(
        RegisterInterest.model_validate(
            interest(token, branch="Rogaland", municipalities=["1103"])
        ),
        source="/test",
    )
    invalid = Envelope.wrap(RegisterInterest.model_validate(interest(token)), source="/test")
    await send_commands(
        endpoints.kafka_bootstrap,
        topic,
        [
            ([("ce_specversion", b"1.0")], b"{}"),  # not a CloudEvent
            (invalid.headers(), b"{broken json"),  # undecodable
            (
                [
                    *invalid.headers()[:2],
                    ("ce_type", b"no.kulturskoleradet.registration.nonsense.v1"),
                    *invalid.headers()[3:],
                ],
                invalid.data,
            ),  # unknown type
            (
                Envelope.wrap(
                    RegisterInterest.model_validate(interest(token, municipalities=["0301"])),
                    source="/test",
                ).headers(),
                RegisterInterest.model_validate(interest(token, municipalities=["0301"]))
                .model_dump_json()
                .encode(),
            ),
            (good.headers(), good.data),  # and a good one after all that
        ],
    )

    dead = await read_topic(endpoints.kafka_bootstrap, dlq_topic(topic), expect=4)
    reasons = [dict(r.headers)["dlq_reason"].decode() for r in dead]
    assert any("missing header(s) ce_id" in r for r in reasons)
    assert any("not JSON" in r for r in reasons)
    assert any("unknown or unexpected ce_type" in r for r in reasons)
    assert any("rejected:" in r and "0301 Oslo" in r for r in reasons)
    for record in dead:
        assert dict(record.headers)["dlq_original_topic"].decode() == topic

    mails = await eventually(
        lambda: _when_count(sink.messages(containing=token), 2), what="good one's mails"
    )
    assert all("Rogaland" in m["subject"] or "Rogaland" in m["text"] for m in mails)
    async with httpx.AsyncClient(
        base_url=services.url("registration"), headers=PROGRAMME
    ) as client:
        assert (await client.get("/readyz")).status_code == 200


async def test_idempotency_key_makes_a_retried_post_harmless(
    services: ServiceProcesses, sink: SinkClient
) -> None:
    token = uuid.uuid4().hex[:10]
    key = f"retry-{token}"
    async with httpx.AsyncClient(
        base_url=services.url("registration"), headers=PROGRAMME
    ) as client:
        first = await client.post(
            "/interest-registrations",
            json=interest(token, branch="Nordland", municipalities=["1804"]),
            headers={"Idempotency-Key": key},
        )
        again = await client.post(
            "/interest-registrations",
            json=interest(token, branch="Nordland", municipalities=["1804"]),
            headers={"Idempotency-Key": key},
        )
    assert first.status_code == 201 and first.json()["duplicate"] is False
    # The retry is not run again: it gets the first answer, as it was, marked as a replay.
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    await eventually(lambda: _when_count(sink.messages(containing=token), 2), what="two mails")
    async with httpx.AsyncClient(
        base_url=services.url("notification"), headers=PROGRAMME
    ) as client:
        sent = (await client.get("/deliveries", params={"status": "sent"})).json()
    assert len(sent) == 2  # one receipt, one copy: the retried POST planned nothing more

    # Registering again (a new request) updates the registration: same id, an update receipt.
    async with httpx.AsyncClient(
        base_url=services.url("registration"), headers=PROGRAMME
    ) as client:
        other = await client.post(
            "/interest-registrations",
            json=interest(token, branch="Nordland", municipalities=["1804", "1833"]),
        )
    assert other.status_code == 200, other.text
    updated = other.json()["result"]
    assert updated["registration_id"] == first.json()["result"]["registration_id"]
    assert updated["municipality_numbers"] == ["1804", "1833"]
    mails = await eventually(
        lambda: _when_count(sink.messages(containing=token), 4), what="4 mails"
    )
    receipt = next(m for m in mails if m["subject"].startswith("Oppdatert"))
    assert "Kommuner: Bodø og Rana" in receipt["text"]  # by name, not number


async def _when_count(messages: Any, n: int) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] = await messages
    assert len(found) <= n, f"more mails than expected: {[m['subject'] for m in found]}"
    return found if len(found) == n else None
