"""Graceful shutdown: on SIGTERM a service takes no new message, finishes the one in hand,
commits it (its effects and its offset), and exits.

The probe service (tests/e2e/probe_service.py) handles each message slowly here: its handler
sleeps inside the transaction (`pg_sleep`), so the test sees it running in `pg_stat_activity`
and sends SIGTERM exactly then, as Kubernetes or `docker compose stop` would.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.db.migrations import migrate
from shared.db.pool import connect
from shared.db.provision import provision
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.e2e.scrape import Scrape
from tests.e2e.test_no_skip import MIGRATIONS, PROBE_TYPE, Probes

pytestmark = pytest.mark.e2e

DELAY_S = 4.0  # the handler's time per message: long enough to signal in the middle of it


@pytest.fixture
def probes(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str, logs_dir: Path
) -> Iterator[Probes]:
    base = endpoints.pg_superuser_dsn.split("@", 1)[1].rsplit("/", 1)[0]
    env = {
        **os.environ,
        "KS_PROBE_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "KS_PROBE_DATABASE_URL": f"postgresql://probe:probe-local@{base}/{database.name}",
        "KS_PROBE_TOPIC_PREFIX": topic_prefix,
    }
    found = Probes(env, logs_dir)
    yield found
    found.stop_all()


def probe_message(seq: int) -> tuple[bytes, list[tuple[str, bytes]]]:
    envelope = Envelope(
        id=str(uuid.uuid4()),
        type=PROBE_TYPE,
        source="/test/graceful-shutdown",
        time=datetime.now(UTC),
        data=json.dumps({"seq": seq}).encode(),
    )
    return envelope.data, envelope.headers()


async def test_sigterm_finishes_and_commits_the_message_in_hand_and_takes_no_new_one(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str, probes: Probes
) -> None:
    topic = f"{topic_prefix}.probe.commands"
    group = f"{topic_prefix}.probe"
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await provision(endpoints.pg_superuser_dsn, database.name, passwords={"probe": "probe-local"})
    conn = await connect(probes.env["KS_PROBE_DATABASE_URL"], "probe")
    # The superuser sees every session's query in pg_stat_activity; the probe's role only its own.
    watcher = await asyncpg.connect(
        endpoints.pg_superuser_dsn.rsplit("/", 1)[0] + f"/{database.name}"
    )
    try:
        await migrate(conn, "probe", MIGRATIONS)

        async def effects() -> dict[int, int]:
            rows = await conn.fetch("SELECT seq, count(*) AS n FROM probe_effects GROUP BY seq")
            return {r["seq"]: r["n"] for r in rows}

        async def committed() -> int | None:
            offsets = await admin.list_consumer_group_offsets(group)
            return next((meta.offset for tp, meta in offsets.items() if tp.partition == 0), None)

        async def handling() -> bool:
            return bool(
                await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'active' AND query LIKE 'SELECT pg_sleep%'"
                )
            )

        probes.env["KS_PROBE_HANDLER_DELAY_S"] = str(DELAY_S)
        slow = probes.start()
        await probes.ready(*slow)
        value, headers = probe_message(1)
        await producer.send_and_wait(topic, value=value, key=b"probe-1", headers=headers)
        await eventually(handling, timeout=30, what="the probe to be handling message 1")

        slow[0].send_signal(signal.SIGTERM)
        # Sent while the probe shuts down: a service that is stopping must not take it.
        value, headers = probe_message(2)
        await producer.send_and_wait(topic, value=value, key=b"probe-2", headers=headers)
        # Uvicorn shuts down, then raises the signal it caught again, so a clean exit on
        # SIGTERM is -SIGTERM (a killed or crashed process would show otherwise).
        assert slow[0].wait(timeout=30) in (0, -signal.SIGTERM)

        # The message in hand was finished and committed: its effect once, its inbox row,
        # and the group's offset past it. The one sent during shutdown was not taken.
        assert await effects() == {1: 1}
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE type = $1", PROBE_TYPE) == 1
        assert await committed() == 1, "the offset of the finished message was not committed"

        # A new process goes on after it: message 2 is handled, message 1 is not redelivered.
        probes.env["KS_PROBE_HANDLER_DELAY_S"] = "0"
        fresh = probes.start()
        await probes.ready(*fresh)

        async def second_handled() -> bool:
            return 2 in await effects()

        await eventually(second_handled, timeout=60, what="message 2 after the restart")
        assert await effects() == {1: 1, 2: 1}
        metrics = await Scrape.of(f"http://127.0.0.1:{fresh[1]}")
        assert metrics.total("ks_messages_total", outcome="duplicate") == 0, (
            "message 1 was delivered again"
        )

        async def committed_to_the_end() -> bool:
            return await committed() == 2

        await eventually(committed_to_the_end, timeout=30, what="the offset past message 2")
    finally:
        await watcher.close()
        await conn.close()
        await producer.stop()
        await admin.close()
