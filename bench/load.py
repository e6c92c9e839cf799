"""The load: valid RegisterInterest commands on registration's command topic.

A command is valid when its round is open and before its interest deadline, its branch
exists, its municipalities lie in the branch's counties and are members. So, as programme
management would, the membership list is imported and the rounds are opened over HTTP
first. Command i goes to branch i mod 10 of round i div 10: every command is a new
registration (an aggregate of its own) until the open rounds run out (rounds are years up to
2200, about 1,700 registrations); after that commands update earlier registrations, which
mails the same two mails.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from services.registration.domain.reference import ReferenceData
from shared.contracts.events.registration import RegisterInterest
from shared.messaging.envelope import Envelope
from shared.messaging.kafka_client import Kafka, client_kwargs

PROGRAMME = {"Authorization": "Bearer local-programme"}  # the local stack's programme token
LAST_ROUND = 2200  # registration takes programme years 2000-2200 as round ids
SOURCE = "/bench/county-system"


def first_open_round(now: datetime | None = None) -> int:
    """The earliest round whose interest deadline (15 September the year before) is ahead."""
    now = now or datetime.now(UTC)
    return now.year + 2


@dataclass(frozen=True)
class Workload:
    """Which command is number i, for `count` commands."""

    count: int
    branches: tuple[str, ...]
    municipalities: dict[str, tuple[str, ...]]  # by branch name: a few of its municipalities
    members: tuple[str, ...]
    first_round: int = field(default_factory=first_open_round)

    @classmethod
    def build(cls, count: int, reference: ReferenceData | None = None) -> Workload:
        reference = reference or ReferenceData.load()
        branches = tuple(sorted(b.name for b in reference.branches.values()))
        by_branch: dict[str, tuple[str, ...]] = {}
        for branch in reference.branches.values():
            inside = sorted(
                number
                for number, municipality in reference.municipalities.items()
                if municipality.county_number in branch.county_numbers
            )
            by_branch[branch.name] = tuple(inside[:2])
        return cls(count, branches, by_branch, tuple(sorted(reference.municipalities)))

    @functools.cached_property
    def rounds(self) -> list[str]:
        available = LAST_ROUND - self.first_round + 1
        wanted = min(math.ceil(self.count / len(self.branches)), available)
        return [str(self.first_round + i) for i in range(wanted)]

    def command(self, i: int, run: str) -> RegisterInterest:
        rounds = self.rounds
        branch = self.branches[i % len(self.branches)]
        round_id = rounds[(i // len(self.branches)) % len(rounds)]
        return RegisterInterest.model_validate(
            {
                "round_id": round_id,
                "branch": branch,
                "municipality_numbers": list(self.municipalities[branch]),
                "contact": {
                    "name": "Kari Nordmann",
                    # One contact per registration, so an update keeps its person.
                    "email": f"styret-{round_id}-{i % len(self.branches)}-{run}@example.no",
                    "language": "nb",
                },
                "message": f"Styret vil delta. bench {run} #{i}",
            }
        )


async def prepare(registration_url: str, workload: Workload, *, concurrency: int = 8) -> None:
    """Membership in, rounds open: over HTTP, as programme management does it."""
    async with httpx.AsyncClient(
        base_url=registration_url, headers=PROGRAMME, timeout=60
    ) as client:
        response = await client.post(
            "/members", json={"municipality_numbers": list(workload.members)}
        )
        if response.status_code != 200:
            raise RuntimeError(f"importing members: {response.status_code} {response.text}")
        gate = asyncio.Semaphore(concurrency)

        async def open_round(round_id: str) -> None:
            async with gate:
                answer = await client.post("/rounds", json={"round_id": round_id})
            if answer.status_code not in (201, 409):  # 409: open already
                raise RuntimeError(f"opening round {round_id}: {answer.status_code} {answer.text}")

        await asyncio.gather(*(open_round(r) for r in workload.rounds))


@dataclass
class Published:
    """What the generator sent: command id -> publish time (epoch seconds, its ce_time)."""

    times: dict[str, float] = field(default_factory=dict)
    started: float = math.nan
    finished: float = math.nan  # the last command acknowledged by the broker
    max_behind_s: float = 0.0  # open loop: how far the sender fell behind its schedule

    def as_dict(self) -> dict[str, Any]:
        return {
            "commands": len(self.times),
            "publish_seconds": round(self.finished - self.started, 3),
            "max_behind_schedule_ms": round(self.max_behind_s * 1000, 1),
        }


def load_producer(bootstrap: Kafka) -> AIOKafkaProducer:
    # Like a county system would publish: idempotent (acks=all), small linger for batching.
    return AIOKafkaProducer(**client_kwargs(bootstrap), enable_idempotence=True, linger_ms=5)


def prepare_commands(workload: Workload, run: str) -> list[tuple[bytes, Envelope]]:
    """Every command built and serialized before the clock starts: the generator shares the
    machine with what it measures, so at send time it only stamps the time and sends."""
    commands = (workload.command(i, run) for i in range(workload.count))
    return [(c.key().encode(), Envelope.wrap(c, source=SOURCE)) for c in commands]


async def _send(
    producer: AIOKafkaProducer, topic: str, command: tuple[bytes, Envelope], when: datetime
) -> tuple[Envelope, asyncio.Future[Any]]:
    key, envelope = command
    envelope = dataclasses.replace(envelope, time=when)
    future: asyncio.Future[Any] = await producer.send(
        topic, value=envelope.data, key=key, headers=envelope.headers()
    )
    return envelope, future


async def burst(
    producer: AIOKafkaProducer,
    topic: str,
    workload: Workload,
    run: str,
    progress: Callable[[int], None] = lambda _: None,
) -> Published:
    """Every command at once, as fast as the producer takes them."""
    commands = prepare_commands(workload, run)
    published = Published(started=time.time())
    futures: list[asyncio.Future[Any]] = []
    for i, command in enumerate(commands):
        envelope, future = await _send(producer, topic, command, datetime.now(UTC))
        published.times[envelope.id] = envelope.time.timestamp()
        futures.append(future)
        progress(i + 1)
    await asyncio.gather(*futures)
    published.finished = time.time()
    return published


async def open_loop(
    producer: AIOKafkaProducer,
    topic: str,
    workload: Workload,
    run: str,
    rate: float,
    progress: Callable[[int], None] = lambda _: None,
) -> Published:
    """`workload.count` commands at `rate` per second, each on its schedule whatever the
    system answers (open loop, not request-reply)."""
    commands = prepare_commands(workload, run)
    # What exists now (the prepared commands among it) out of the collector's sight while the
    # commands go out: a full collection of it paused this loop for up to 69 ms, and every
    # command due meanwhile waited, its latency counted from when it was due.
    gc.freeze()
    try:
        return await _offer(producer, topic, commands, rate, progress)
    finally:
        gc.unfreeze()


async def _offer(
    producer: AIOKafkaProducer,
    topic: str,
    commands: list[tuple[bytes, Envelope]],
    rate: float,
    progress: Callable[[int], None],
) -> Published:
    loop = asyncio.get_running_loop()
    start_wall, start = time.time(), loop.time()
    published = Published(started=start_wall)
    futures: list[asyncio.Future[Any]] = []
    for i, command in enumerate(commands):
        due = start + i / rate
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)  # the schedule itself: this is the offered rate
        else:
            published.max_behind_s = max(published.max_behind_s, -wait)
        # Latency counts from when the command was due, so a sender that falls behind does
        # not hide the wait (no coordinated omission).
        when = datetime.fromtimestamp(start_wall, UTC) + timedelta(seconds=i / rate)
        envelope, future = await _send(producer, topic, command, when)
        published.times[envelope.id] = envelope.time.timestamp()
        futures.append(future)
        progress(i + 1)
    await asyncio.gather(*futures)
    published.finished = time.time()
    return published
