"""`kulturskole replay` against the real PostgreSQL and Kafka: a service's published events go
out again from its outbox, to a topic a late consumer reads, each as it first went out (key,
partition, headers with its ce_id, value), in order per key; what was never published stays
the relay's; `--since` and `--types` choose."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.contracts.events.registration import RoundOpened
from shared.contracts.topics import events_topic
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import ROOT, Endpoints, TestDatabase, eventually
from tests.integration.support import headers_of, read_to_end, running
from tests.integration.test_outbox_relay import all_published, commit, event, relay

pytestmark = pytest.mark.integration


async def kulturskole(*args: str) -> tuple[int, str, str]:
    """The command line as an operator runs it, in a process of its own."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def round_opened(round_id: str) -> Envelope:
    contract = RoundOpened(
        round_id=round_id,
        interest_deadline=date(2030, 9, 15),
        interest_closes_at=datetime(2030, 9, 15, 22, tzinfo=UTC),
        capacity_per_branch={},
    )
    return Envelope.wrap(contract, source="/test/replay", subject=round_id)


async def test_replay_republishes_published_events_as_they_were_for_a_late_consumer(
    endpoints: Endpoints,
    database: TestDatabase,
    registration_pool: asyncpg.Pool,
    topic_prefix: str,
    token: str,
) -> None:
    topic = events_topic("registration", topic_prefix)
    late = f"{topic_prefix}.late-consumer.replay"
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(late, 3, 1)])
    finally:
        await admin.close()

    keys = [f"branch-{token}-{i}" for i in range(3)]
    published = [event(key, seq) for seq in range(4) for key in keys]
    published.insert(5, round_opened("2030"))
    async with running(relay(database, endpoints.kafka_bootstrap).run(), "relay"):
        await commit(registration_pool, topic, published)
        await eventually(
            lambda: all_published(registration_pool, len(published)), what="the events published"
        )
    # Written after the relay stopped: not yet published, so not the replay's to send.
    await commit(registration_pool, topic, [event(keys[0], 99)])

    common = ["--schema", "registration", "--dsn", database.dsns["registration"]]
    code, out, err = await kulturskole(
        "replay", *common, "--topic", topic, "--to", late, "--bootstrap", endpoints.kafka_bootstrap
    )
    assert code == 0, err
    assert f"republished {len(published)} event(s) from registration" in out

    originals = {
        headers_of(r)["ce_id"]: r for r in await read_to_end(endpoints.kafka_bootstrap, topic)
    }
    replayed = await read_to_end(endpoints.kafka_bootstrap, late)
    assert sorted(headers_of(r)["ce_id"] for r in replayed) == sorted(e.id for e in published)
    for record in replayed:
        original = originals[headers_of(record)["ce_id"]]
        assert record.key == original.key
        assert record.partition == original.partition  # the same key, the same partition
        assert record.headers == original.headers
        assert record.value == original.value
    # Each key's events in the order they first went out.
    for key in keys:
        ids = [headers_of(r)["ce_id"] for r in replayed if r.key == key.encode()]
        assert ids == [e.id for e in published if e.subject == key]

    # Only the older half: --since after the first rows; only one type: --types.
    await registration_pool.execute(
        "UPDATE outbox SET created_at = now() - interval '2 days'"
        " WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 6)"
    )
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    code, out, err = await kulturskole(
        "replay", *common, "--topic", topic, "--since", since, "--dry-run"
    )
    assert code == 0, err
    assert f"would republish {len(published) - 6} event(s)" in out
    code, out, err = await kulturskole(
        "replay", *common, "--topic", topic, "--types", RoundOpened.TYPE, "--dry-run"
    )
    assert code == 0, err
    assert "would republish 1 event(s)" in out
    assert len(await read_to_end(endpoints.kafka_bootstrap, late)) == len(published)  # dry runs

    code, _, err = await kulturskole("replay", *common, "--topic", topic, "--since", "2026-01-01")
    assert code == 2 and "time zone" in err
