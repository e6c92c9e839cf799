"""Topic names, kinds and retention: what each kind of topic is for decides how long it keeps.

A service owns `<prefix>.<service>.events` (its public history), `<prefix>.<service>.commands`
(requests to it), any compacted topics of its own (`<prefix>.<service>.<name>`) and a
`<topic>.dlq` beside each. The prefix is a setting so that tests (and several environments on
one cluster) can run side by side; production uses the default `kulturskole`. Which services
exist is not this module's business: each declares its topics with `service_topics`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

DEFAULT_PREFIX = "kulturskole"
DLQ_SUFFIX = ".dlq"

_DAY_MS = 24 * 60 * 60 * 1000


class TopicKind(StrEnum):
    EVENTS = "events"
    COMMANDS = "commands"
    COMPACTED = "compacted"
    DLQ = "dlq"


# Topic configs by kind. Every key is set explicitly, so a topic created or altered by
# `ensure_topics` does not depend on the broker's defaults (a broker's `log.retention.hours`
# would otherwise cut a public history short).
TOPIC_CONFIGS: Mapping[TopicKind, Mapping[str, str]] = MappingProxyType(
    {
        # A new consumer rebuilds its state from the first event: keep everything.
        TopicKind.EVENTS: MappingProxyType(
            {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
        ),
        # A command is a request: handled within minutes, kept a week for tracing and replay.
        TopicKind.COMMANDS: MappingProxyType(
            {"cleanup.policy": "delete", "retention.ms": str(7 * _DAY_MS)}
        ),
        # The latest value per key, for as long as it is current; a tombstone (erasure) is
        # kept a day, so consumers that lag behind still see the delete, then it is gone.
        TopicKind.COMPACTED: MappingProxyType(
            {
                "cleanup.policy": "compact",
                "retention.ms": "-1",
                "delete.retention.ms": str(_DAY_MS),
            }
        ),
        # Dead letters wait for an operator to look and re-drive: a quarter is long enough.
        TopicKind.DLQ: MappingProxyType(
            {"cleanup.policy": "delete", "retention.ms": str(90 * _DAY_MS)}
        ),
    }
)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    kind: TopicKind
    partitions: int = 3

    @property
    def configs(self) -> dict[str, str]:
        """The topic configs `ensure_topics` creates the topic with and keeps it at."""
        return dict(TOPIC_CONFIGS[self.kind])

    @property
    def compacted(self) -> bool:
        return self.kind is TopicKind.COMPACTED


def topic_name(service: str, name: str, prefix: str = DEFAULT_PREFIX) -> str:
    """A topic `service` owns, e.g. `kulturskole.<service>.<name>`."""
    return f"{prefix}.{service}.{name}"


def events_topic(service: str, prefix: str = DEFAULT_PREFIX) -> str:
    return topic_name(service, "events", prefix)


def commands_topic(service: str, prefix: str = DEFAULT_PREFIX) -> str:
    return topic_name(service, "commands", prefix)


def dlq_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


def with_dlq(spec: TopicSpec) -> list[TopicSpec]:
    """`spec` and its dead-letter queue: one partition, an ordinary log (never compacted, or
    dead letters with the same key would replace each other)."""
    return [spec, TopicSpec(dlq_topic(spec.name), TopicKind.DLQ, partitions=1)]


def service_topics(
    service: str, prefix: str = DEFAULT_PREFIX, *, compacted: Sequence[str] = ()
) -> list[TopicSpec]:
    """The topics `service` owns: events, commands, the compacted ones named, each with a DLQ.

    For example `service_topics("<service>", compacted=["contacts"])` gives
    `kulturskole.<service>.{events,commands,contacts}` and their `.dlq` topics.
    """
    specs = [
        TopicSpec(events_topic(service, prefix), TopicKind.EVENTS),
        TopicSpec(commands_topic(service, prefix), TopicKind.COMMANDS),
        *(TopicSpec(topic_name(service, name, prefix), TopicKind.COMPACTED) for name in compacted),
    ]
    return [topic for spec in specs for topic in with_dlq(spec)]


def unique(specs: Iterable[TopicSpec]) -> list[TopicSpec]:
    """`specs` in order, each name once; two different specs for one name are a mistake."""
    found: dict[str, TopicSpec] = {}
    for spec in specs:
        if found.setdefault(spec.name, spec) != spec:
            raise ValueError(f"topic {spec.name} declared twice: {found[spec.name]} and {spec}")
    return list(found.values())
