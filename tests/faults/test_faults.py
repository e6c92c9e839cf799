"""Nothing lost, nothing doubled: a stream of commands across the three services, with a fault
in the middle of it, one pass per fault.

Each pass sends its round's commands (HTTP and Kafka mixed, see stream.py), brings a fault
about once a third of them are done, ends it once a further quarter are done (or after a
while, if the fault stops the stream), and then waits until every effect of every command is
there: events on the public topics, mails in the SMTP sink, rows in the schemas. It fails on
any effect missing or there twice, and prints its figures (commands, effects, duplicates,
lost, copies, seconds to recover) in the run's summary.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.catalog import find, names
from shared.testing.fixtures import SinkClient, eventually
from shared.testing.kafka_cluster import KafkaCluster
from shared.testing.postgres import PrivatePostgres
from shared.topics import commands_topic, events_topic
from tests.faults.conftest import REPORT, ROUNDS, commands_per_pass, stream_rate
from tests.faults.observe import Tally, tally
from tests.faults.platform import Fault, Platform, Progress
from tests.faults.stream import plan_pass
from tests.integration.test_notification_mail import SinkProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

FAULT_AT = 0.3  # of the pass's commands done when the fault begins
FAULT_FOR = 0.25  # of them done more while it lasts
FAULT_HOLD_MAX_S = 20.0  # at most, when the fault holds the stream up
RECOVERY_S = 180.0


def report(name: str, commands: int, found: Tally, recovered: float, after_last: float) -> str:
    events = {k: v for k, v in found.seen.items() if k.startswith("event ")}
    mails = found.seen.get("mails in the sink", 0)
    rows = {k: v for k, v in found.seen.items() if k.startswith("rows ")}
    line = (
        f"{name:<9} commands {commands:>5} | effects seen {sum(found.seen.values()):>6}"
        f" of {sum(found.expected.values()):>6} (events {sum(events.values())},"
        f" mails {mails}, rows {sum(rows.values())}) | duplicates {found.doubled}"
        f" | lost {found.lost} | dead letters {found.dead_letters}"
        f" | redelivered event copies {found.redelivered_events} (same ce_id; inboxes skip them)"
        f" | mails resent with their Message-ID {found.resent_mails}"
        f" | recovered {recovered:.1f} s after the fault ({after_last:.1f} s after the last command)"
    )
    return line


async def run_pass(
    platform: Platform, name: str, fault: Fault, request: pytest.FixtureRequest
) -> Tally:
    plan = plan_pass(ROUNDS[name], commands_per_pass(), platform.people)
    total = plan.commands
    progress = Progress()
    await platform.run_setup(plan, progress)
    stream = asyncio.create_task(platform.run_stream(plan, progress, stream_rate()))
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
    conn_tally: Tally | None = None

    async def settled() -> Tally | None:
        nonlocal conn_tally
        try:
            conn = await platform.db()
            conn_tally = await tally(plan, events, platform.mails, conn, dead_letters)
        except (OSError, ConnectionError) as error:  # the database just came back
            print(f"tally: {error!r}")
            return None
        return conn_tally if conn_tally.complete else None

    try:
        await eventually(settled, timeout=RECOVERY_S, what=f"every effect of the {name} pass")
    except AssertionError:
        if conn_tally is None:
            raise
        found = conn_tally
        line = report(name, total, found, float("nan"), float("nan"))
        REPORT.append(line + f" | differences {found.differences()} {found.duplicates}")
        raise AssertionError(
            f"{name}: lost {found.lost}, doubled {found.doubled}, dead letters "
            f"{found.dead_letters}; expected vs seen: {found.differences()};"
            f" duplicates: {found.duplicates}"
        ) from None
    done = time.monotonic()
    assert conn_tally is not None
    line = report(name, total, conn_tally, done - fault_ended, done - last_command)
    REPORT.append(line)
    writer = request.config.pluginmanager.get_plugin("terminalreporter")
    if writer is not None:
        writer.write_line(f"\n{line}")
    return conn_tally


def hold(progress: Progress, total: int) -> asyncio.Future[bool]:
    """The fault lasts while a further share of the stream is done, or at most a while."""
    return asyncio.ensure_future(
        progress.reached(progress.done + int(total * FAULT_FOR), timeout=FAULT_HOLD_MAX_S)
    )


# --- 1: the broker that leads the command and event partitions is killed ---------------------


async def test_killing_the_leading_broker_loses_and_doubles_nothing(
    platform: Platform, cluster: KafkaCluster, request: pytest.FixtureRequest
) -> None:
    async def fault(platform: Platform, progress: Progress, total: int) -> None:
        topics = [
            name(service, platform.prefix)
            for service in names(platform.catalog)
            for name in (commands_topic, events_topic)
        ]
        leaders = await cluster.leaders(topics)
        victim, led = Counter(leaders.values()).most_common(1)[0]
        await cluster.kill(victim)
        holding = hold(progress, total)

        async def moved() -> bool:
            return victim not in (await cluster.leaders(topics)).values()

        await eventually(moved, timeout=30, what=f"partitions led elsewhere than node {victim}")
        await holding
        await cluster.start(victim)
        print(f"broker {victim} led {led} of {len(leaders)} partitions; killed and restarted")

    await run_pass(platform, "broker", fault, request)


# --- 2: each service killed in turn, the other replica takes over -----------------------------


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


async def test_killing_each_service_in_turn_loses_and_doubles_nothing(
    platform: Platform, request: pytest.FixtureRequest
) -> None:
    async def fault(platform: Platform, progress: Progress, total: int) -> None:
        procs = platform.procs
        assert procs is not None
        for k, service in enumerate(names(platform.catalog)):
            settings = find(platform.catalog, service).settings
            group = settings.model_construct(topic_prefix=platform.prefix).group_id
            before = await group_members(platform, group)
            instance = procs.instances(service)[k % 2]
            procs.kill(instance)
            survivors = before - before // len(procs.instances(service))
            holding = asyncio.ensure_future(
                progress.reached(progress.done + int(total * FAULT_FOR / 3), FAULT_HOLD_MAX_S)
            )

            async def taken_over(group: str = group, survivors: int = survivors) -> bool:
                return await group_members(platform, group) == survivors

            await eventually(taken_over, timeout=60, what=f"{service}'s survivor took over")
            await holding
            await asyncio.to_thread(procs.start, instance)

    await run_pass(platform, "services", fault, request)


# --- 3: PostgreSQL stopped and started again ------------------------------------------------------


async def test_stopping_postgres_loses_and_doubles_nothing(
    platform: Platform, postgres: PrivatePostgres, request: pytest.FixtureRequest
) -> None:
    async def fault(platform: Platform, progress: Progress, total: int) -> None:
        # Immediate: no checkpoint, sessions cut off; what was committed comes back from the WAL.
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

    await run_pass(platform, "postgres", fault, request)


# --- 4: the SMTP server away for a while ----------------------------------------------------------


async def test_stopping_the_smtp_server_loses_and_doubles_nothing(
    platform: Platform, smtp: SinkProcess, request: pytest.FixtureRequest
) -> None:
    sink = SinkClient(smtp.web)
    before: dict[str, set[str]] = {}

    async def stored(address: str) -> set[str]:
        return {m["message_id"] for m in await sink.messages(containing=address)}

    async def fault(platform: Platform, progress: Progress, total: int) -> None:
        # A few people's mails so far, to find them again after the restart.
        for person in platform.people.made[-5:]:
            before[person.email] = await stored(person.email)
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

    await run_pass(platform, "smtp", fault, request)
    # The restarted sink serves what it took before it stopped, from its store.
    for address, ids in before.items():
        assert ids <= await stored(address), address


# --- personal data stays on the restricted contacts topic ---------------------------------------


async def test_no_personal_data_on_the_public_topics(platform: Platform) -> None:
    assert platform.events and platform.contacts
    await platform.events.catch_up()
    await platform.contacts.catch_up()
    people = platform.people.made
    assert len(people) > 100, "the passes ran first and named their people"
    needles = [n.lower() for p in people for n in p.needles]
    public = [value.decode(errors="replace").lower() for _, value in platform.events.raw]
    found = sorted({n for n in needles for text in public if n in text})
    assert public and not found, f"personal data on public topics: {found[:10]}"
    # The search finds them where they belong: on the contacts topic.
    restricted = " ".join(v.decode(errors="replace").lower() for _, v in platform.contacts.raw)
    assert sum(n in restricted for n in needles) > len(needles) // 2
