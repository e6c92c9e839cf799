"""The operator's dead-letter tools: list a DLQ, re-drive chosen letters, the same by CLI.

Dead letters are made the way a consumer makes them: poison published to the commands topic,
read back, and handed to `DeadLetters.send` with the reason decoding gave.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import sys

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from shared.contracts.events.registration import ContactPerson, RegisterInterest
from shared.contracts.topics import commands_topic, dlq_topic
from shared.messaging.bus import DeadLetters
from shared.messaging.dead_letters import DeadLetter, DeadLetterError, list_dead_letters, redrive
from shared.messaging.envelope import Envelope, PoisonMessage
from shared.testing.fixtures import ROOT, Endpoints, TestDatabase
from tests.integration.support import headers_of, read_to_end

pytestmark = pytest.mark.integration

SOURCE = "/test/dead-letters"
GROUP = "itest-dead-letters"


def register_interest(branch: str) -> Envelope:
    command = RegisterInterest(
        round_id="2026",
        branch=branch,
        municipality_numbers=["4601"],
        contact=ContactPerson(name="Kari Nordmann", email="kari@example.no"),
    )
    return Envelope.wrap(command, source=SOURCE)


def poison_reason(record: ConsumerRecord) -> str:
    try:
        Envelope.from_kafka(record.headers, record.value).decode([RegisterInterest.TYPE])
    except PoisonMessage as poison:
        return poison.reason
    raise AssertionError(f"not poison: {record!r}")


async def publish(
    producer: AIOKafkaProducer, bootstrap: str, topic: str, *messages: Envelope
) -> list[ConsumerRecord]:
    """Publish each envelope's headers with a value that fails validation; read them back."""
    sent = []
    for envelope in messages:
        broken = json.loads(envelope.data)
        broken["contact"]["email"] = "not an address"
        meta = await producer.send_and_wait(
            topic,
            value=json.dumps(broken).encode(),
            key=f"branch-{envelope.id}".encode(),
            headers=envelope.headers(),
        )
        sent.append((meta.partition, meta.offset))
    found = {(r.partition, r.offset): r for r in await read_to_end(bootstrap, topic)}
    return [found[place] for place in sent]


async def dead_letters(
    producer: AIOKafkaProducer, bootstrap: str, topic: str, *messages: Envelope
) -> list[ConsumerRecord]:
    """The messages published as poison to `topic`, then dead-lettered as a consumer does."""
    records = await publish(producer, bootstrap, topic, *messages)
    letters = DeadLetters(producer, group=GROUP)
    for record in records:
        await letters.send(record, poison_reason(record))
    return records


async def cli(
    *args: str, env: dict[str, str] | None = None, answer: bytes | None = None
) -> tuple[int, str, str]:
    """`kulturskole dlq ...` as an operator runs it: without a terminal, or (`answer`) on one
    where the operator types `answer`."""
    terminal = pty.openpty() if answer is not None else None
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        "dlq",
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=terminal[1] if terminal else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    if terminal is not None:
        os.close(terminal[1])
        os.write(terminal[0], answer or b"")  # the line waits in the terminal until read
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if terminal is not None:
            os.close(terminal[0])
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def service_env(database: TestDatabase, bootstrap: str) -> dict[str, str]:
    """The registration service's own settings, as its deployment sets them."""
    return {
        "KS_REGISTRATION_DATABASE_URL": database.dsns["registration"],
        "KS_REGISTRATION_KAFKA_BOOTSTRAP": bootstrap,
    }


def copies(records: list[ConsumerRecord], sent: list[ConsumerRecord]) -> list[str]:
    """The ce_ids of re-driven copies on the topic: every record but those first sent."""
    first = {(r.partition, r.offset) for r in sent}
    # Sorted: the commands topic has several partitions, read one after the other.
    return sorted(headers_of(r)["ce_id"] for r in records if (r.partition, r.offset) not in first)


