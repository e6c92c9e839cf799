"""The platform under faults: private Kafka, PostgreSQL and SMTP sink, two processes of each
service in one consumer group, and the driver that sends a pass's commands.

What Kafka a pass runs against is a `KafkaTarget`: its bootstrap, the client settings the
test's own producers and consumers need, the settings every service gets, and how topics are
replicated there. A pass against another broker (TLS, SASL, ACLs) is another target.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from services.registration.domain.reference import ReferenceData
from shared.contracts.events.registration import contacts_topic
from shared.contracts.topics import commands_topic, dlq_topic, events_topic
from shared.messaging.envelope import Envelope
from shared.messaging.kafka_admin import ensure_topics
from shared.messaging.kafka_client import Kafka
from shared.runtime.catalog import Catalog, find, names, topic_specs
from shared.runtime.kafka_access import create_acls, service_acls
from shared.testing.fixtures import (
    Endpoints,
    ServiceProcesses,
    TestDatabase,
    create_test_database,
    eventually,
)
from tests.faults.observe import EventLog, MailFolder
from tests.faults.stream import Chain, Command, People, Plan, interest_command, release_order

PROGRAMME = {"Authorization": "Bearer local-programme"}
REPLICAS = 2


@dataclass(frozen=True)
class KafkaTarget:
    """A Kafka to run a pass against."""

    name: str
    bootstrap: str
    # Keyword arguments for the test's own aiokafka clients (security settings and such).
    client: dict[str, Any] = field(default_factory=dict)
    # Settings for every service, without its prefix: {"KAFKA_…": "…"} → KS_<SERVICE>_KAFKA_….
    service_env: dict[str, str] = field(default_factory=dict)
    replication_factor: int = 1
    min_insync_replicas: int | None = None
    # Who sets the topics up (and the ACLs): an admin's connection; the bootstrap when None.
    admin: Kafka | None = None
    # Settings of one service only, with their prefix: a Kafka login of its own, say.
    per_service: dict[str, dict[str, str]] = field(default_factory=dict)
    # Create each service's ACLs (`kulturskole kafka acls`) before the services start.
    acls: bool = False


class CommandRefused(AssertionError):
    """The stream is built so that every command is taken; a refusal is a failure."""


@dataclass
class Progress:
    """Commands done (answered over HTTP, acknowledged by Kafka), and waits on their count."""

    done: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def tick(self) -> None:
        self.done += 1
        self.changed.set()

    async def reached(self, n: int, timeout: float) -> bool:
        """True once `n` commands are done; False when `timeout` ran out first."""
        deadline = time.monotonic() + timeout
        while self.done < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return True


class Platform:
    """Everything a pass runs on, started and stopped together."""

    def __init__(
        self,
        workdir: Path,
        target: KafkaTarget,
        endpoints: Endpoints,
        mail_folder: Path,
        catalog: Catalog,
    ) -> None:
        self.workdir = workdir
        self.target = target
        self.endpoints = dataclasses.replace(endpoints, kafka_bootstrap=target.bootstrap)
        self.mail_folder = mail_folder
        self.catalog = catalog
        self.prefix = f"f{uuid.uuid4().hex[:10]}"
        self.tag = uuid.uuid4().hex[:6]
        self.people = People(self.tag)
        self.database: TestDatabase | None = None
        self.procs: ServiceProcesses | None = None
        self.conn: asyncpg.Connection | None = None
        self.events: EventLog | None = None
        self.contacts: EventLog | None = None
        self.dead_letters: EventLog | None = None
        self.mails = MailFolder(mail_folder)
        self.http = httpx.AsyncClient(timeout=15)
        self._next = itertools.count()
        self.replicas = REPLICAS

    # --- start and stop -----------------------------------------------------------------------

    def service_overrides(self) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for service in names(self.catalog):
            prefix = find(self.catalog, service).env_prefix
            found[service] = {f"{prefix}{k}": v for k, v in self.target.service_env.items()}
            found[service] |= self.target.per_service.get(service, {})
        # A mail the server did not take is tried again within seconds, not minutes, so the
        # time to recover measures the platform, not a backoff chosen for real mail servers.
        found["notification"]["KS_NOTIFICATION_MAIL_RETRY_MAX_S"] = "2"
        return found

    async def start(self, rounds: list[str]) -> None:
        self.database = await create_test_database(self.endpoints, names(self.catalog))
        admin = self.target.admin or self.target.bootstrap
        await ensure_topics(
            admin,
            topic_specs(self.catalog, self.prefix),
            replication_factor=self.target.replication_factor,
            min_insync_replicas=self.target.min_insync_replicas,
        )
        if self.target.acls:
            acls = [acl for service in self.catalog for acl in service_acls(service, self.prefix)]
            await create_acls(admin, acls)
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.procs = ServiceProcesses(
            self.endpoints,
            self.database,
            self.prefix,
            logs,
            self.catalog,
            overrides=self.service_overrides(),
            replicas={service: self.replicas for service in names(self.catalog)},
        )
        await asyncio.to_thread(self.procs.start)
        self.events = EventLog(
            self.target.bootstrap,
            [events_topic(s, self.prefix) for s in names(self.catalog)],
            **self.target.client,
        )
        self.contacts = EventLog(
            self.target.bootstrap, [contacts_topic(self.prefix)], **self.target.client
        )
        self.dead_letters = EventLog(
            self.target.bootstrap,
            [dlq_topic(commands_topic(s, self.prefix)) for s in ("registration", "scheduling")],
            **self.target.client,
        )
        await self.prepare(rounds)

    async def prepare(self, rounds: list[str]) -> None:
        """The membership list, the rounds, and every branch's board known to notification
        (interest in a round of its own), so each pass's mails to boards are as planned."""
        numbers = sorted(ReferenceData.load().municipalities)
        url = self.url("registration")
        answer = await self.http.post(
            f"{url}/members", json={"municipality_numbers": numbers}, headers=PROGRAMME
        )
        assert answer.status_code == 200, answer.text
        for round_id in rounds:
            answer = await self.http.post(
                f"{url}/rounds", json={"round_id": round_id}, headers=PROGRAMME
            )
            assert answer.status_code == 201, answer.text
        branches = sorted(ReferenceData.load().branches.values(), key=lambda b: b.id)
        setup = Chain("boards", "http")
        for branch in branches:
            setup.commands.append(
                interest_command(rounds[0], branch, self.people.new(), [], "Styret vil delta.")
            )
        await self._run_chain(setup, Progress(), None, None, rate=0)

        async def boards_known() -> bool:
            conn = await self.db()
            count = await conn.fetchval("SELECT count(*) FROM notification.branch_contacts")
            return int(count) >= len(branches)

        await eventually(boards_known, timeout=60, what="every board known to notification")

    async def db(self) -> asyncpg.Connection:
        """A superuser connection to the test database (again, after the server restarted)."""
        if self.conn is not None and not self.conn.is_closed():
            return self.conn
        assert self.database is not None
        base = self.endpoints.pg_superuser_dsn.rpartition("/")[0]
        self.conn = await asyncpg.connect(f"{base}/{self.database.name}", timeout=5)
        return self.conn

    async def stop(self) -> None:
        # The processes first, whatever else fails: none may outlive the run.
        try:
            if self.procs is not None:
                await asyncio.to_thread(self.procs.stop_all)
        finally:
            for log in (self.events, self.contacts, self.dead_letters):
                if log is not None:
                    await log.close()
            if self.conn is not None:
                with contextlib.suppress(Exception):
                    await self.conn.close()
            await self.http.aclose()

    # --- HTTP and Kafka -----------------------------------------------------------------------

    def url(self, service: str) -> str:
        assert self.procs is not None
        return self.procs.url(service)

    def urls(self, service: str) -> list[str]:
        assert self.procs is not None
        return [self.procs.url(i) for i in self.procs.instances(service)]

    async def post(self, command: Command, *, deadline_s: float = 120) -> None:
        """POST until answered: a replica away or a database away is tried again, on the
        next replica, with the same Idempotency-Key (a retry never runs a command twice)."""
        key = str(uuid.uuid4())
        body = command.contract.model_dump(mode="json")
        headers = {"Authorization": f"Bearer {command.token}", "Idempotency-Key": key}
        urls = self.urls(command.service)
        deadline = time.monotonic() + deadline_s
        delay = 0.1
        last = ""
        for attempt in itertools.count():
            url = urls[(next(self._next) + attempt) % len(urls)]
            try:
                answer = await self.http.post(f"{url}{command.path}", json=body, headers=headers)
            except httpx.HTTPError as error:
                last = repr(error)
            else:
                if answer.status_code in (200, 201):
                    return
                if answer.status_code < 500 and answer.status_code != 429:
                    raise CommandRefused(
                        f"{command.kind} {command.path}: {answer.status_code} {answer.text}"
                    )
                last = f"{answer.status_code} {answer.text[:300]}"
            if time.monotonic() > deadline:
                raise TimeoutError(f"{command.kind} {command.path} not answered: {last}")
            await asyncio.sleep(delay)  # backoff before the next try, bounded by the deadline
            delay = min(delay * 2, 2.0)

    @contextlib.asynccontextmanager
    async def producer(self) -> AsyncIterator[AIOKafkaProducer]:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.target.bootstrap,
            enable_idempotence=True,
            **self.target.client,
        )
        await producer.start()
        try:
            yield producer
        finally:
            await producer.stop()

    async def publish(
        self, producer: AIOKafkaProducer, command: Command, *, deadline_s: float = 120
    ) -> None:
        """Publish until the broker acknowledges it; again with the same ce_id if it did not
        (a copy that did land is skipped by the service's inbox)."""
        envelope = Envelope.wrap(command.contract, source="/test/faults")
        topic = commands_topic(command.service, self.prefix)
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                await producer.send_and_wait(
                    topic,
                    value=envelope.data,
                    key=command.contract.key().encode(),
                    headers=envelope.headers(),
                )
                return
            except Exception as error:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{command.kind} not acknowledged: {error!r}") from error
                await asyncio.sleep(0.5)  # the broker is away: try again, within the deadline

    # --- a pass's stream ----------------------------------------------------------------------

    async def _run_chain(
        self,
        chain: Chain,
        progress: Progress,
        producer: AIOKafkaProducer | None,
        places: dict[tuple[str, int], int] | None,
        *,
        rate: float,
        started: float = 0.0,
    ) -> None:
        for j, command in enumerate(chain.commands):
            if places is not None and rate > 0:
                # The stream's pace: each command is released at its place in the stream.
                due = started + places[(chain.name, j)] / rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            if chain.channel == "kafka":
                assert producer is not None
                await self.publish(producer, command)
            else:
                await self.post(command)
            progress.tick()

    async def run_setup(self, plan: Plan, progress: Progress) -> None:
        for chain in plan.setup:
            await asyncio.gather(
                *(
                    self._run_chain(Chain(chain.name, "http", [c]), progress, None, None, rate=0)
                    for c in chain.commands
                )
            )

    async def run_stream(self, plan: Plan, progress: Progress, rate: float) -> None:
        places = release_order(plan.stream)
        started = time.monotonic()
        async with self.producer() as producer:
            await asyncio.gather(
                *(
                    self._run_chain(chain, progress, producer, places, rate=rate, started=started)
                    for chain in plan.stream
                )
            )


Fault = Callable[[Platform, Progress, int], Awaitable[None]]
