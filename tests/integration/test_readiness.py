"""Readiness says whether a service can do its work; liveness only that the process answers.

Registration runs in-process on a private broker of this test's own (stopping the shared one
would fail everyone else's tests): ready once its consumer has its partitions and fetches,
not ready while the broker is gone, though alive, and ready again once the broker is back.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.catalog import SERVICES
from services.registration.app import create_app
from services.registration.settings import LOCAL_API_TOKENS, RegistrationSettings
from shared.messaging.kafka_admin import ensure_topics
from shared.runtime.catalog import topic_specs
from shared.testing.fixtures import TestDatabase, eventually
from shared.testing.kafka_broker import PrivateKafka, missing_prerequisite, private_broker

pytestmark = pytest.mark.integration


@pytest.fixture
async def private_kafka(tmp_path: Path) -> AsyncIterator[PrivateKafka]:
    reason = missing_prerequisite()
    if reason and os.environ.get("KS_TEST_KAFKA_BOOTSTRAP"):
        # The local stack runs from these jars: where it runs, the broker must start too.
        pytest.fail(f"no private Kafka broker beside the local stack: {reason}")
    if reason:
        pytest.skip(f"no private Kafka broker: {reason}")
    async with private_broker(tmp_path / "kafka") as broker:
        yield broker


async def test_a_service_whose_broker_is_gone_is_alive_but_not_ready(
    private_kafka: PrivateKafka, database: TestDatabase
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    await ensure_topics(private_kafka.bootstrap, topic_specs(SERVICES, prefix))
    settings = RegistrationSettings(
        kafka_bootstrap=private_kafka.bootstrap,
        database_url=database.dsns["registration"],
        topic_prefix=prefix,
        api_tokens=json.dumps(LOCAL_API_TOKENS),
        ready_fetch_within_s=3,
    )
    app = create_app(settings)

    async def readiness() -> httpx.Response:
        return await client.get("/readyz")

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):

        async def ready() -> bool:
            return (await readiness()).status_code == 200

        await eventually(ready, timeout=60, what="ready: consumer assigned and fetching")
        assert (await readiness()).json()["status"] == "ready"

        await private_kafka.stop()

        async def not_ready() -> httpx.Response | None:
            response = await readiness()
            return response if response.status_code == 503 else None

        answer = await eventually(not_ready, timeout=30, what="not ready without the broker")
        assert answer.json()["status"] == "kafka unavailable", answer.text
        assert "fetch" in answer.json()["error"], answer.text
        # Liveness stays cheap and true: a restart would not bring the broker back.
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}

        await private_kafka.start()  # same port, same data
        await eventually(ready, timeout=90, what="ready again once the broker is back")
