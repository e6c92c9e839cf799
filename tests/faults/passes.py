"""A pass: a round's commands sent with a fault in the middle, then every effect counted.

`run_pass` sends the round's commands (HTTP and Kafka mixed, see stream.py), brings the fault
about once a third of them are done, and once the fault has ended and the stream is through,
waits until every effect of every command is there: events on the public topics, mails in
the SMTP sink, rows in the schemas. It fails on any effect missing or there twice, and adds
its figures (commands, effects, duplicates, lost, copies, seconds to recover) to the run's
summary. A fault begins at once, holds while a further quarter of the commands are done (or
at most a while, when it holds the stream up), and ends before it returns; the ones here
take what they act on (a cluster, a server) as an argument, so a pass against another
platform reuses them.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.notification.settings import NotificationSettings
from shared.contracts.topics import commands_topic, events_topic
from shared.runtime.catalog import find, names
from shared.testing.fixtures import SinkClient, eventually
from shared.testing.kafka_cluster import KafkaCluster
from shared.testing.postgres import PrivatePostgres
from tests.faults.observe import Tally, tally
from tests.faults.platform import Fault, Platform, Progress
from tests.faults.stream import plan_pass
from tests.integration.test_notification_mail import SinkProcess

FAULT_AT = 0.3  # of the pass's commands done when the fault begins
FAULT_FOR = 0.25  # of them done more while it lasts
FAULT_HOLD_MAX_S = 20.0  # at most, when the fault holds the stream up
RECOVERY_S = 180.0
REPORT: list[str] = []


def commands_per_pass() -> int:
    return int(os.environ.get("KS_FAULTS_COMMANDS", "2000"))


def stream_rate() -> float:
    return float(os.environ.get("KS_FAULTS_RATE", "100"))


def report(name: str, commands: int, found: Tally, recovered: float, after_last: float) -> str:
    events = {k: v for k, v in found.seen.items() if k.startswith("event ")}
    mails = found.seen.get("mails in the sink", 0)
    rows = {k: v for k, v in found.seen.items() if k.startswith("rows ")}
    return (
        f"{name:<9} commands {commands:>5} | effects seen {sum(found.seen.values()):>6}"
        f" of {sum(found.expected.values()):>6} (events {sum(events.values())},"
        f" mails {mails}, rows {sum(rows.values())}) | duplicates {found.doubled}"
        f" | lost {found.lost} | dead letters {found.dead_letters}"
        f" | redelivered event copies {found.redelivered_events} (same ce_id; inboxes skip them)"
        f" | mails resent with their Message-ID {found.resent_mails}"
        f" | recovered {recovered:.1f} s after the fault ({after_last:.1f} s after the last command)"
    )


def say(request: pytest.FixtureRequest, line: str) -> None:
    """To the terminal at once (output capture or not), and to the run's summary."""
    REPORT.append(line)
    plugins = request.config.pluginmanager
    writer = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if writer is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            writer.write_line(f"\n{line}")


async def run_pass(
    platform: Platform,
    name: str,
    round_id: str,
    fault: Fault,
    request: pytest.FixtureRequest,
    *,
    commands: int | None = None,
    rate: float | None = None,
) -> Tally:
    """The round's stream with `fault` in the middle; every effect counted once it is over."""
    plan = plan_pass(round_id, commands or commands_per_pass(), platform.people)
    total = plan.commands
    progress = Progress()
    await platform.run_setup(plan, progress)
    stream = asyncio.create_task(platform.run_stream(plan, progress, rate or stream_rate()))
    try:
        assert await progress.reached(int(total * FAULT_AT), timeout=120), "the stream stalled"
        await fault(platform, progress, total)
        fault_ended = time.monotonic()
        await asyncio.wait_for(stream, 240)
    finally:
        if not stream.done():
            stream.cancel()
    last_command = time.monotonic()
    events, dead_letters = platform.events, platform.dead_letters
    assert events is not None and dead_letters is not None
    found: Tally | None = None

    async def settled() -> Tally | None:
        nonlocal found
        try:
            conn = await platform.db()
            found = await tally(plan, events, platform.mails, conn, dead_letters)
        except (OSError, ConnectionError, asyncpg.PostgresError):  # the database coming back
            return None
        return found if found.complete else None

    try:
        await eventually(settled, timeout=RECOVERY_S, what=f"every effect of the {name} pass")
    except AssertionError:
        if found is None:
            raise
        say(request, report(name, total, found, float("nan"), float("nan")))
        raise AssertionError(
            f"{name}: lost {found.lost}, doubled {found.doubled}, dead letters "
            f"{found.dead_letters}; (expected, seen) where they differ: {found.differences()};"
            f" duplicates: {found.duplicates}"
        ) from None
    done = time.monotonic()
    assert found is not None
    say(request, report(name, total, found, done - fault_ended, done - last_command))
    # A mail sent again keeps its Message-ID, and there are at most as many as a mail worker
    # may have taken by the server and not yet marked, in each process (README: Delivery).
    # A database that goes away also ends the sessions that hold the workers' claims: then a
    # worker's claimed batch may go again, not only its window (README: Delivery).
    settings = NotificationSettings.model_fields
    per_process = (
        settings["mail_batch_size"].default
        if name in DATABASE_AWAY
        else settings["smtp_connections"].default * settings["mail_unmarked_per_connection"].default
    )
    bound = platform.replicas * per_process
    assert found.resent_mails <= bound, f"{found.resent_mails} mails sent again, over {bound}"
    return found


