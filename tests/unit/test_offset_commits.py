"""Offset commits while records flow: at most one per interval, the latest offsets in it,
and what is pending committed at once when the loop stops."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition

from shared.consuming import _Committer

pytestmark = pytest.mark.unit

PART = TopicPartition("t", 0)


class Consumer:
    """What the committer uses of an AIOKafkaConsumer; it records each commit."""

    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return {PART}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))


async def test_batches_within_an_interval_go_in_one_commit_of_their_latest_offsets() -> None:
    consumer = Consumer()
    committer = _Committer(consumer, interval_s=0.2)  # type: ignore[arg-type]
    for offset in range(1, 11):  # ten small batches, 10 ms apart
        committer.add({PART: offset})
        await asyncio.sleep(0.01)
    await committer.drain()
    assert consumer.commits[0] == {PART: 1}  # the first at once
    assert consumer.commits[-1] == {PART: 10}  # nothing handled is left uncommitted
    assert len(consumer.commits) == 2  # not one per batch


async def test_stopping_commits_what_is_pending_without_waiting_for_the_interval() -> None:
    consumer = Consumer()
    committer = _Committer(consumer, interval_s=60)  # type: ignore[arg-type]
    committer.add({PART: 1})
    await asyncio.sleep(0)  # the first commit goes
    committer.add({PART: 2})
    await asyncio.wait_for(committer.drain(), timeout=5)
    assert consumer.commits == [{PART: 1}, {PART: 2}]
