"""Nothing skipped: a failing message holds its partition through a kill, a restart and a
rebalance, and a later commit never passes over it.

The probe service (tests/e2e/probe_service.py) runs the real FastStream subscriber, processor,
inbox and dead letters in processes of their own. One message fails as a database outage
would; one cannot even be dead-lettered, because the dead-letter topic refuses it (its
`max.message.bytes` is too small), so it escapes the processor; a record with neither key nor
value is a third. The first consumer is killed while they fail, two new ones share the
partitions, the outage ends and the DLQ's limit is raised: every message is then handled once,
the two bad ones are dead letters with reasons, and the group's committed offsets reach the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.contracts.topics import dlq_topic
from shared.db.migrations import migrate
from shared.db.pool import connect
from shared.db.provision import provision
from shared.messaging.bus import NULL_VALUE_HEADER
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import ROOT, Endpoints, TestDatabase, eventually, free_port
from tests.integration.support import headers_of, read_to_end

pytestmark = pytest.mark.e2e

# The probe's own contract is not imported here: it would join this process's registry of
# published contracts, which the contract tests compare with the committed documents.
PROBE_TYPE = "no.kulturskoleradet.probe.probe.v1"
MIGRATIONS = Path(__file__).parent / "probe_migrations"
COUNT = 120
PARTITIONS = 3
GATED = 40  # partition 1: fails as if the database were away, until the gate opens
POISON = 60  # partition 0: not JSON, and too large for the DLQ as it is first configured
NULL = 90  # partition 0: neither key nor value
SMALL_DLQ_LIMIT = "200"  # bytes: below even a letter without its value


class Probes:
    """Probe service processes on one test's topics and schema."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[tuple[subprocess.Popen[bytes], int]] = []

    def start(self) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        log = open(self.logs / f"probe-{len(self.procs)}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.probe_service"],
            env={**self.env, "KS_PROBE_HTTP_PORT": str(port)},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append((proc, port))
        return proc, port

    async def ready(self, proc: subprocess.Popen[bytes], port: int) -> None:
        async def answers() -> bool:
            assert proc.poll() is None, f"probe exited; see {self.logs}"
            try:
                async with httpx.AsyncClient(timeout=1) as client:
                    return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(answers, timeout=90, what="the probe to be ready")

    async def escapes(self, proc: subprocess.Popen[bytes], port: int) -> float:
        """How often a message escaped this probe's processor (its own metric)."""
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("ks_messages_total{") and 'outcome="escaped"' in line
        )

    def stop_all(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


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
        "KS_PROBE_HANDLER_MAX_ATTEMPTS": "2",
    }
    found = Probes(env, logs_dir)
    yield found
    found.stop_all()


def probe_record(seq: int) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """(key, value, headers) of message `seq` as another system would publish it."""
    if seq == NULL:
        return None, None, []
    envelope = Envelope(
        id=str(uuid.uuid4()),
        type=PROBE_TYPE,
        source="/test/no-skip",
        time=datetime.now(UTC),
        data=json.dumps({"seq": seq}).encode(),
    )
    value = envelope.data if seq != POISON else b"{" + b"x" * 2000
    return f"probe-{seq}".encode(), value, envelope.headers()


