"""The yardsticks, run over the same broker, database and SMTP server as the services.

- The bare chain: consume, write to a table, produce, commit offsets; with nothing else
  (no envelope checks, no domain, no outbox). Batched: `getmany`, one transaction per batch
  with `executemany`, produce the batch, commit offsets after the database commit. Per
  message: a transaction, a produce and an offset commit for each message. With a command's
  work (batched): each record also goes through what registration does with a command in
  Python (`bench.floor.command_step`: decode and validate it, build and serialize its two
  events), and those events are produced instead of the record.
- The bare sender: aiosmtplib over reused connections, as many as the service uses.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from shared.contracts.topics import TopicKind, TopicSpec
from shared.messaging.kafka_admin import ensure_topics
from shared.messaging.kafka_client import Kafka, client_kwargs

BARE_SCHEMA = "bench_bare"

Headers = list[tuple[str, bytes]]
Message = tuple[bytes | None, bytes | None, Headers]  # key, value, headers
# A record's work: its headers and value in, the messages it causes out.
Work = Callable[[Headers, bytes], list[Message]]


@dataclass(frozen=True)
class Throughput:
    messages: int
    seconds: float
    per_second: float

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _producer(bootstrap: Kafka) -> AIOKafkaProducer:
    # As the services' relay produces: idempotent, acks=all.
    return AIOKafkaProducer(**client_kwargs(bootstrap), enable_idempotence=True, linger_ms=2)


async def fill(
    bootstrap: Kafka, topic: str, messages: Sequence[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    """Put `messages` (key, value, headers) on `topic` before the clock starts."""
    producer = _producer(bootstrap)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key, headers=headers)
            for key, value, headers in messages
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _table(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {BARE_SCHEMA}")
        # Like an inbox with the state beside it: a primary key that refuses a duplicate.
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {BARE_SCHEMA}.{name}"
            " (message_id text PRIMARY KEY, body bytea NOT NULL,"
            "  received_at timestamptz NOT NULL DEFAULT now())"
        )
    finally:
        await conn.close()


INSERT = "INSERT INTO {table} (message_id, body) VALUES ($1, $2) ON CONFLICT DO NOTHING"


async def bare_chain(
    bootstrap: Kafka,
    dsn: str,
    prefix: str,
    messages: Sequence[tuple[bytes, bytes, list[tuple[str, bytes]]]],
    *,
    batched: bool,
    timeout_s: float,
    work: Work | None = None,
) -> Throughput:
    """Move `messages` through Kafka -> PostgreSQL -> Kafka, timed from the first fetch to the
    last offset commit; with `work` (batched only), each record's work done on the way."""
    assert work is None or batched, "the work is measured on the batched chain"
    kind = ("batched" if batched else "single") + ("_work" if work else "")
    source, sink = f"{prefix}.bare.{kind}.in", f"{prefix}.bare.{kind}.out"
    await ensure_topics(
        bootstrap, [TopicSpec(source, TopicKind.COMMANDS), TopicSpec(sink, TopicKind.EVENTS)]
    )
    await fill(bootstrap, source, messages)
    table = f"{BARE_SCHEMA}.chain_{kind}"
    await _table(dsn, f"chain_{kind}")
    insert = INSERT.format(table=table)

    consumer = AIOKafkaConsumer(
        source,
        **client_kwargs(bootstrap),
        group_id=f"{prefix}.bare-{kind}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = _producer(bootstrap)
    conn = await asyncpg.connect(dsn)
    await producer.start()
    await consumer.start()
    done, started = 0, 0.0
    deadline = time.monotonic() + timeout_s
    try:
        while done < len(messages) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=None if batched else 1)
            records = [record for part in batch.values() for record in part]
            if not records:
                continue
            started = started or time.time()
            if batched:
                rows: list[tuple[str, bytes | None]] = []
                out: list[Message] = []
                for r in records:
                    if work is None:
                        rows.append((_message_id(r.headers), r.value))
                        out.append((r.key, r.value, list(r.headers)))
                    else:
                        made = work(list(r.headers), r.value)
                        rows.append((_message_id(r.headers), made[0][1]))
                        out.extend(made)
                async with conn.transaction():
                    await conn.executemany(insert, rows)
                futures = [
                    await producer.send(sink, value=value, key=key, headers=headers)
                    for key, value, headers in out
                ]
                await asyncio.gather(*futures)
                await consumer.commit(_next_offsets(records))
            else:
                for record in records:
                    async with conn.transaction():
                        await conn.execute(insert, _message_id(record.headers), record.value)
                    await producer.send_and_wait(
                        sink, value=record.value, key=record.key, headers=list(record.headers)
                    )
                    await consumer.commit(_next_offsets([record]))
            done += len(records)
    finally:
        await consumer.stop()
        await producer.stop()
        await conn.close()
    seconds = time.time() - started if started else float("nan")
    return Throughput(done, seconds, done / seconds if seconds > 0 else float("nan"))


