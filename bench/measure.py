"""Per-command figures, read after a scenario from the services' own rows.

- Registration stage: command published (its ce_time) -> its event published. The event is
  the outbox row whose `ce_causationid` header is the command's id; "published" is that row's
  `published_at` (stamped by the relay in the transaction that sends it). The row's
  `created_at` (the handling transaction) splits it into waiting and handling.
- Planning: its event published -> the delivery planned (`deliveries.created_at`), the
  notification consumer's share. `published_at` is stamped once the broker has acknowledged
  the event, and the consumer may have it before that, so a few of these can be below zero.
- Mail stage: a delivery planned (`deliveries.created_at`) -> SMTP accepted (`sent_at`).
- End to end: command published -> the later of its two mails accepted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench.stats import Distribution, Rate

EVENT_ROWS = """
SELECT o.event_id, o.created_at, o.published_at,
       (SELECT h->>1 FROM jsonb_array_elements(o.headers) h WHERE h->>0 = 'ce_causationid') AS cause
FROM registration.outbox o
WHERE o.topic = $1
"""

DELIVERY_ROWS = """
SELECT event_id, status, created_at, sent_at FROM notification.deliveries
"""


@dataclass
class Figures:
    commands: int
    events: int
    mails_sent: int
    mails_expected: int
    registration: Distribution
    registration_wait: Distribution  # published -> handled (the handling transaction began)
    planning: Distribution  # event published -> delivery planned
    mail: Distribution
    end_to_end: Distribution
    registration_rate: Rate
    mail_rate: Rate
    end_to_end_rate: Rate
    missing: dict[str, int] = field(default_factory=dict)
    # What was done more than once: a command with more than one event, an event with more
    # than its mails planned or sent.
    repeated: dict[str, int] = field(default_factory=dict)
    # The slowest 1 % end to end, slowest first: when each was due (seconds into the run) and
    # its stages, which tells a few stalls (slow commands due close together) from a tail
    # spread over the run.
    slowest: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "commands": self.commands,
            "events_published": self.events,
            "mails_sent": self.mails_sent,
            "mails_expected": self.mails_expected,
            "latency_ms": {
                "registration_stage": self.registration.as_dict(),
                "registration_wait": self.registration_wait.as_dict(),
                "planning": self.planning.as_dict(),
                "mail_stage": self.mail.as_dict(),
                "end_to_end": self.end_to_end.as_dict(),
            },
            "throughput_per_s": {
                "registration_stage_commands": self.registration_rate.as_dict(),
                "mail_stage_mails": self.mail_rate.as_dict(),
                "end_to_end_commands": self.end_to_end_rate.as_dict(),
            },
            "missing": self.missing,
            "repeated": self.repeated,
            "slowest": self.slowest,
        }


async def collect(
    dsn: str, events_topic: str, published: Mapping[str, float], mails_per_command: int = 2
) -> Figures:
    """Join what was published with the rows both services wrote about it."""
    conn = await asyncpg.connect(dsn)
    try:
        events = await conn.fetch(EVENT_ROWS, events_topic)
        deliveries = await conn.fetch(DELIVERY_ROWS)
    finally:
        await conn.close()

    event_of: dict[str, str] = {}  # event id -> command id
    event_published: dict[str, float] = {}
    stages: dict[str, dict[str, float]] = {}  # command id -> its slowest share of each stage
    registration, waits, starts, event_done = [], [], [], []
    events_of_command = Counter(row["cause"] for row in events if row["cause"] in published)
    for row in events:
        command = row["cause"]
        if command not in published or row["published_at"] is None:
            continue
        event_of[row["event_id"]] = command
        event_published[row["event_id"]] = row["published_at"].timestamp()
        sent = published[command]
        registration.append((row["published_at"].timestamp() - sent) * 1000)
        stages[command] = {"registration_ms": registration[-1]}
        waits.append((row["created_at"].timestamp() - sent) * 1000)
        starts.append(sent)
        event_done.append(row["published_at"].timestamp())

    deliveries_of_event = Counter(row["event_id"] for row in deliveries)
    sent_of_event = Counter(row["event_id"] for row in deliveries if row["sent_at"] is not None)
    accepted: dict[str, list[float]] = {}
    mail, planned, mail_done, planning = [], [], [], []
    for row in deliveries:
        command = event_of.get(row["event_id"])
        if command is None or row["sent_at"] is None:
            continue
        accepted.setdefault(command, []).append(row["sent_at"].timestamp())
        mail.append((row["sent_at"] - row["created_at"]).total_seconds() * 1000)
        planned.append(row["created_at"].timestamp())
        planning.append((row["created_at"].timestamp() - event_published[row["event_id"]]) * 1000)
        share = stages[command]
        share["planning_ms"] = max(share.get("planning_ms", planning[-1]), planning[-1])
        share["mail_ms"] = max(share.get("mail_ms", mail[-1]), mail[-1])
        mail_done.append(row["sent_at"].timestamp())

    complete = {c: max(t) for c, t in accepted.items() if len(t) >= mails_per_command}
    end_to_end = [(done - published[c]) * 1000 for c, done in complete.items()]
    first = min(published.values(), default=0.0)
    slowest = sorted(complete, key=lambda c: complete[c] - published[c], reverse=True)
    slow = [
        {
            "due_s": round(published[c] - first, 3),
            "end_to_end_ms": round((complete[c] - published[c]) * 1000, 1),
            **{k: round(v, 1) for k, v in stages[c].items()},
        }
        for c in slowest[: max(1, len(slowest) // 100)]
    ]
    sent_count = sum(len(t) for t in accepted.values())
    return Figures(
        commands=len(published),
        events=len(event_of),
        mails_sent=sent_count,
        mails_expected=mails_per_command * len(published),
        registration=Distribution.of(registration),
        registration_wait=Distribution.of(waits),
        planning=Distribution.of(planning),
        mail=Distribution.of(mail),
        end_to_end=Distribution.of(end_to_end),
        registration_rate=Rate.of(starts, event_done),
        mail_rate=Rate.of(planned, mail_done),
        end_to_end_rate=Rate.of(list(published.values()), list(complete.values())),
        missing={
            "events": len(published) - len(event_of),
            "commands_without_all_mails": len(published) - len(complete),
        },
        repeated={
            "commands_with_more_than_one_event": sum(n > 1 for n in events_of_command.values()),
            "events_with_more_mails_planned": sum(
                n > mails_per_command for n in deliveries_of_event.values()
            ),
            "events_with_more_mails_sent": sum(
                n > mails_per_command for n in sent_of_event.values()
            ),
        },
        slowest=slow,
    )