async def test_dead_letters_are_listed_and_one_is_redriven_to_its_topic(
    endpoints: Endpoints, topic_prefix: str, producer: AIOKafkaProducer
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    topic = commands_topic("registration", topic_prefix)
    dlq = dlq_topic(topic)
    first, second = register_interest("Vestland"), register_interest("Nordland")
    records = await publish(producer, bootstrap, topic, first, second)
    reasons = [poison_reason(r) for r in records]
    dead_letters = DeadLetters(producer, group=GROUP)
    for record, reason in zip(records, reasons, strict=True):
        await dead_letters.send(record, reason)

    letters = await list_dead_letters(bootstrap, dlq)

    assert [letter.ce_id for letter in letters] == [first.id, second.id]
    for letter, record, reason in zip(letters, records, reasons, strict=True):
        assert reason.startswith(f"{RegisterInterest.TYPE} failed validation"), reason
        assert letter.reason == reason
        assert (letter.original_topic, letter.original_partition, letter.original_offset) == (
            topic,
            record.partition,
            record.offset,
        )
        assert (letter.ce_type, letter.consumer_group) == (RegisterInterest.TYPE, GROUP)
        assert (letter.key, letter.value) == (record.key, record.value)
        assert letter.original_headers == list(record.headers)
        assert letter.failed_at
    assert await list_dead_letters(bootstrap, dlq, limit=1) == letters[:1]

    chosen = letters[0]
    assert await redrive(bootstrap, dlq, offsets={(chosen.partition, chosen.offset)}) == 1

    before = {(r.partition, r.offset) for r in records}
    again = [
        r for r in await read_to_end(bootstrap, topic) if (r.partition, r.offset) not in before
    ]
    assert len(again) == 1, again  # exactly the chosen letter, once
    (redriven,) = again
    headers = headers_of(redriven)
    assert not [name for name in headers if name.startswith("dlq_")], headers
    assert headers["ce_id"] == first.id  # the inbox still knows it
    # As first sent, plus the letter it came from (a copy failing again says so).
    assert list(redriven.headers) == [
        *records[0].headers,
        ("ks_redriven_from", f"{dlq}:{chosen.partition}:{chosen.offset}".encode()),
    ]
    assert (redriven.key, redriven.value) == (records[0].key, records[0].value)
    # The DLQ is a log: the re-driven letter is still listed.
    assert await list_dead_letters(bootstrap, dlq) == letters


async def test_redrive_refuses_an_offset_that_names_no_letter(
    endpoints: Endpoints, topic_prefix: str
) -> None:
    dlq = dlq_topic(commands_topic("registration", topic_prefix))
    with pytest.raises(DeadLetterError, match="no dead letter at 0:7"):
        await redrive(endpoints.kafka_bootstrap, dlq, offsets={(0, 7)})
    with pytest.raises(DeadLetterError, match="no topic"):
        await list_dead_letters(endpoints.kafka_bootstrap, f"{topic_prefix}.no-such-topic.dlq")


async def test_the_cli_lists_and_redrives_dead_letters(
    endpoints: Endpoints,
    topic_prefix: str,
    producer: AIOKafkaProducer,
    database: TestDatabase,
    registration_pool: asyncpg.Pool,
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    topic = commands_topic("registration", topic_prefix)
    env = service_env(database, bootstrap)
    first, second, third = (register_interest(b) for b in ("Agder", "Troms", "Rogaland"))
    records = await dead_letters(producer, bootstrap, topic, first, second, third)
    everything = sorted(e.id for e in (first, second, third))
    record = records[0]
    reason = poison_reason(record)

    # The topic without its .dlq suffix names the same DLQ; Kafka from the service's settings.
    code, out, err = await cli("list", topic, "--service", "registration", env=env)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3, out
    assert lines[0].startswith("0/0  "), lines[0]
    assert f"{topic}@{record.partition}:{record.offset}" in lines[0]
    assert RegisterInterest.TYPE in lines[0]
    assert reason in lines[0]
    assert "re-driven" not in out

    code, out, err = await cli("list", dlq_topic(topic), "--bootstrap", bootstrap, "--json")
    assert code == 0, err
    found = [json.loads(line) for line in out.splitlines()]
    assert (found[0]["reason"], found[0]["ce_id"]) == (reason, first.id)
    assert (found[0]["partition"], found[0]["offset"]) == (0, 0)

    redrive = ("redrive", topic, "--service", "registration")
    # --all asks first: without a terminal, only --yes goes ahead; a "no" sends nothing either.
    code, out, err = await cli(*redrive, "--all", env=env)
    assert code == 3 and "--yes" in err and "nothing done" in err, (code, err)
    code, out, err = await cli(*redrive, "--all", env=env, answer=b"n\n")
    assert code == 3 and "[y/N]" in err and "not confirmed" in err, (code, err)
    assert copies(await read_to_end(bootstrap, topic), records) == []

    # A dry run says what would go, by key here, and sends nothing.
    key = records[1].key.decode()
    code, out, err = await cli(*redrive, "--all", "--key", key, "--dry-run", env=env)
    assert code == 0, err
    assert [line.split()[3] for line in out.splitlines()] == [second.id]
    assert "would re-drive 1 dead letter(s)" in err and "2 not matching the filters" in err
    assert copies(await read_to_end(bootstrap, topic), records) == []

    # One letter by its place; then --all (confirmed on the terminal) sends the others only.
    code, out, err = await cli(*redrive, "--offset", "0:0", env=env)
    assert code == 0, err
    assert "re-drove 1 dead letter(s)" in out
    assert copies(await read_to_end(bootstrap, topic), records) == [first.id]
    code, out, err = await cli(
        *redrive, "--all", "--since", "2999-01-01T00:00:00Z", "--yes", env=env
    )
    assert code == 0 and "re-drove 0 dead letter(s)" in out, (code, out, err)
    code, out, err = await cli(*redrive, "--all", env=env, answer=b"y\n")
    assert code == 0, err
    assert "Re-drive 2 dead letter(s)" in err and "1 re-driven before" in err
    assert "re-drove 2 dead letter(s)" in out
    assert copies(await read_to_end(bootstrap, topic), records) == everything

    # The next --all finds nothing left to send.
    code, out, err = await cli(*redrive, "--all", "--yes", env=env)
    assert code == 0, err
    assert "re-drove 0 dead letter(s)" in out and "3 re-driven before" in out
    assert copies(await read_to_end(bootstrap, topic), records) == everything
    code, out, err = await cli("list", topic, "--service", "registration", env=env)
    assert code == 0, err
    assert all("(re-driven 20" in line for line in out.splitlines()), out

    code, out, err = await cli(*redrive, "--offset", "0:9", env=env)
    assert code == 1
    assert "no dead letter at 0:9" in err
    code, out, err = await cli(
        *redrive, "--offset", "0:1", "--type", RegisterInterest.TYPE, env=env
    )
    assert code == 2 and "narrow --all" in err
    # The generic variable is not read: a re-drive names its service.
    code, out, err = await cli(
        "redrive", topic, "--all", "--yes", env={"KS_DATABASE_URL": database.dsns["registration"]}
    )
    assert code == 2 and "KS_DATABASE_URL is not read" in err and "--service" in err, err


async def test_a_long_redrive_shows_its_progress(
    endpoints: Endpoints,
    topic_prefix: str,
    producer: AIOKafkaProducer,
    database: TestDatabase,
    registration_pool: asyncpg.Pool,
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    topic = commands_topic("registration", topic_prefix)
    many = [register_interest(f"Branch {n}") for n in range(60)]
    records = await dead_letters(producer, bootstrap, topic, *many)

    code, out, err = await cli(
        "redrive",
        topic,
        "--service",
        "registration",
        "--all",
        "--yes",
        env=service_env(database, bootstrap),
    )

    assert code == 0, err
    assert "re-drove 60 dead letter(s)" in out
    assert "dlq: read 60/60" in err and "dlq: sent 60/60" in err, err
    steps = [line for line in err.splitlines() if line.startswith("dlq: sent ")]
    assert len(steps) > 1, err  # and steps on the way, not only the end
    assert copies(await read_to_end(bootstrap, topic), records) == sorted(e.id for e in many)


def test_a_letter_drops_dlq_headers_and_shows_binary_values_as_base64() -> None:
    letter = DeadLetter(
        partition=0,
        offset=0,
        original_topic="t.registration.commands",
        original_partition=None,
        original_offset=None,
        reason="",
        failed_at="",
        consumer_group=None,
        ce_type=None,
        ce_id=None,
        key=None,
        value=b"\xff",
        headers=(("dlq_reason", b"x"), ("ce_id", b"1")),
    )
    assert letter.original_headers == [("ce_id", b"1")]
    assert letter.to_json()["value_base64"] == "/w=="