# Passes in which the database goes away (its sessions, and the claims they hold, end).
DATABASE_AWAY = {"postgres"}


def hold(progress: Progress, total: int, share: float = FAULT_FOR) -> asyncio.Future[bool]:
    """The fault lasts while a further share of the stream is done, or at most a while."""
    return asyncio.ensure_future(
        progress.reached(progress.done + int(total * share), timeout=FAULT_HOLD_MAX_S)
    )


# --- the faults ---------------------------------------------------------------------------------


def kill_leading_broker(cluster: KafkaCluster) -> Fault:
    """`kill -9` the node that leads most of the command and event partitions; start it again."""

    async def fault(platform: Platform, progress: Progress, total: int) -> None:
        topics = [
            name(service, platform.prefix)
            for service in names(platform.catalog)
            for name in (commands_topic, events_topic)
        ]
        leaders = await cluster.leaders(topics)
        victim, _ = Counter(leaders.values()).most_common(1)[0]
        await cluster.kill(victim)
        holding = hold(progress, total)

        async def moved() -> bool:
            return victim not in (await cluster.leaders(topics)).values()

        await eventually(moved, timeout=30, what=f"partitions led elsewhere than node {victim}")
        await holding
        await cluster.start(victim)

    return fault


async def group_members(platform: Platform, group: str) -> int:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=platform.target.bootstrap, **platform.target.client
    )
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    return sum(len(g["members"]) for r in described for g in r.to_object()["groups"])


async def kill_each_service(platform: Platform, progress: Progress, total: int) -> None:
    """`kill -9` one process of each service in turn; once the other has taken over its
    partitions (a rebalance: the group has only the survivor's consumers), start it again."""
    procs = platform.procs
    assert procs is not None
    restarts: list[asyncio.Future[None]] = []
    for k, service in enumerate(names(platform.catalog)):
        settings = find(platform.catalog, service).settings
        group = settings.model_construct(topic_prefix=platform.prefix).group_id
        before = await group_members(platform, group)
        instance = procs.instances(service)[k % 2]
        procs.kill(instance)
        survivors = before - before // len(procs.instances(service))
        holding = hold(progress, total, FAULT_FOR / 3)

        async def taken_over(group: str = group, survivors: int = survivors) -> bool:
            return await group_members(platform, group) == survivors

        await eventually(taken_over, timeout=60, what=f"{service}'s other process took over")
        await holding
        # Started again while the next service's process is killed.
        restarts.append(asyncio.ensure_future(asyncio.to_thread(procs.start, instance)))
    await asyncio.gather(*restarts)


def stop_postgres(postgres: PrivatePostgres) -> Fault:
    """Stop PostgreSQL at once (no checkpoint, sessions cut off: what was committed comes
    back from its WAL), and start it again."""

    async def fault(platform: Platform, progress: Progress, total: int) -> None:
        await asyncio.to_thread(postgres.stop, "immediate")
        holding = hold(progress, total)

        async def noticed() -> bool:
            async with httpx.AsyncClient(timeout=5) as client:
                for url in platform.urls("registration"):
                    if (await client.get(f"{url}/readyz")).status_code != 503:
                        return False
            return True

        await eventually(noticed, timeout=30, what="registration not ready without its database")
        await holding
        await asyncio.to_thread(postgres.start)

    return fault


def stop_smtp(smtp: SinkProcess, kept: dict[str, set[str]]) -> Fault:
    """Stop the SMTP server for a while, and start it again on its store; `kept` gets a few
    people's Message-IDs stored before, to look for after the restart."""
    sink = SinkClient(smtp.web)

    async def fault(platform: Platform, progress: Progress, total: int) -> None:
        for person in platform.people.made[-5:]:
            kept[person.email] = await stored(sink, person.email)
        await asyncio.to_thread(smtp.stop)
        holding = hold(progress, total)

        async def noticed() -> bool:
            conn = await platform.db()
            waiting = await conn.fetchval(
                "SELECT count(*) FROM notification.deliveries"
                " WHERE status = 'pending' AND attempts > 0 AND last_error IS NOT NULL"
            )
            return int(waiting) > 0

        await eventually(noticed, timeout=30, what="mails waiting for the SMTP server")
        await holding
        await asyncio.to_thread(smtp.start)

    return fault


async def stored(sink: SinkClient, address: str) -> set[str]:
    return {m["message_id"] for m in await sink.messages(containing=address)}
