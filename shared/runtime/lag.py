"""Consumer lag as a gauge: how far the service's consumer group is behind, per partition.

Lag is what an operator alerts on when a service falls behind or stops consuming: the end
offset of each partition the service subscribes to, minus the offset its group committed
there. The worker asks the broker every few seconds (the group's committed offsets through
the admin API, end offsets through an offsets-only consumer that joins no group), so the
gauge also moves while the service's own consumer is stuck or rebalancing, and is zero only
when everything written has been handled and committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Gauge

from shared.messaging.kafka_client import Kafka, client_kwargs
from shared.messaging.retry import backoff_delay, describe

if TYPE_CHECKING:
    from shared.runtime.spec import Runtime, Worker

log = logging.getLogger(__name__)

CONSUMER_LAG = Gauge(
    "ks_consumer_lag",
    "Records on a partition the service's consumer group has not yet committed past",
    ["service", "topic", "partition"],
)

INTERVAL_S = 5.0


class LagProbe:
    """Reads the lag of `group` on `topics`; one admin client and one offsets consumer."""

    def __init__(self, bootstrap: Kafka, group: str, topics: Sequence[str]) -> None:
        self.group = group
        self.topics = list(topics)
        self._admin = AIOKafkaAdminClient(**client_kwargs(bootstrap))
        # No group: it only asks for offsets, never consumes or commits.
        self._offsets = AIOKafkaConsumer(
            **client_kwargs(bootstrap), group_id=None, enable_auto_commit=False
        )
        self._partitions: list[TopicPartition] = []

    async def start(self) -> None:
        await self._admin.start()
        try:
            await self._offsets.start()
        except BaseException:
            await self._admin.close()
            raise

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._offsets.stop()
        with contextlib.suppress(Exception):
            await self._admin.close()

    async def partitions(self) -> list[TopicPartition]:
        """The topics' partitions as the broker describes them; asked again until all are
        known (an offsets-only consumer has no metadata of its own to ask)."""
        if len({tp.topic for tp in self._partitions}) < len(self.topics):
            found: list[TopicPartition] = []
            for described in await self._admin.describe_topics(self.topics):
                if described["error_code"] == 0:
                    found += [
                        TopicPartition(described["topic"], p["partition"])
                        for p in described["partitions"]
                    ]
            self._partitions = sorted(found)
        return self._partitions

    async def lag(self) -> dict[TopicPartition, int]:
        partitions = await self.partitions()
        if not partitions:
            return {}
        ends = await self._offsets.end_offsets(partitions)
        # Where the group never committed it starts from the earliest record still kept.
        starts = await self._offsets.beginning_offsets(partitions)
        committed = await self._admin.list_consumer_group_offsets(self.group)
        lag: dict[TopicPartition, int] = {}
        for tp in partitions:
            done = committed.get(tp)
            position = max(starts[tp], done.offset if done is not None else -1)
            lag[tp] = max(0, ends[tp] - position)
        return lag


def consumer_lag_worker(topics: Sequence[str], *, interval: float = INTERVAL_S) -> Worker:
    """A worker that keeps `ks_consumer_lag` current for the service's group on `topics`."""

    async def consumer_lag(runtime: Runtime) -> None:
        if not topics:
            return
        service = runtime.bus.service
        attempt = 0
        while True:
            probe = LagProbe(runtime.settings.kafka, runtime.settings.group_id, topics)
            try:
                await probe.start()
                while True:
                    for tp, lag in (await probe.lag()).items():
                        CONSUMER_LAG.labels(service, tp.topic, str(tp.partition)).set(lag)
                    attempt = 0
                    await asyncio.sleep(interval)  # the sampling clock
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # A broker away leaves the gauge at its last value; the lag alert's companion
                # is the broker's own health. Start afresh with new clients.
                attempt += 1
                log.warning(
                    "consumer lag not read, retrying",
                    extra={"error": describe(error), "attempt": attempt},
                )
                await asyncio.sleep(max(interval, backoff_delay(attempt)))
            finally:
                await probe.close()

    return consumer_lag
