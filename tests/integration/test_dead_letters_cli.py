"""The operator's dead-letter tools: list a DLQ, re-drive chosen letters, the same by CLI.

Dead letters are made the way a consumer makes them: poison published to the commands topic,
read back, and handed to `DeadLetters.send` with the reason decoding gave.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from shared.contracts.events.registration import ContactPerson, RegisterInterest
from shared.contracts.topics import commands_topic, dlq_topic
from shared.messaging.bus import DeadLetters
from shared.messaging.dead_letters import DeadLetter, DeadLetterError, list_dead_letters, redrive
from shared.messaging.envelope import Envelope, PoisonMessage
from shared.testing.fixtures import ROOT, Endpoints
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
            key=f"branch-{uuid.uuid4()}".encode(),
            headers=envelope.headers(),
        )
        sent.append((meta.partition, meta.offset))
    found = {(r.partition, r.offset): r for r in await read_to_end(bootstrap, topic)}
    return [found[place] for place in sent]


async def cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        "dlq",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


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
    assert list(redriven.headers) == list(records[0].headers)
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
    endpoints: Endpoints, topic_prefix: str, producer: AIOKafkaProducer
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    topic = commands_topic("registration", topic_prefix)
    records = await publish(producer, bootstrap, topic, register_interest("Agder"))
    (record,) = records
    reason = poison_reason(record)
    await DeadLetters(producer, group=GROUP).send(record, reason)

    # The topic without its .dlq suffix names the same DLQ.
    code, out, err = await cli("list", topic, "--bootstrap", bootstrap)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith("0/0  "), lines[0]
    assert f"{topic}@{record.partition}:{record.offset}" in lines[0]
    assert RegisterInterest.TYPE in lines[0]
    assert reason in lines[0]

    code, out, err = await cli("list", dlq_topic(topic), "--bootstrap", bootstrap, "--json")
    assert code == 0, err
    (found,) = [json.loads(line) for line in out.splitlines()]
    assert (found["reason"], found["ce_id"]) == (reason, headers_of(record)["ce_id"])
    assert (found["partition"], found["offset"]) == (0, 0)

    code, out, err = await cli("redrive", topic, "--offset", "0:0", "--bootstrap", bootstrap)
    assert code == 0, err
    assert "re-drove 1 dead letter(s)" in out
    where = (record.partition, record.offset)
    again = [r for r in await read_to_end(bootstrap, topic) if (r.partition, r.offset) != where]
    assert [headers_of(r)["ce_id"] for r in again] == [headers_of(record)["ce_id"]]

    code, out, err = await cli("redrive", topic, "--offset", "0:9", "--bootstrap", bootstrap)
    assert code == 1
    assert "no dead letter at 0:9" in err


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
