"""The registration service in-process, through its lifespan, on the real Kafka and PostgreSQL:
operations endpoints, its documents, and what one registration puts on the topics."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.registration.app import create_app
from services.registration.settings import LOCAL_API_TOKENS, RegistrationSettings
from shared.contracts.events.registration import (
    ContactDetails,
    InterestRegistered,
    RegisterInterest,
    contacts_topic,
)
from shared.contracts.topics import events_topic
from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.integration.support import data_of, headers_of, read_to_end

pytestmark = pytest.mark.integration


def handled_count(metrics_text: str) -> float:
    """Interest registrations handled, whichever way they came (topic "http" or Kafka)."""
    wanted = {"service": "registration", "type": RegisterInterest.TYPE, "outcome": "handled"}
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "ks_messages_total" and wanted.items() <= sample.labels.items()
    )


def channel_for(asyncapi: dict[str, Any], address: str) -> dict[str, Any]:
    found = [c for c in asyncapi["channels"].values() if c["address"] == address]
    assert len(found) == 1, f"{address} not among {list(asyncapi['channels'])}"
    channel: dict[str, Any] = found[0]
    return channel


async def test_registration_service_runs_and_publishes_an_interest(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
) -> None:
    token = uuid.uuid4().hex[:10]
    email = f"kari-{token}@example.no"
    settings = RegistrationSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        database_url=database.dsns["registration"],
        topic_prefix=topic_prefix,
        relay_poll_interval_s=0.5,
        api_tokens=json.dumps(LOCAL_API_TOKENS),
    )
    programme = {"Authorization": "Bearer local-programme"}
    board = {"Authorization": "Bearer local-board-vestland"}
    events, contacts = events_topic("registration", topic_prefix), contacts_topic(topic_prefix)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}

        async def is_ready() -> httpx.Response | None:
            # Ready once its consumer has its partitions and fetches, soon after the start.
            response = await client.get("/readyz")
            return response if response.status_code == 200 else None

        ready = await eventually(is_ready, what="ready")
        assert ready.json() == {"status": "ready", "outbox_unpublished": 0, "outbox_parked": 0}
        handled_before = handled_count((await client.get("/metrics")).text)

        members = await client.post(
            "/members", json={"municipality_numbers": ["4601"]}, headers=programme
        )
        assert members.status_code == 200, members.text
        opened = await client.post("/rounds", json={"round_id": "2030"}, headers=programme)
        assert opened.status_code == 201, opened.text
        created = await client.post(
            "/interest-registrations",
            headers=board,
            json={
                "round_id": "2030",
                "branch": "Vestland",
                "municipality_numbers": ["4601"],
                "contact": {"name": "Kari", "email": email},
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["duplicate"] is False
        registration_id = created.json()["result"]["registration_id"]

        async def backlog_empty() -> bool:
            response = await client.get("/readyz")
            assert response.status_code == 200, response.text
            return bool(response.json()["outbox_unpublished"] == 0)

        await eventually(backlog_empty, what="the outbox to be published")

        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "ks_messages_total" in metrics.text
        assert handled_count(metrics.text) == handled_before + 1

        stored = await client.get(f"/interest-registrations/{registration_id}", headers=board)
        assert stored.status_code == 200
        assert stored.json()["branch_id"] == "vestland"

        asyncapi = (await client.get("/asyncapi.json")).json()
        # The document names the service's topics under this run's prefix, one message per
        # type on each, with its payload schema.
        for address, model in ((events, InterestRegistered), (contacts, ContactDetails)):
            ref = channel_for(asyncapi, address)["messages"][model.TYPE]["$ref"]
            message = asyncapi["components"]["messages"][ref.rsplit("/", 1)[-1]]
            assert message["name"] == model.TYPE
            payload = message["payload"]["$ref"].rsplit("/", 1)[-1]
            assert asyncapi["components"]["schemas"][payload]["title"] == model.__name__
        openapi = (await client.get("/openapi.json")).json()
        assert "post" in openapi["paths"]["/interest-registrations"]

    published = await read_to_end(endpoints.kafka_bootstrap, events)
    (event,) = [r for r in published if headers_of(r)["ce_type"] == InterestRegistered.TYPE]
    (details,) = await read_to_end(endpoints.kafka_bootstrap, contacts)

    event_headers = headers_of(event)
    assert event_headers["ce_type"].endswith("interest-registered.v1")
    assert event_headers["ce_type"] == InterestRegistered.TYPE
    assert event.key == b"vestland"
    data = data_of(event)
    assert data["registration_id"] == registration_id
    assert (data["branch_id"], data["round_id"], data["municipality_numbers"]) == (
        "vestland",
        "2030",
        ["4601"],
    )
    # Public events carry ids, not contact data.
    assert not {"email", "name", "contact", "phone"} & set(data)
    assert email.encode() not in event.value and b"Kari" not in event.value

    details_headers = headers_of(details)
    assert details_headers["ce_type"] == ContactDetails.TYPE
    assert details.key == data["contact_person_id"].encode()
    contact = data_of(details)
    assert contact["person_id"] == data["contact_person_id"]
    assert (contact["email"], contact["name"]) == (email, "Kari")
    # Both come from the one command: same conversation, same cause.
    assert details_headers["ce_correlationid"] == event_headers["ce_correlationid"]
    assert details_headers["ce_causationid"] == event_headers["ce_causationid"]