async def test_a_failing_message_is_never_passed_over_by_kill_restart_and_rebalance(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str, probes: Probes
) -> None:
    topic = f"{topic_prefix}.probe.commands"
    dlq = dlq_topic(topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(topic, PARTITIONS, 1),
                NewTopic(dlq, 1, 1, topic_configs={"max.message.bytes": SMALL_DLQ_LIMIT}),
            ]
        )
        await provision(
            endpoints.pg_superuser_dsn, database.name, passwords={"probe": "probe-local"}
        )
        conn = await connect(probes.env["KS_PROBE_DATABASE_URL"], "probe")
        try:
            await migrate(conn, "probe", MIGRATIONS)
            await conn.execute("INSERT INTO probe_gate (seq) VALUES ($1)", GATED)

            first = probes.start()
            await probes.ready(*first)
            producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, acks="all")
            await producer.start()
            try:
                for seq in range(COUNT):
                    key, value, headers = probe_record(seq)
                    # `send` refuses a record with neither key nor value, which other clients
                    # (kcat, the Java producer) send; a batch of our own carries it.
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None, headers=headers)
                    batch.close()
                    await (await producer.send_batch(batch, topic, partition=seq % PARTITIONS))
            finally:
                await producer.stop()

            async def handled() -> dict[int, int]:
                rows = await conn.fetch("SELECT seq, count(*) AS n FROM probe_effects GROUP BY seq")
                return {r["seq"]: r["n"] for r in rows}

            async def gate_attempts() -> int:
                row = await conn.fetchrow("SELECT last_value, is_called FROM probe_gate_attempts")
                return int(row["last_value"]) if row["is_called"] else 0

            async def failing() -> bool:
                return await gate_attempts() >= 2 or await probes.escapes(*first) >= 1

            await eventually(failing, timeout=60, what="the first consumer to be failing")

            # A crash while it fails; two new consumers share the partitions.
            first[0].send_signal(signal.SIGKILL)
            first[0].wait(timeout=30)
            later = [probes.start(), probes.start()]
            for proc in later:
                await probes.ready(*proc)

            # The outage ends. The poison still cannot be dead-lettered: it escapes the
            # processor again and again, and its partition waits behind it while the others
            # flow. Nothing after it is handled, and no commit passes over it.
            await conn.execute("UPDATE probe_gate SET open = true WHERE seq = $1", GATED)
            behind_poison = {s for s in range(COUNT) if s % PARTITIONS == 0 and s >= POISON}
            others = set(range(COUNT)) - behind_poison

            async def held_at_the_poison() -> bool:
                escaped = sum([await probes.escapes(*proc) for proc in later])
                return escaped >= 2 and set(await handled()) >= others

            await eventually(held_at_the_poison, timeout=120, what="all but the poison's partition")
            assert set(await handled()) & behind_poison == set()
            offsets = await admin.list_consumer_group_offsets(f"{topic_prefix}.probe")
            assert {tp.partition: meta.offset for tp, meta in offsets.items()}[0] <= (
                POISON // PARTITIONS
            ), "an offset commit passed over the poison"

            # An operator raises the DLQ's limit: the poison becomes a letter, the rest flows.
            # Raised just after an escape, when the poison's next attempt is a second or more
            # away (the backoff doubles per escape): an attempt that met the broker while it
            # applied the change would see the letter refused and then its fallback without
            # the value taken (as designed), which is not what this step checks.
            async def escapes_now() -> float:
                return sum([await probes.escapes(*proc) for proc in later])

            before = await escapes_now()

            async def escaped_again() -> bool:
                return await escapes_now() >= max(before + 1, 5)

            await eventually(escaped_again, timeout=60, what="the poison to escape once more")
            await admin.alter_configs(
                [
                    ConfigResource(
                        ConfigResourceType.TOPIC, dlq, configs={"max.message.bytes": "1048576"}
                    )
                ]
            )
            expected = set(range(COUNT)) - {POISON, NULL}

            async def all_handled() -> bool:
                return set(await handled()) >= expected

            await eventually(all_handled, timeout=120, what="every message to be handled")
            counts = await handled()
            assert set(counts) == expected
            assert [seq for seq, n in counts.items() if n != 1] == [], "doubled effects"
        finally:
            await conn.close()

        letters = await read_to_end(endpoints.kafka_bootstrap, dlq)
        by_offset = {int(headers_of(r)["dlq_original_offset"]): r for r in letters}
        poison_offset, null_offset = POISON // PARTITIONS, NULL // PARTITIONS  # partition 0
        assert set(by_offset) == {poison_offset, null_offset}
        assert "not JSON" in headers_of(by_offset[poison_offset])["dlq_reason"]
        assert by_offset[poison_offset].value == b"{" + b"x" * 2000
        assert headers_of(by_offset[null_offset])[NULL_VALUE_HEADER] == "true"
        assert "not a CloudEvent" in headers_of(by_offset[null_offset])["dlq_reason"]

        async def committed_to_the_end() -> bool:
            offsets = await admin.list_consumer_group_offsets(f"{topic_prefix}.probe")
            return {tp.partition: meta.offset for tp, meta in offsets.items()} == {
                p: COUNT // PARTITIONS for p in range(PARTITIONS)
            }

        await eventually(committed_to_the_end, timeout=30, what="offsets committed to the end")
    finally:
        await admin.close()
