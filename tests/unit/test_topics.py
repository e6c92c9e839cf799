"""Topic names, kinds and retention, and the topics the platform's services declare."""

from __future__ import annotations

import pytest

from services.catalog import SERVICES
from shared.contracts.events.registration import contacts_topic
from shared.contracts.events.scheduling import guest_contacts_topic
from shared.contracts.topics import (
    DEFAULT_PREFIX,
    TopicKind,
    TopicSpec,
    commands_topic,
    dlq_topic,
    events_topic,
    service_topics,
    topic_name,
    unique,
)
from shared.runtime.catalog import names, topic_specs

pytestmark = pytest.mark.unit

DAY_MS = 86_400_000


def test_topic_names() -> None:
    assert DEFAULT_PREFIX == "kulturskole"
    assert events_topic("registration") == "kulturskole.registration.events"
    assert commands_topic("registration") == "kulturskole.registration.commands"
    assert events_topic("notification") == "kulturskole.notification.events"
    assert topic_name("svc", "things") == "kulturskole.svc.things"
    assert contacts_topic() == "kulturskole.registration.contacts"
    assert dlq_topic("kulturskole.registration.commands") == "kulturskole.registration.commands.dlq"


def test_topic_names_with_prefix() -> None:
    assert events_topic("scheduling", "t1234") == "t1234.scheduling.events"
    assert commands_topic("scheduling", prefix="t1234") == "t1234.scheduling.commands"
    assert contacts_topic("t1234") == "t1234.registration.contacts"


def test_a_service_owns_events_commands_its_compacted_topics_and_a_dlq_each() -> None:
    specs = service_topics("svc", "p1", compacted=["people"])
    assert [(spec.name, spec.kind, spec.partitions) for spec in specs] == [
        ("p1.svc.events", TopicKind.EVENTS, 3),
        ("p1.svc.events.dlq", TopicKind.DLQ, 1),
        ("p1.svc.commands", TopicKind.COMMANDS, 3),
        ("p1.svc.commands.dlq", TopicKind.DLQ, 1),
        ("p1.svc.people", TopicKind.COMPACTED, 3),
        ("p1.svc.people.dlq", TopicKind.DLQ, 1),
    ]


def test_retention_by_kind() -> None:
    events, _, commands, dlq, contacts, contacts_dlq = service_topics("svc", compacted=["contacts"])
    # Public history: a new consumer rebuilds its state from the first event.
    assert events.configs == {
        "cleanup.policy": "delete",
        "retention.ms": "-1",
        "retention.bytes": "-1",
    }
    assert commands.configs == {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)}
    assert dlq.configs == {"cleanup.policy": "delete", "retention.ms": str(90 * DAY_MS)}
    # The latest value per key for good; a tombstone is cleared after a day.
    assert contacts.configs == {
        "cleanup.policy": "compact",
        "retention.ms": "-1",
        "delete.retention.ms": str(DAY_MS),
    }
    assert contacts.compacted and not events.compacted
    # A DLQ is an ordinary log: compaction would drop dead letters that share a key.
    assert contacts_dlq.configs == dlq.configs


def test_configs_are_a_copy() -> None:
    spec = TopicSpec("x.y.events", TopicKind.EVENTS)
    spec.configs["retention.ms"] = "1"
    assert spec.configs["retention.ms"] == "-1"


def test_the_platform_topics_events_commands_contacts_and_a_dlq_each() -> None:
    specs = topic_specs(SERVICES)
    by_name = {spec.name: spec for spec in specs}
    assert len(by_name) == len(specs)
    assert names(SERVICES) == ["registration", "scheduling", "notification"]

    main = {name for name in by_name if not name.endswith(".dlq")}
    assert main == {events_topic(s) for s in names(SERVICES)} | {
        commands_topic(s) for s in names(SERVICES)
    } | {contacts_topic(), guest_contacts_topic()}
    assert {name for name in by_name if name.endswith(".dlq")} == {dlq_topic(t) for t in main}
    assert [name for name, spec in by_name.items() if spec.compacted] == [
        contacts_topic(),
        guest_contacts_topic(),
    ]
    assert {by_name[dlq_topic(t)].kind for t in main} == {TopicKind.DLQ}


def test_the_platform_topics_take_the_prefix() -> None:
    specs = topic_specs(SERVICES, "t0c0ffee")
    assert all(spec.name.startswith("t0c0ffee.") for spec in specs)
    assert contacts_topic("t0c0ffee") in {spec.name for spec in specs}
    assert "t0c0ffee.notification.commands.dlq" in {spec.name for spec in specs}


def test_one_topic_declared_twice_alike_is_one_topic_differently_is_a_mistake() -> None:
    events = TopicSpec("p.svc.events", TopicKind.EVENTS)
    assert unique([events, events]) == [events]
    with pytest.raises(ValueError, match="declared twice"):
        unique([events, TopicSpec("p.svc.events", TopicKind.COMMANDS)])
