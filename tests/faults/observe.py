"""What a pass left behind, counted against what its commands should have: events on the
public topics by id, mails in the SMTP sink by Message-ID and by (event, recipient), rows in
each service's schema.

Copies of one event id on a topic (an outbox relay that published and died before marking
its rows publishes them again; the consumers' inboxes absorb them) and copies of one mail
(a mail the server took just before a crash, sent again with its Message-ID) are counted
apart from duplicates: a duplicate is the same effect under a second id.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from shared.contracts.events import notification as notif
from shared.contracts.events import registration as reg
from shared.contracts.events import scheduling as sched
from shared.testing.fixtures import eventually
from tests.faults.stream import Plan


@dataclass(frozen=True)
class Event:
    topic: str
    id: str
    type: str
    causation: str
    data: dict[str, Any]


class EventLog:
    """Every record of some topics, read from the beginning without a consumer group, and
    read on from where it stopped at each `catch_up`."""

    def __init__(self, bootstrap: str, topics: list[str], **client: Any) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.client = client
        self.records: list[Event] = []
        self.raw: list[tuple[str, bytes]] = []  # (topic, value): for the personal-data check
        self._consumer: AIOKafkaConsumer | None = None

    async def _start(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            # Without a group, a consumer of topics is assigned all their partitions.
            consumer = AIOKafkaConsumer(
                *self.topics,
                bootstrap_servers=self.bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **self.client,
            )
            await consumer.start()
            self._consumer = consumer

            async def assigned() -> bool:
                return {tp.topic for tp in consumer.assignment()} == set(self.topics)

            await eventually(assigned, timeout=30, what=f"the partitions of {self.topics}")
        return self._consumer

    async def catch_up(self, timeout_ms: int = 10_000) -> None:
        """Read to the end offsets of this moment."""
        consumer = await self._start()
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            fetched = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in fetched.values():
                for record in records:
                    self._add(record)

    def _add(self, record: Any) -> None:
        headers = {k: v.decode() for k, v in record.headers or []}
        self.raw.append((record.topic, record.value or b""))
        if record.value is None or "ce_id" not in headers:
            return
        self.records.append(
            Event(
                record.topic,
                headers["ce_id"],
                headers.get("ce_type", ""),
                headers.get("ce_causationid", ""),
                json.loads(record.value),
            )
        )

    async def close(self) -> None:
        if self._consumer is not None:
            # A fetch that failed while a broker was away may surface here; it is over.
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None


class MailFolder:
    """The mails the private SMTP sink accepted, read from its store as they arrive: the
    envelope and headers it keeps beside each mail, parsed once each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.mails: dict[str, dict[str, Any]] = {}  # by the stored file's name

    def read(self) -> list[dict[str, Any]]:
        # An .eml is renamed into place after its .json is written: seen, both are whole.
        for name in os.listdir(self.folder):
            stem, dot, suffix = name.rpartition(".")
            if dot and suffix == "eml" and stem not in self.mails:
                stored = json.loads((self.folder / f"{stem}.json").read_text())
                self.mails[stem] = {
                    "message_id": stored.get("message_id", ""),
                    "to": tuple(stored.get("envelope_to", [])),
                }
        return list(self.mails.values())


@dataclass
class Tally:
    """Effects of one pass: what was expected, what distinct effects were seen, what was
    there twice under two ids (duplicates) and how many copies of one id came again."""

    expected: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    redelivered_events: int = 0  # copies of an event id already on its topic
    resent_mails: int = 0  # copies of a Message-ID already in the sink
    dead_letters: int = 0

    @property
    def lost(self) -> int:
        return sum(max(0, n - self.seen.get(k, 0)) for k, n in self.expected.items())

    @property
    def doubled(self) -> int:
        extra = sum(max(0, n - self.expected.get(k, 0)) for k, n in self.seen.items())
        return extra + sum(self.duplicates.values())

    @property
    def complete(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and self.dead_letters == 0

    def differences(self) -> dict[str, tuple[int, int]]:
        """(expected, seen) of each count that is not as expected."""
        return {
            k: (self.expected.get(k, 0), self.seen.get(k, 0))
            for k in sorted({*self.expected, *self.seen})
            if self.seen.get(k, 0) != self.expected.get(k, 0)
        }


ROW_QUERIES = {
    "registration.interest_registrations": (
        "SELECT count(*) FROM registration.interest_registrations WHERE round_id = $1"
    ),
    "registration.interest_history": (
        "SELECT count(*) FROM registration.interest_history h"
        " JOIN registration.interest_registrations r ON r.id = h.registration_id"
        " WHERE r.round_id = $1"
    ),
    "registration.applications admitted": (
        "SELECT count(*) FROM registration.applications WHERE round_id = $1 AND status = 'admitted'"
    ),
    "registration.group_members": (
        "SELECT count(*) FROM registration.group_members g"
        " JOIN registration.applications a ON a.id = g.application_id"
        " WHERE a.round_id = $1 AND g.removed_at IS NULL"
    ),
    "scheduling.gatherings": "SELECT count(*) FROM scheduling.gatherings WHERE round_id = $1",
    "scheduling.invitations": (
        "SELECT count(*) FROM scheduling.invitations i"
        " JOIN scheduling.gatherings g ON g.id = i.gathering_id"
        " WHERE g.round_id = $1 AND i.active"
    ),
}


async def deliveries(conn: asyncpg.Connection, event_ids: list[str]) -> list[asyncpg.Record]:
    found: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, event_id, recipient_key, template, status FROM notification.deliveries"
        " WHERE event_id = ANY($1::text[])",
        event_ids,
    )
    return found


