"""Topic names: one public event topic and one command topic per service, each with a DLQ.

The prefix is a setting so that tests (and several environments on one cluster) can run
side by side; production uses the default `kulturskole`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "kulturskole"
SERVICE_NAMES = ("registration", "scheduling", "notification")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 3
    compacted: bool = False


def events_topic(service: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}.{service}.events"


def commands_topic(service: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}.{service}.commands"


def contacts_topic(prefix: str = DEFAULT_PREFIX) -> str:
    """Restricted, compacted topic with personal contact data; only notification reads it."""
    return f"{prefix}.registration.contacts"


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def all_topic_specs(prefix: str = DEFAULT_PREFIX) -> list[TopicSpec]:
    specs: list[TopicSpec] = []
    for service in SERVICE_NAMES:
        for topic in (events_topic(service, prefix), commands_topic(service, prefix)):
            specs += [TopicSpec(topic), TopicSpec(dlq_topic(topic), partitions=1)]
    contacts = contacts_topic(prefix)
    specs += [TopicSpec(contacts, compacted=True), TopicSpec(dlq_topic(contacts), partitions=1)]
    return specs
