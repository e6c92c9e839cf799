"""Samples taken every second while a scenario runs: consumer lag, outbox backlog, mail
backlog, memory of each service process; and the CPU the services, their PostgreSQL backends
and the machine used."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.messaging.kafka_client import Kafka, client_kwargs


def proc_status(pid: int, field_name: str) -> float | None:
    """A memory figure of /proc/<pid>/status (`VmRSS`, `VmHWM`) in MB; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user and system) a process has used so far, in seconds; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has been busy so far, all cores together (/proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = _proc_stat()
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def stolen_cpu_seconds() -> float:
    """CPU time the hypervisor gave other guests while this one wanted it (/proc/stat)."""
    return _proc_stat()[7] / os.sysconf("SC_CLK_TCK")


def _proc_stat() -> list[int]:
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def _is_postgres(pid: int) -> bool:
    """Whether `pid` here is a PostgreSQL process (not so when the server runs in a container,
    whose pids are its own)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False


@dataclass(frozen=True)
class Group:
    """A consumer group and the topics whose lag counts for it."""

    name: str
    group_id: str
    topics: Sequence[str]


BACKLOG_SQL = """
SELECT
  (SELECT count(*) FROM registration.outbox WHERE published_at IS NULL) AS registration_outbox,
  (SELECT count(*) FROM notification.outbox WHERE published_at IS NULL) AS notification_outbox,
  (SELECT count(*) FROM notification.deliveries WHERE status = 'pending') AS mails_pending,
  (SELECT count(*) FROM notification.deliveries WHERE status = 'sent') AS mails_sent
"""

# The PostgreSQL server runs on this machine, so its backends' pids are readable in /proc.
BACKENDS_SQL = """
SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


COUNTED = ("mails_sent", "dead_letters")  # counted from `count_from_here`


@dataclass
class Monitor:
    bootstrap: Kafka  # a connection, or a PLAINTEXT bootstrap string
    database_dsn: str  # superuser, on the run's database: reads every schema
    groups: Sequence[Group]
    pids: Mapping[str, int]
    published: Callable[[], int]
    dead_letter_topic: str
    interval_s: float = 1.0
    samples: list[dict[str, Any]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _started: float = 0.0
    _cpu_at_start: dict[str, tuple[int, float | None]] = field(default_factory=dict)
    _machine_at_start: tuple[float, float] = (0.0, 0.0)  # (monotonic, busy CPU seconds)
    _stolen_at_start: float = 0.0
    # The run database's PostgreSQL backends (this monitor's own left out), by pid: their CPU
    # seconds when the clock started (0.0 for one that connected later) and when last seen.
    _backends_at_start: dict[int, float] = field(default_factory=dict)
    _backends_seen: dict[int, float] = field(default_factory=dict)
    # Mails sent and dead letters before the measured part (a warm-up's): samples count from
    # these.
    _before: dict[str, int] = field(default_factory=dict)

    async def __aenter__(self) -> Monitor:
        self._admin = AIOKafkaAdminClient(**client_kwargs(self.bootstrap))
        await self._admin.start()
        self._offsets = AIOKafkaConsumer(**client_kwargs(self.bootstrap), group_id=None)
        await self._offsets.start()
        self._conn: asyncpg.Connection = await asyncpg.connect(self.database_dsn)
        self._lock = asyncio.Lock()  # one query at a time on the connection
        self._known: dict[str, list[TopicPartition]] = {}
        self._started = time.time()
        return self

    async def count_from_here(self) -> None:
        """From now on the samples count mails sent and dead letters from what there is now."""
        self._before = {}
        now = await self.sample()
        self._before = {key: int(now[key]) for key in COUNTED}

    def start(self) -> None:
        """Sample every `interval_s` from now on; `t` counts from here."""
        self.samples.clear()
        self._started = time.time()
        self._cpu_at_start = {name: (pid, cpu_seconds(pid)) for name, pid in self.pids.items()}
        self._machine_at_start = (time.monotonic(), machine_cpu_seconds())
        self._stolen_at_start = stolen_cpu_seconds()
        # The backends seen by the samples before (the pools connect at start-up); one that
        # connects from now on counts from nothing.
        self._backends_at_start = {
            pid: used for pid in self._backends_seen if (used := cpu_seconds(pid)) is not None
        }
        self._backends_seen = dict(self._backends_at_start)
        self._task = asyncio.create_task(self._run())

    def cpu_percent(self) -> dict[str, float | None]:
        """CPU used since `start`, in % of one core: each service process (None for one that was
        restarted meanwhile, as between the stages), the run database's PostgreSQL backends
        together (`postgresql`; a backend that came and went between two samples is missed) and
        the whole machine, whose all is `cores` times 100; `seconds` is the wall time they were
        used over. The machine is shared with the broker, the database and this client."""
        since, busy = self._machine_at_start
        wall = time.monotonic() - since
        found: dict[str, float | None] = {}
        for name, pid in self.pids.items():
            started_pid, at_start = self._cpu_at_start.get(name, (None, None))
            now = cpu_seconds(pid)
            if started_pid != pid or at_start is None or now is None:
                found[name] = None
            else:
                found[name] = round(100 * (now - at_start) / wall, 1)
        for pid in self._backends_seen:
            now = cpu_seconds(pid)
            if now is not None:  # gone since: its last sample stands
                self._backends_seen[pid] = now
        backends = sum(
            used - self._backends_at_start.get(pid, 0.0)
            for pid, used in self._backends_seen.items()
        )
        found["postgresql"] = round(100 * backends / wall, 1)
        found["machine"] = round(100 * (machine_cpu_seconds() - busy) / wall, 1)
        # Of the machine's, what the hypervisor took for other guests (in "machine" too).
        found["stolen"] = round(100 * (stolen_cpu_seconds() - self._stolen_at_start) / wall, 1)
        found["cores"] = os.cpu_count()
        found["seconds"] = round(wall, 2)
        return found

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._conn.close()
        await self._offsets.stop()
        await self._admin.close()

    @property
    def last(self) -> dict[str, Any]:
        return self.samples[-1] if self.samples else {}

    async def _run(self) -> None:
        next_at = time.monotonic()
        while True:
            with contextlib.suppress(Exception):  # a missed sample is a gap, not a failure
                self.samples.append(await self.sample())
            next_at += self.interval_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))  # the sampling clock

    async def _partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        """The topics' partitions, asked of the broker once per topic."""
        unknown = [topic for topic in topics if topic not in self._known]
        if unknown:
            for described in await self._admin.describe_topics(unknown):
                if described["error_code"] == 0 and described["partitions"]:
                    self._known[described["topic"]] = [
                        TopicPartition(described["topic"], p["partition"])
                        for p in described["partitions"]
                    ]
        return [tp for topic in topics for tp in self._known.get(topic, [])]

    async def lag(self, group: Group) -> int:
        partitions = await self._partitions(group.topics)
        if not partitions:
            return 0
        ends = await self._offsets.end_offsets(partitions)
        committed = await self._admin.list_consumer_group_offsets(group.group_id)
        total = 0
        for tp in partitions:
            done = committed.get(tp)
            total += ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0)
        return total

    async def dead_letters(self) -> int:
        partitions = await self._partitions([self.dead_letter_topic])
        if not partitions:
            return 0
        return sum((await self._offsets.end_offsets(partitions)).values())

    async def sample(self) -> dict[str, Any]:
        async with self._lock:
            return await self._sample()

    async def _sample(self) -> dict[str, Any]:
        row = await self._conn.fetchrow(BACKLOG_SQL)
        assert row is not None
        for pid in await self._conn.fetchval(BACKENDS_SQL):
            used = cpu_seconds(pid) if _is_postgres(pid) else None
            if used is not None:
                self._backends_seen[pid] = used
        found = {
            "t": round(time.time() - self._started, 2),
            "published": self.published(),
            **{f"lag_{group.name}": await self.lag(group) for group in self.groups},
            **dict(row),
            "dead_letters": await self.dead_letters(),
            # The machine is shared: how busy it was, to judge the figures by.
            "load1": round(os.getloadavg()[0], 2),
            **{
                f"rss_mb_{name}": _round(proc_status(pid, "VmRSS"))
                for name, pid in self.pids.items()
            },
        }
        for key, before in self._before.items():
            found[key] -= before
        return found


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
