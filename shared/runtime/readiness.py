"""Whether a service can do its work: `/readyz` asks this about its Kafka consumers.

A consumer can work when it has joined its group and been given its partitions, and its
fetcher has had an answer from the broker lately (aiokafka stamps each partition at every
fetch response, also an empty one). A started consumer whose broker is gone keeps its
assignment but gets no answers, so it turns not ready after `within_s`.
"""

from __future__ import annotations

import time
from typing import Any

from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker


def consumer_problem(consumer: AIOKafkaConsumer | None, *, within_s: float) -> str | None:
    """None when `consumer` is assigned and fetching; else what it is not."""
    if consumer is None:
        return "kafka consumer not started"
    subscription: Any = getattr(consumer._subscription, "subscription", None)
    if subscription is None or subscription.assignment is None:
        return "kafka consumer not assigned partitions yet"
    assigned = consumer.assignment()
    if not assigned:
        # More members in the group than partitions: this one idles, and that is in order.
        return None
    now_ms = time.time() * 1000
    polled = [subscription.assignment.state_value(tp) for tp in assigned]
    latest = max((state.timestamp for state in polled if state and state.timestamp), default=0)
    if now_ms - latest > within_s * 1000:
        return f"kafka consumer has had no fetch answered for {within_s:g}s"
    return None


def kafka_problem(broker: KafkaBroker, *, within_s: float) -> str | None:
    """The first subscriber whose consumer cannot work, and why; None when all can."""
    for subscriber in broker.subscribers:
        if not subscriber.running:
            return "kafka subscriber not running"
        problem = consumer_problem(subscriber.consumer, within_s=within_s)  # type: ignore[attr-defined]
        if problem is not None:
            return problem
    return None
