"""One benchmark run: for each scenario a database, topics and service processes of its own,
the load, the samples, the figures, and the yardsticks beside them; everything removed after.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import asyncpg
from pydantic_settings import SettingsConfigDict

from bench.bare import bare_chain, bare_sender
from bench.floor import command_step, command_work, per_item
from bench.load import SOURCE, Workload, burst, load_producer, open_loop, prepare
from bench.measure import Figures, collect
from bench.monitor import Group, Monitor, proc_status
from bench.smtp import ExternalSmtp, SmtpSink, ensure_smtp_sink
from bench.stats import Rate, ratio
from services.catalog import SERVICES
from services.notification.settings import NotificationSettings
from services.registration.domain.reference import ReferenceData
from shared.contracts.events.registration import contacts_topic
from shared.contracts.topics import commands_topic, dlq_topic, events_topic
from shared.messaging.envelope import Envelope
from shared.messaging.kafka_admin import delete_topics_with_prefix, ensure_topics
from shared.messaging.kafka_client import KafkaClientSettings, KafkaConnection
from shared.runtime.catalog import names, topic_specs
from shared.testing.fixtures import (
    ROOT,
    Endpoints,
    ServiceProcesses,
    create_test_database,
    drop_test_database,
    start_endpoints,
)

MEASURED = ("registration", "notification")  # scheduling joins when it has paths to measure
MAILS_PER_COMMAND = 2  # a receipt to the branch's contact, a copy to the programme mailbox


@dataclass(frozen=True)
class Scenario:
    # burst: all at once through both services; open: at a fixed rate; stages: a burst
    # through one stage at a time (registration alone, then notification planning with
    # sending held, then sending alone), for each stage's own capacity.
    mode: Literal["burst", "open", "stages"]
    count: int
    rate: float = 0.0  # open loop: commands per second offered
    # Processes of each service, in one consumer group per service (the stages: one).
    replicas: int = 1

    @property
    def name(self) -> str:
        if self.mode == "burst":
            name = f"burst {self.count}"
        elif self.mode == "stages":
            name = f"stages {self.count}"
        else:
            name = f"open loop {self.rate:g}/s x {self.count / self.rate:g} s"
        return name if self.replicas == 1 else f"{name}, {self.replicas} replicas"


@dataclass
class Options:
    scenarios: list[Scenario]
    bare: bool = True
    smtp_connections: int | None = None  # None: as many as the notification service uses
    ceiling_connections: int = 10
    drain_timeout_s: float = 900.0
    log: Callable[[str], None] = print
    keep_logs: Path | None = None
    results: Path | None = None
    smtp: tuple[str, int] | None = None  # an SMTP server that runs already, instead of smtp-sink
    per_message_limit: int = 0  # bare chain per message on at most this many (0: all)
    stall_s: float = 120.0  # give up waiting when no mail was sent for this long
    event_loop: str = "uvloop"  # what `python -m bench` runs `run` on (its clients, the yardsticks)
    # The open loop's first seconds, offered before the measured part and not counted: the
    # services' first mails open their SMTP connections, compile their templates and prepare
    # their statements, which is start-up, not the steady rate the figures describe.
    warm_up_s: float = 3.0


def service_smtp_connections() -> tuple[int, str]:
    """How many SMTP connections the notification service sends over, from its settings
    (the environment the services are started with included)."""
    prefix = str(NotificationSettings.model_config.get("env_prefix", ""))
    for name, info in NotificationSettings.model_fields.items():
        if any(word in name for word in ("concurren", "connections", "parallel")) and isinstance(
            info.default, int
        ):
            variable = f"{prefix}{name}".upper()
            if os.environ.get(variable):
                return int(os.environ[variable]), variable
            return int(info.default), f"NotificationSettings.{name}"
    return 1, "services/notification/adapters/mailer.py sends one mail at a time"


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def git_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "services", "shared")
    return f"{revision}{' (with uncommitted changes)' if dirty else ''}"


def endpoints_from_env(tmp: Path) -> Endpoints:
    """The stack `make infra` runs (its env), or testcontainers when none is exported."""
    return start_endpoints(tmp)


def _database_dsn(endpoints: Endpoints, database: str) -> str:
    base, _, _ = endpoints.pg_superuser_dsn.rpartition("/")
    return f"{base}/{database}"


async def _server_versions(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {"postgresql": str(await conn.fetchval("SHOW server_version"))}
    finally:
        await conn.close()


SmtpServer = SmtpSink | ExternalSmtp


async def run_scenario(
    endpoints: Endpoints, sink: SmtpServer, scenario: Scenario, options: Options, logs: Path
) -> dict[str, Any]:
    say = options.log
    prefix = f"b{uuid.uuid4().hex[:10]}"
    bootstrap = bench_kafka(endpoints)
    database = await create_test_database(endpoints, names(SERVICES))
    dsn = _database_dsn(endpoints, database.name)
    await ensure_topics(bootstrap, topic_specs(SERVICES, prefix))
    # The services log in with their own KS_<SERVICE>_KAFKA_* settings from the environment.
    service_endpoints = dataclasses.replace(
        endpoints,
        kafka_bootstrap=bootstrap.bootstrap,
        smtp_host=sink.host,
        smtp_port=sink.port,
        _cleanup=[],
    )
    procs = ServiceProcesses(service_endpoints, database, prefix, logs, SERVICES)
    if scenario.mode == "stages":
        if scenario.replicas != 1:
            raise ValueError("the stages run with one replica of each service")
        procs.overrides["notification"] = HOLD_MAIL
    # Further replicas: the same database, topics and groups; ports and logs of their own.
    others = [
        ServiceProcesses(service_endpoints, database, prefix, logs / f"replica-{k}", SERVICES)
        for k in range(2, scenario.replicas + 1)
    ]
    for other in others:
        other.logs.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "name": scenario.name,
        **dataclasses.asdict(scenario),
        "topic_prefix": prefix,
        "database": database.name,
    }
    try:
        say(f"[{scenario.name}] starting services (prefix {prefix}, database {database.name})")
        await asyncio.to_thread(procs.start, *MEASURED)
        for other in others:
            await asyncio.to_thread(other.start, *MEASURED)
        workload = Workload.build(scenario.count)
        say(f"[{scenario.name}] membership in, {len(workload.rounds)} rounds open over HTTP")
        await prepare(procs.url("registration"), workload)
        pids = {name: procs.procs[name].pid for name in MEASURED}
        for k, other in enumerate(others, start=2):
            pids.update({f"{name}{REPLICA}{k}": other.procs[name].pid for name in MEASURED})
        command_topic = commands_topic("registration", prefix)
        sent = 0

        def published() -> int:
            return sent

        def progress(n: int) -> None:
            nonlocal sent
            sent = n

        groups = [
            Group("registration", f"{prefix}.registration", [command_topic]),
            Group(
                "notification",
                f"{prefix}.notification",
                [events_topic("registration", prefix), contacts_topic(prefix)],
            ),
        ]
        async with Monitor(
            bootstrap, dsn, groups, pids, published, dlq_topic(command_topic)
        ) as monitor:
            await _until_quiet(monitor, procs, others)
            if scenario.mode == "open" and options.warm_up_s > 0:
                warm = Workload.build(round(scenario.rate * options.warm_up_s))
                say(f"[{scenario.name}] warming up: {warm.count} commands, not counted")
                await _warm_up(bootstrap, command_topic, warm, prefix, scenario.rate)
                await _until_quiet(monitor, procs, others, mails=MAILS_PER_COMMAND * warm.count)
                result["warm_up_commands"] = warm.count
            if scenario.mode == "open":
                # The host's own speed just now (its speed drifts by a third within an hour):
                # CPU a command's Python work takes, on an otherwise idle platform.
                # On this thread: beside the loop's, it would time the GIL's hand-overs too.
                host = per_item(command_work(HOST_PROBE), HOST_PROBE)
                result["host_command_work_us"] = round(host * 1e6, 1)
            await monitor.count_from_here()
            if scenario.mode == "stages":
                await asyncio.to_thread(procs.stop, "notification")
            mails_before = sink.messages()
            monitor.start()
            say(f"[{scenario.name}] publishing {scenario.count} commands")
            producer = load_producer(bootstrap)
            await producer.start()
            try:
                run = prefix
                if scenario.mode in ("burst", "stages"):
                    sent_out = await burst(producer, command_topic, workload, run, progress)
                else:
                    sent_out = await open_loop(
                        producer, command_topic, workload, run, scenario.rate, progress
                    )
            finally:
                await producer.stop()
            say(f"[{scenario.name}] published in {sent_out.finished - sent_out.started:.1f} s")
            stages: dict[str, float] = {}
            if scenario.mode == "stages":
                stages = await _one_stage_at_a_time(monitor, procs, pids, scenario, options)
            drained = await _until_drained(monitor, procs, scenario, options, others)
            final = await monitor.sample()
            cpu = monitor.cpu_percent()
        smtp_accepted = await _smtp_accepted(sink, mails_before, final["mails_sent"])
        load_seconds = sent_out.finished - sent_out.started
        peak = {name: proc_status(pid, "VmHWM") for name, pid in pids.items()}
        figures = await collect(
            dsn, events_topic("registration", prefix), sent_out.times, MAILS_PER_COMMAND
        )
        result.update(
            drained=drained,
            published=sent_out.as_dict(),
            figures=figures.as_dict(),
            peak_rss_mb={k: None if v is None else round(v, 1) for k, v in peak.items()},
            cpu_percent=cpu,
            # Mails the SMTP server accepted against the mails marked sent: more is a mail
            # sent twice (None: a server this benchmark does not count at).
            smtp_accepted=smtp_accepted,
            final_sample=final,
            backlog_by_quarter=backlog_by_quarter(monitor.samples, load_seconds),
            samples=monitor.samples,
        )
        if scenario.mode == "stages":
            result["stages"] = await _stage_rates(dsn, stages, figures)
        for other in others:
            await asyncio.to_thread(other.stop_all)
        await asyncio.to_thread(procs.stop_all)
        if options.bare and scenario.mode in ("burst", "stages"):
            result["bare"] = await _yardsticks(bootstrap, dsn, prefix, sink, workload, options)
            result["ratios"] = _ratios(result)
        return result
    finally:
        for other in others:
            await asyncio.to_thread(other.stop_all)
        await asyncio.to_thread(procs.stop_all)
        if options.keep_logs is None:
            await delete_topics_with_prefix(bootstrap, prefix)
            await drop_test_database(endpoints, database)


async def _warm_up(
    bootstrap: KafkaConnection, topic: str, warm: Workload, run: str, rate: float
) -> None:
    """The first `warm.count` commands of the workload, at the measured rate: the measured
    part sends them again, as it sends later ones again when it wraps around its rounds."""
    producer = load_producer(bootstrap)
    await producer.start()
    try:
        await open_loop(producer, topic, warm, run, rate)
    finally:
        await producer.stop()


HOLD_MAIL = {"KS_NOTIFICATION_MAIL_SENDING": "false"}
HOST_PROBE = 1000  # commands' work timed to gauge the host before an open loop
REPLICA = "#"  # a further replica's name in the samples and CPU: `registration#2`


async def _smtp_accepted(sink: SmtpServer, before: int | None, marked: int) -> int | None:
    """Mails the server accepted since `before`; its count is written as mails come, so
    waited for (with a deadline) until it reaches the `marked` sent."""
    if before is None:
        return None
    deadline = time.monotonic() + 5
    while True:
        now = sink.messages()
        if now is None or now - before >= marked or time.monotonic() > deadline:
            return None if now is None else now - before
        await asyncio.sleep(0.1)  # polled with a deadline


async def _one_stage_at_a_time(
    monitor: Monitor,
    procs: ServiceProcesses,
    pids: dict[str, int],
    scenario: Scenario,
    options: Options,
) -> dict[str, float]:
    """Registration alone until every event is out; then notification with sending held
    until every mail is planned; then notification again, sending. Returns when each began."""
    say, n = options.log, scenario.count

    def planned_all(s: dict[str, Any]) -> bool:
        accepted = n - int(s["dead_letters"])
        return bool(
            s["lag_notification"] == 0 and s["mails_pending"] >= MAILS_PER_COMMAND * accepted
        )

    await _until(
        monitor,
        procs,
        lambda s: (
            s["published"] == n and s["lag_registration"] == 0 and s["registration_outbox"] == 0
        ),
        options,
    )
    say(f"[{scenario.name}] registration done; notification plans the mails, sending held")
    planning = time.time()
    await asyncio.to_thread(procs.start, "notification")
    pids["notification"] = procs.procs["notification"].pid
    await _until(monitor, procs, planned_all, options)
    await asyncio.to_thread(procs.stop, "notification")
    del procs.overrides["notification"]
    say(f"[{scenario.name}] all mails planned; notification sends them")
    sending = time.time()
    await asyncio.to_thread(procs.start, "notification")
    pids["notification"] = procs.procs["notification"].pid
    return {"planning_started": planning, "sending_started": sending}


async def _until(
    monitor: Monitor,
    procs: ServiceProcesses,
    done: Callable[[dict[str, Any]], bool],
    options: Options,
) -> None:
    deadline = time.monotonic() + options.drain_timeout_s
    while time.monotonic() < deadline:
        _alive(procs, stopped=("notification",))  # stopped between the stages
        if monitor.last and done(monitor.last):
            return
        await asyncio.sleep(0.25)  # the monitor samples every second; polled with a deadline
    raise TimeoutError("a stage did not finish before the drain timeout")


STAGE_ROWS = "SELECT created_at, sent_at FROM notification.deliveries WHERE status = 'sent'"


async def _stage_rates(dsn: str, began: dict[str, float], figures: Figures) -> dict[str, Any]:
    """Each stage alone: registration from the first command published to the last event
    published; planning from the first mail planned to the last, and sending from the first
    mail accepted to the last (notification's start-up and joining its group left out)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(STAGE_ROWS)
    finally:
        await conn.close()
    planned = [r["created_at"].timestamp() for r in rows]
    sent = [r["sent_at"].timestamp() for r in rows]
    return {
        "registration_commands": figures.registration_rate.as_dict(),
        "planning_mails": Rate.of([], planned).as_dict(),
        "sending_mails": Rate.of([], sent).as_dict(),
        "last_planned_at": max(planned, default=None),
        "first_sent_at": min(sent, default=None),
        **began,
    }


async def _until_quiet(
    monitor: Monitor,
    procs: ServiceProcesses,
    others: list[ServiceProcesses],
    timeout: float = 120,
    mails: int = 0,
) -> None:
    """Setup (rounds opened, membership) handled everywhere before the clock starts, and
    `mails` sent (a warm-up's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _alive(procs)
        for other in others:
            _alive(other)
        sample = await monitor.sample()
        if (
            sample["lag_registration"] == 0
            and sample["lag_notification"] == 0
            and sample["registration_outbox"] == 0
            and sample["mails_sent"] >= mails
        ):
            return
        await asyncio.sleep(0.2)  # polled with a deadline
    raise TimeoutError("the services did not finish their setup work in time")


async def _until_drained(
    monitor: Monitor,
    procs: ServiceProcesses,
    scenario: Scenario,
    options: Options,
    others: list[ServiceProcesses],
) -> bool:
    """Wait until every accepted command's mails are sent; False at the deadline."""
    deadline = time.monotonic() + options.drain_timeout_s
    last_report = progressed = time.monotonic()
    last_sent = -1
    while time.monotonic() < deadline:
        _alive(procs)
        for other in others:
            _alive(other)
        sample = monitor.last
        if sample:
            if sample["mails_sent"] != last_sent or sample["published"] < scenario.count:
                last_sent, progressed = sample["mails_sent"], time.monotonic()
            elif time.monotonic() - progressed > options.stall_s:
                options.log(f"[{scenario.name}] no mail sent for {options.stall_s:g} s: giving up")
                return False
            accepted = scenario.count - int(sample["dead_letters"])
            if sample["published"] == scenario.count and (
                sample["mails_sent"] >= MAILS_PER_COMMAND * accepted
            ):
                return True
            if time.monotonic() - last_report > 15:
                last_report = time.monotonic()
                options.log(
                    f"[{scenario.name}] t={sample['t']:.0f}s mails {sample['mails_sent']}/"
                    f"{MAILS_PER_COMMAND * accepted}, lag {sample['lag_registration']}/"
                    f"{sample['lag_notification']}, outbox {sample['registration_outbox']}"
                )
        await asyncio.sleep(0.25)  # the monitor samples every second; polled with a deadline
    return False


BACKLOGS = ("lag_registration", "lag_notification", "registration_outbox", "mails_pending")


def backlog_by_quarter(samples: list[dict[str, Any]], load_seconds: float) -> dict[str, list[int]]:
    """The largest of each backlog in each quarter of the time the load was offered: under an
    open loop that keeps up, these stay flat; growing numbers mean the system falls behind."""
    quarters: dict[str, list[int]] = {name: [0, 0, 0, 0] for name in BACKLOGS}
    if load_seconds <= 0:
        return quarters
    for sample in samples:
        quarter = int(4 * sample["t"] / load_seconds)
        if quarter > 3:
            continue
        for name in BACKLOGS:
            quarters[name][quarter] = max(quarters[name][quarter], int(sample[name]))
    return quarters


def _alive(procs: ServiceProcesses, stopped: tuple[str, ...] = ()) -> None:
    for name, proc in procs.procs.items():
        if name not in stopped and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {procs.logs}/{name}.log")


def bench_kafka(endpoints: Endpoints) -> KafkaConnection:
    """`KS_BENCH_KAFKA_*` (a connection that may create topics and read offsets) when
    `KS_BENCH_KAFKA_BOOTSTRAP` is set, else the endpoints' PLAINTEXT broker."""
    settings = BenchKafkaSettings()
    if "kafka_bootstrap" in settings.model_fields_set:
        return settings.kafka
    return KafkaConnection(bootstrap=endpoints.kafka_bootstrap)


class BenchKafkaSettings(KafkaClientSettings):
    model_config = SettingsConfigDict(env_prefix="KS_BENCH_")


async def _yardsticks(
    bootstrap: KafkaConnection,
    dsn: str,
    prefix: str,
    sink: SmtpServer,
    workload: Workload,
    options: Options,
) -> dict[str, Any]:
    """The bare chain (batched and per message) on as many messages, the bare sender on as
    many mails, over the same broker, database and SMTP server."""
    messages = []
    for i in range(workload.count):
        command = workload.command(i, "bare")
        envelope = Envelope.wrap(command, source=SOURCE)
        messages.append((command.key().encode(), envelope.data, envelope.headers()))
    timeout = options.drain_timeout_s
    say = options.log
    say(f"[bare] batched chain, {len(messages)} messages")
    batched = await bare_chain(bootstrap, dsn, prefix, messages, batched=True, timeout_s=timeout)
    say(f"[bare] batched chain with a command's work, {len(messages)} messages")
    worked = await bare_chain(
        bootstrap,
        dsn,
        prefix,
        messages,
        batched=True,
        timeout_s=timeout,
        work=command_step(ReferenceData.load()),
    )
    singles = messages[: options.per_message_limit] if options.per_message_limit else messages
    say(f"[bare] per-message chain, {len(singles)} messages")
    single = await bare_chain(bootstrap, dsn, prefix, singles, batched=False, timeout_s=timeout)
    connections, source = (
        (options.smtp_connections, "--smtp-connections")
        if options.smtp_connections
        else service_smtp_connections()
    )
    mails = MAILS_PER_COMMAND * workload.count
    say(f"[bare] sender, {mails} mails over {connections} connection(s)")
    sender = await bare_sender(
        sink.host, sink.port, mails, connections=connections, timeout_s=timeout
    )
    ceiling = None
    if options.ceiling_connections and options.ceiling_connections != connections:
        say(f"[bare] sender, {mails} mails over {options.ceiling_connections} connections")
        ceiling = await bare_sender(
            sink.host, sink.port, mails, connections=options.ceiling_connections, timeout_s=timeout
        )
    return {
        "chain_batched": batched.as_dict(),
        "chain_with_work": worked.as_dict(),
        "chain_per_message": single.as_dict(),
        "sender": {**sender.as_dict(), "connections": connections, "connections_from": source},
        "sender_ceiling": None
        if ceiling is None
        else {**ceiling.as_dict(), "connections": options.ceiling_connections},
    }


def _ratios(result: dict[str, Any]) -> dict[str, float | None]:
    rates = result["figures"]["throughput_per_s"]
    bare = result["bare"]
    registration = rates["registration_stage_commands"]["overall"]
    mail = rates["mail_stage_mails"]["overall"]
    if "stages" in result:  # the mails were held: the stage is their sending alone
        mail = result["stages"]["sending_mails"]["overall"]
    return {
        "registration_vs_bare_batched": ratio(registration, bare["chain_batched"]["per_second"]),
        "registration_vs_bare_with_work": ratio(
            registration, bare["chain_with_work"]["per_second"]
        ),
        "registration_vs_bare_per_message": ratio(
            registration, bare["chain_per_message"]["per_second"]
        ),
        "mail_vs_bare_sender": ratio(mail, bare["sender"]["per_second"]),
    }


async def run(options: Options, endpoints: Endpoints | None = None) -> dict[str, Any]:
    """Every scenario of `options`; `endpoints` default to the stack the environment names."""
    sink: SmtpServer
    if options.smtp is not None:
        sink = ExternalSmtp(*options.smtp)
    else:
        sink = SmtpSink(await asyncio.to_thread(ensure_smtp_sink))
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    owned = endpoints is None
    if endpoints is None:
        endpoints = await asyncio.to_thread(endpoints_from_env, tmp)
    logs = options.keep_logs or tmp
    logs.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "revision": git_revision(),
        "machine": machine(),
        "smtp_server": sink.version(),
        # What the clients and yardsticks actually ran on (a caller may bring its own loop).
        "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        "scenarios": [],
    }
    try:
        report["servers"] = await _server_versions(endpoints.pg_superuser_dsn)
        sink.start()
        for scenario in options.scenarios:
            report["scenarios"].append(await run_scenario(endpoints, sink, scenario, options, logs))
    except BaseException:
        options.log(f"the services' logs are in {logs}")
        raise
    finally:
        sink.stop()
        if owned:
            endpoints.close()
    shutil.rmtree(tmp, ignore_errors=True)  # kept above when something went wrong
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report