async def tally(
    plan: Plan,
    events: EventLog,
    mails: MailFolder,
    conn: asyncpg.Connection,
    dead_letters: EventLog,
) -> Tally:
    """Count the pass's effects as they are now."""
    await events.catch_up()
    await dead_letters.catch_up()
    found = Tally()
    found.dead_letters = len(dead_letters.raw)
    ex = plan.expected
    round_id = plan.round_id

    # Events of this round, by id; the same id again is a redelivered copy.
    # (The round's own opening is the platform's set-up, not one of the pass's commands.)
    ours = [
        e
        for e in events.records
        if e.type != reg.RoundOpened.TYPE
        if e.data.get("round_id") == round_id
        and e.topic.endswith((".registration.events", ".scheduling.events"))
    ]
    by_id = {e.id: e for e in ours}
    found.redelivered_events = len(ours) - len(by_id)
    distinct = list(by_id.values())
    registration = [e for e in distinct if e.topic.endswith(".registration.events")]
    scheduling = [e for e in distinct if e.topic.endswith(".scheduling.events")]
    for kind, n in ex.registration_events.items():
        found.expected[f"event {kind.split('.')[-2]}"] = n
    for kind, n in ex.scheduling_events.items():
        found.expected[f"event {kind.split('.')[-2]}"] = n
    for e in distinct:
        key = f"event {e.type.split('.')[-2]}"
        found.seen[key] = found.seen.get(key, 0) + 1
    # Each registration command has one event: a cause named twice is a command done twice.
    causes = Counter(e.causation for e in registration)
    found.duplicates["registration events of one command"] = sum(
        n - 1 for n in causes.values() if n > 1
    )
    invited = Counter(
        (e.data["gathering_id"], e.data.get("person_id"))
        for e in scheduling
        if e.type == sched.InvitationIssued.TYPE
    )
    found.duplicates["invitations of one person to one gathering"] = sum(
        n - 1 for n in invited.values() if n > 1
    )

    # Mails: the deliveries of this round's events, their notification events, the sink.
    planned = await deliveries(conn, list(by_id))
    found.expected["mails planned"] = ex.mails
    found.seen["mails planned"] = len(planned)
    found.expected["mails marked sent"] = ex.mails
    found.seen["mails marked sent"] = sum(1 for d in planned if d["status"] == "sent")
    delivery_of = {str(d["id"]): d for d in planned}
    sent_events = [
        e
        for e in events.records
        if e.topic.endswith(".notification.events") and e.data.get("delivery_id") in delivery_of
    ]
    sent_ids = {e.id: e for e in sent_events}
    found.redelivered_events += len(sent_events) - len(sent_ids)
    found.expected["event notification-sent"] = ex.mails
    found.seen["event notification-sent"] = sum(
        1 for e in sent_ids.values() if e.type == notif.NotificationSent.TYPE
    )
    found.seen["event notification-failed"] = sum(
        1 for e in sent_ids.values() if e.type == notif.NotificationFailed.TYPE
    )
    found.expected["event notification-failed"] = 0
    per_delivery = Counter(e.data["delivery_id"] for e in sent_ids.values())
    found.duplicates["notification events of one mail"] = sum(
        n - 1 for n in per_delivery.values() if n > 1
    )
    in_sink = [m for m in mails.read() if m["message_id"][1:].split("@", 1)[0] in delivery_of]
    copies = Counter(m["message_id"] for m in in_sink)
    found.resent_mails = sum(n - 1 for n in copies.values())
    found.expected["mails in the sink"] = ex.mails
    found.seen["mails in the sink"] = len(copies)
    by_recipient: dict[tuple[str, tuple[str, ...]], set[str]] = {}
    for m in in_sink:
        delivery = delivery_of[m["message_id"][1:].split("@", 1)[0]]
        by_recipient.setdefault((delivery["event_id"], m["to"]), set()).add(m["message_id"])
    found.duplicates["mails of one event to one recipient"] = sum(
        len(ids) - 1 for ids in by_recipient.values()
    )

    for name, query in ROW_QUERIES.items():
        found.expected[f"rows {name}"] = ex.rows[name]
        found.seen[f"rows {name}"] = int(await conn.fetchval(query, round_id))
    return found
