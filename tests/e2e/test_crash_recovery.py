"""Nothing lost, nothing doubled: services killed mid-stream (SIGKILL) and restarted."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.notification.settings import NotificationSettings
from services.registration.domain.reference import ReferenceData
from shared.contracts.events.registration import RegisterInterest
from shared.contracts.topics import commands_topic
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import (
    Endpoints,
    ServiceProcesses,
    SinkClient,
    eventually,
)
from tests.e2e.conftest import ROUNDS  # 20 rounds x 10 branches = 200 commands
from tests.e2e.test_interest_flow import PROGRAMME_MAILBOX, interest

pytestmark = pytest.mark.e2e

BRANCHES = sorted(b.name for b in ReferenceData.load().branches.values())


async def test_killing_registration_and_notification_mid_stream_loses_and_doubles_nothing(
    services: ServiceProcesses, sink: SinkClient, endpoints: Endpoints, topic_prefix: str
) -> None:
    token = uuid.uuid4().hex[:10]
    commands = [
        Envelope.wrap(
            RegisterInterest.model_validate(
                interest(f"{token}-{i}", branch=branch, round_id=round_id, municipalities=[])
            ),
            source="/test/load",
        )
        for i, (round_id, branch) in enumerate((r, b) for r in ROUNDS for b in BRANCHES)
    ]
    expected = 2 * len(commands)
    records = [(c.headers(), c.data) for c in commands]
    # The kill lands on a stream, not after it: a first part is published and mail has
    # begun to go out; a second part goes in right before the kill, so both services are
    # busy with it; the rest is published only after the kill, so work was certainly left.
    first, second = len(records) * 2 // 5, len(records) * 7 // 10
    producer = AIOKafkaProducer(
        bootstrap_servers=endpoints.kafka_bootstrap, enable_idempotence=True
    )
    await producer.start()
    topic = commands_topic("registration", topic_prefix)

    async def publish(part: list[tuple[list[tuple[str, bytes]], bytes]]) -> None:
        for headers, value in part:
            await producer.send_and_wait(topic, value=value, key=b"test", headers=headers)

    try:
        await publish(records[:first])
        await eventually(lambda: sink.messages(containing=token), what="the first mails")
        await publish(records[first:second])
        services.kill("notification")
        services.kill("registration")
        await publish(records[second:])
    finally:
        await producer.stop()
    services.start("registration", "notification")

    # SMTP has no two-phase commit: a kill between the server's "250" and our commit may
    # repeat the mails taken and not yet marked, with the same Message-ID: at most
    # `mail_unmarked_per_connection` per connection. Nothing else may repeat.
    defaults = NotificationSettings.model_fields
    in_flight_at_kill = (
        defaults["smtp_connections"].default * defaults["mail_unmarked_per_connection"].default
    )

    async def all_mail() -> list[dict[str, Any]] | None:
        found = await sink.messages(containing=token)
        assert len(found) <= expected + in_flight_at_kill, f"{len(found)} mails for {expected}"
        distinct = {m["message_id"] for m in found}
        return found if len(distinct) == expected else None

    mails = await eventually(all_mail, timeout=120, what=f"{expected} distinct mails")
    ids = Counter(m["message_id"] for m in mails)
    assert sum(n - 1 for n in ids.values()) <= in_flight_at_kill, ids.most_common(3)
    mails = list({m["message_id"]: m for m in mails}.values())
    receipts = Counter(
        m["envelope_to"][0] for m in mails if m["envelope_to"][0] != PROGRAMME_MAILBOX
    )
    assert len(receipts) == len(commands) and set(receipts.values()) == {1}
    copies = [m for m in mails if m["envelope_to"][0] == PROGRAMME_MAILBOX]
    assert len(copies) == len(commands)
