"""Topics on the real broker: retention by kind, configs kept in line, test topics removed."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.contracts.events.registration import contacts_topic
from shared.contracts.topics import TopicKind, TopicSpec, commands_topic, dlq_topic, events_topic
from shared.messaging.kafka_admin import (
    delete_topics_with_prefix,
    ensure_topics,
    topic_configs,
    topics_with_prefix,
)
from shared.runtime.catalog import Catalog, names, topic_specs
from shared.testing.fixtures import (
    Endpoints,
    create_test_database,
    drop_test_database,
    eventually,
)

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000
RETENTION_KEYS = ("cleanup.policy", "retention.ms", "retention.bytes", "delete.retention.ms")


def retention(configs: dict[str, str]) -> dict[str, str]:
    return {key: configs[key] for key in RETENTION_KEYS}


async def test_each_kind_of_topic_keeps_what_it_should(
    endpoints: Endpoints, topic_prefix: str
) -> None:
    """As the broker describes them after `ensure_topics` (the topic_prefix fixture ran it)."""
    events = events_topic("registration", topic_prefix)
    commands = commands_topic("registration", topic_prefix)
    contacts = contacts_topic(topic_prefix)
    dlq = dlq_topic(commands)
    found = await topic_configs(endpoints.kafka_bootstrap, [events, commands, contacts, dlq])

    # The broker's own defaults fill in what a kind does not set (retention.bytes -1 and
    # delete.retention.ms of a day are Kafka's defaults too).
    assert retention(found[events]) == {
        "cleanup.policy": "delete",
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "delete.retention.ms": str(DAY_MS),
    }
    assert retention(found[commands])["retention.ms"] == str(7 * DAY_MS)
    assert retention(found[commands])["cleanup.policy"] == "delete"
    assert retention(found[dlq])["retention.ms"] == str(90 * DAY_MS)
    assert retention(found[dlq])["cleanup.policy"] == "delete"
    assert retention(found[contacts]) == {
        "cleanup.policy": "compact",
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "delete.retention.ms": str(DAY_MS),
    }


async def test_existing_topics_are_brought_in_line(
    endpoints: Endpoints, topic_prefix: str, catalog: Catalog
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    events = events_topic("registration", topic_prefix)
    by_hand = f"{topic_prefix}.byhand.events"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        # An operator's (or an older release's) settings: a week of events, a compacted log.
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, events, {"retention.ms": "604800000"})]
        )
        await admin.create_topics(
            [NewTopic(by_hand, 1, 1, topic_configs={"cleanup.policy": "compact"})]
        )
    finally:
        await admin.close()

    async def set_by_hand() -> bool:
        if by_hand not in await topics_with_prefix(bootstrap, topic_prefix):
            return False
        before = await topic_configs(bootstrap, [events, by_hand])
        return (
            before[events]["retention.ms"] == "604800000"
            and before[by_hand]["cleanup.policy"] == "compact"
        )

    await eventually(set_by_hand, timeout=30, what="the hand-made settings to show")

    await ensure_topics(
        bootstrap, [*topic_specs(catalog, topic_prefix), TopicSpec(by_hand, TopicKind.EVENTS)]
    )

    after = await topic_configs(bootstrap, [events, by_hand])
    for topic in (events, by_hand):
        assert retention(after[topic])["cleanup.policy"] == "delete", topic
        assert retention(after[topic])["retention.ms"] == "-1", topic
        assert retention(after[topic])["retention.bytes"] == "-1", topic
    # Running it again changes nothing and does not fail on topics that exist.
    await ensure_topics(bootstrap, topic_specs(catalog, topic_prefix))
    assert await topic_configs(bootstrap, [events]) == {events: after[events]}


async def test_a_runs_topics_go_by_prefix_dlqs_and_strays_too(
    endpoints: Endpoints, catalog: Catalog
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    prefix = f"t{uuid.uuid4().hex[:10]}"
    other = f"t{uuid.uuid4().hex[:10]}"
    specs = topic_specs(catalog, prefix)
    stray = TopicSpec(f"{prefix}.made-on-the-side", TopicKind.COMMANDS, partitions=1)
    await ensure_topics(bootstrap, [*specs, stray, *topic_specs(catalog, other)[:1]])
    assert len(await topics_with_prefix(bootstrap, prefix)) == len(specs) + 1

    deleted = await delete_topics_with_prefix(bootstrap, prefix)

    assert sorted(deleted) == sorted([*(spec.name for spec in specs), stray.name])
    assert any(name.endswith(".dlq") for name in deleted)
    await eventually(
        lambda: _none_left(bootstrap, prefix), timeout=30, what=f"the {prefix} topics to go"
    )
    # Another run's topics stay; a prefix that would reach beyond one run is refused.
    assert await topics_with_prefix(bootstrap, other) == [events_topic("registration", other)]
    await delete_topics_with_prefix(bootstrap, other)
    for too_wide in ("", "kulturskole", "t1.registration"):
        with pytest.raises(ValueError, match="refusing"):
            await delete_topics_with_prefix(bootstrap, too_wide)
    assert await delete_topics_with_prefix(bootstrap, prefix) == []


async def _none_left(bootstrap: str, prefix: str) -> bool:
    return not await topics_with_prefix(bootstrap, prefix)


async def test_a_test_database_is_dropped_with_its_sessions(
    endpoints: Endpoints, catalog: Catalog
) -> None:
    database = await create_test_database(endpoints, names(catalog))
    role = names(catalog)[0]
    still_connected = await asyncpg.connect(database.dsns[role])
    try:
        await drop_test_database(endpoints, database)
        superuser = await asyncpg.connect(endpoints.pg_superuser_dsn)
        try:
            exists = await superuser.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", database.name
            )
        finally:
            await superuser.close()
        assert exists is None
    finally:
        await still_connected.close()
