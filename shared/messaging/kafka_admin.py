"""Broker chores: wait until Kafka answers, create topics and keep their configs, remove them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    KafkaError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
    for_code,
)

from shared.contracts.topics import DEFAULT_PREFIX, TopicSpec, unique
from shared.messaging.kafka_client import Kafka, as_connection, check_login

log = logging.getLogger(__name__)


async def wait_for_kafka(bootstrap: Kafka, timeout: float = 60.0) -> None:
    """Ask the broker for its metadata until it answers; no blind sleeping. A refused login
    raises `KafkaAccessError` at once."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    kafka = as_connection(bootstrap)
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(**kafka.client_kwargs(), request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as error:
            last_error = error
        finally:
            await admin.close()
        if kafka.uses_sasl or kafka.uses_tls:
            # The client only says it could not bootstrap; a refused login or certificate
            # is no reason to wait: check_login raises KafkaAccessError saying which.
            with contextlib.suppress(KafkaError, OSError):
                await check_login(kafka, timeout_ms=3000)
        await asyncio.sleep(0.5)
    raise TimeoutError(f"Kafka at {kafka} did not answer within {timeout}s: {last_error!r}")


@asynccontextmanager
async def admin_client(bootstrap: Kafka) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client for the block, closed afterwards."""
    admin = AIOKafkaAdminClient(**as_connection(bootstrap).client_kwargs())
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


def _raise_for(error_code: int, what: str, message: str | None = None) -> None:
    if error_code:
        raise for_code(error_code)(f"{what}: {message or 'refused'}")


async def ensure_topics(
    bootstrap: Kafka,
    specs: Iterable[TopicSpec],
    *,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
) -> None:
    """Create the missing topics and bring the configs of existing ones in line with `specs`.

    A topic created by hand, by broker auto-creation or under older settings gets the
    retention its kind asks for. Partition counts and replicas are left alone on existing
    topics: adding partitions moves keys to other partitions and breaks the order of an
    aggregate's events, and moving replicas is a reassignment an operator plans.

    `replication_factor` is how many brokers hold each new topic; `min_insync_replicas`,
    when given, joins every topic's configs: with `acks=all` a write then waits for that
    many copies, so the loss of fewer brokers than that loses no acknowledged event.
    """
    if min_insync_replicas is not None and not 1 <= min_insync_replicas <= replication_factor:
        raise ValueError(
            f"min.insync.replicas={min_insync_replicas} must lie between 1 and the "
            f"replication factor {replication_factor}"
        )
    extra = {} if min_insync_replicas is None else {"min.insync.replicas": str(min_insync_replicas)}
    wanted = {spec.name: (spec, {**spec.configs, **extra}) for spec in unique(specs)}
    async with admin_client(bootstrap) as admin:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=name,
                        num_partitions=wanted[name][0].partitions,
                        replication_factor=replication_factor,
                        topic_configs=wanted[name][1],
                    )
                    for name in missing
                ]
            )
            for topic, code, message in response.topic_errors:
                if code == TopicAlreadyExistsError.errno:
                    existing.add(topic)  # created meanwhile by another starter: check it below
                else:
                    _raise_for(code, f"creating topic {topic}", message)
            # The controller has them; the broker's metadata follows a moment later.
            await _until_listed(admin, set(missing), present=True)
        present = [name for name in wanted if name in existing]
        current = await _describe(admin, present)
        stale = {
            name: wanted[name][1]
            for name in present
            if configs_differ(current[name], wanted[name][1])
        }
        for name, configs in stale.items():
            log.info(
                "topic %s: configs %s brought in line with %s",
                name,
                configs_differ(current[name], configs),
                configs,
            )
        if stale:
            # AlterConfigs (not the incremental kind) sets a topic's whole dynamic config:
            # what the spec does not name returns to the broker's default.
            responses = await admin.alter_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, name, configs)
                    for name, configs in stale.items()
                ]
            )
            for response in responses:
                for code, message, _type, name in response.resources:
                    _raise_for(code, f"altering the configs of topic {name}", message)
            await _until_configured(admin, stale)


async def _until_configured(
    admin: AIOKafkaAdminClient, wanted: Mapping[str, Mapping[str, str]], timeout: float = 30.0
) -> None:
    """Wait until the broker describes each topic with its wanted configs (metadata follows
    the controller a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        current = await _describe(admin, list(wanted))
        left = [name for name, configs in wanted.items() if configs_differ(current[name], configs)]
        if not left:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic configs not in effect after {timeout}s: {left}")
        await asyncio.sleep(0.1)  # metadata propagation poll, bounded by the deadline


async def topic_configs(bootstrap: Kafka, topics: Iterable[str]) -> dict[str, dict[str, str]]:
    """The effective configs of `topics` (the broker's defaults filled in), by topic."""
    async with admin_client(bootstrap) as admin:
        return await _describe(admin, list(topics))


async def _describe(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    if not topics:
        return {}
    responses: list[Any] = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
    )
    found: dict[str, dict[str, str]] = {}
    for response in responses:
        for code, message, _type, name, entries in response.resources:
            _raise_for(code, f"describing the configs of topic {name}", message)
            found[name] = {entry[0]: entry[1] for entry in entries}
    return found


async def topics_with_prefix(bootstrap: Kafka, prefix: str) -> list[str]:
    """Every topic whose name starts with `prefix.` (its DLQs and auto-created ones too)."""
    async with admin_client(bootstrap) as admin:
        return sorted(t for t in await admin.list_topics() if t.startswith(f"{prefix}."))


async def delete_topics_with_prefix(bootstrap: Kafka, prefix: str) -> list[str]:
    """Delete every topic named `prefix.…`; returns the names. For test and demo prefixes."""
    if not prefix or "." in prefix or prefix == DEFAULT_PREFIX:
        # The production prefix, or `a.b`, would reach far beyond one run's own topics.
        raise ValueError(f"refusing to delete topics under the prefix {prefix!r}")
    topics = await topics_with_prefix(bootstrap, prefix)
    if not topics:
        return []
    async with admin_client(bootstrap) as admin:
        response = await admin.delete_topics(topics)
        for entry in response.topic_error_codes:  # (topic, error code[, message])
            topic, code = entry[0], entry[1]
            if code != UnknownTopicOrPartitionError.errno:  # gone already: what we wanted
                _raise_for(code, f"deleting topic {topic}")
        await _until_listed(admin, set(topics), present=False)
    return topics


async def _until_listed(
    admin: AIOKafkaAdminClient, topics: set[str], *, present: bool, timeout: float = 30.0
) -> None:
    """Wait until the broker's metadata lists all `topics` (or none of them)."""
    deadline = time.monotonic() + timeout
    while True:
        listed = topics & set(await admin.list_topics())
        left = topics - listed if present else listed
        if not left:
            return
        if time.monotonic() > deadline:
            state = "to appear" if present else "to go"
            raise TimeoutError(f"topics still waiting {state} after {timeout}s: {sorted(left)}")
        await asyncio.sleep(0.1)  # metadata propagation poll, bounded by the deadline


def configs_differ(current: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The keys of `wanted` whose value `current` does not have, with the current value."""
    return {
        key: current.get(key, "-") for key, value in wanted.items() if current.get(key) != value
    }
