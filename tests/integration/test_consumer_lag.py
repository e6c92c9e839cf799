"""Consumer lag as the `ks_consumer_lag` gauge reads it, against the real broker: per partition,
what was written that the group has not committed past; all of it for a group that never
committed; nothing once the group committed to the end."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from shared.runtime.lag import LagProbe
from shared.testing.fixtures import Endpoints

pytestmark = pytest.mark.integration


async def test_lag_per_partition_is_what_the_group_has_not_committed_past(
    endpoints: Endpoints, topic_prefix: str
) -> None:
    topic, group = f"{topic_prefix}.lag.events", f"{topic_prefix}.lag-reader"
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for partition, count in ((0, 5), (1, 2)):
            for n in range(count):
                await producer.send_and_wait(topic, f"{n}".encode(), partition=partition)
    finally:
        await producer.stop()

    probe = LagProbe(endpoints.kafka_bootstrap, group, [topic])
    await probe.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(3)]
        assert await probe.lag() == dict(zip(tps, [5, 2, 0], strict=True))

        # The group commits partition 0 up to offset 3 and partition 1 to its end.
        committer = AIOKafkaConsumer(
            bootstrap_servers=endpoints.kafka_bootstrap, group_id=group, enable_auto_commit=False
        )
        await committer.start()
        try:
            committer.assign(tps)
            await committer.commit(
                {tps[0]: OffsetAndMetadata(3, ""), tps[1]: OffsetAndMetadata(2, "")}
            )
        finally:
            await committer.stop()
        assert await probe.lag() == dict(zip(tps, [2, 0, 0], strict=True))
    finally:
        await probe.close()