def _message_id(headers: Sequence[tuple[str, bytes]]) -> str:
    for name, value in headers:
        if name == "ce_id":
            return value.decode()
    return str(uuid.uuid4())


def _next_offsets(records: Sequence[Any]) -> dict[TopicPartition, OffsetAndMetadata]:
    highest: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        highest[tp] = max(highest.get(tp, -1), record.offset)
    return {tp: OffsetAndMetadata(offset + 1, "") for tp, offset in highest.items()}


def sample_mail(i: int) -> EmailMessage:
    """A mail of the shape the service sends: headers, a plain text of ~1 kB and its HTML."""
    mail = EmailMessage()
    mail["From"] = "Norsk kulturskoleråd <noreply@kulturskoleradet.no>"
    mail["To"] = f"styret-{i}@example.no"
    mail["Subject"] = "Fremtidens kulturskole, Regionale program"
    mail["Message-ID"] = f"<{uuid.uuid4()}@bench.kulturskole>"
    mail["Content-Language"] = "nb"
    text = (
        "Hei Kari Nordmann,\n\n"
        + "Takk for at styret har meldt interesse for Fremtidens kulturskole. " * 12
        + "\n\nVennleg helsing\nNorsk kulturskoleråd\n"
    )
    mail.set_content(text)
    paragraphs = "".join(f"<p>{line}</p>" for line in text.split("\n\n"))
    mail.add_alternative(f"<!doctype html><html><body>{paragraphs}</body></html>", subtype="html")
    return mail


# Distinct mails prepared for the bare sender; it sends them round, so memory stays bounded.
SENDER_POOL = 1000


async def bare_sender(
    host: str, port: int, mails: int, *, connections: int, timeout_s: float
) -> Throughput:
    """`mails` mails over `connections` reused SMTP connections, at most one mail in flight
    on each (SMTP is a dialogue per connection). Mails are written to bytes before the clock
    starts, as the service writes its own before sending."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(mails):
        queue.put_nowait(i)
    prepared = []  # building is not sending: off the clock
    for i in range(min(mails, SENDER_POOL)):
        mail = sample_mail(i)
        prepared.append((str(mail["From"]), str(mail["To"]), mail.as_bytes()))
    sent = 0

    async def worker() -> None:
        nonlocal sent
        client = aiosmtplib.SMTP(
            hostname=host, port=port, start_tls=False, use_tls=False, timeout=30
        )
        await client.connect()
        try:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                sender, recipient, data = prepared[i % len(prepared)]
                await client.sendmail(sender, [recipient], data)
                sent += 1
        finally:
            await client.quit()

    started = time.time()
    await asyncio.wait_for(
        asyncio.gather(*(worker() for _ in range(max(1, connections)))), timeout_s
    )
    seconds = time.time() - started
    return Throughput(sent, seconds, sent / seconds if seconds > 0 else float("nan"))
