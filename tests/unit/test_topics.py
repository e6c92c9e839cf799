"""Topic names and the full set of topics to create, each with its dead-letter queue."""

from __future__ import annotations

import pytest

from shared.topics import (
    DEFAULT_PREFIX,
    SERVICE_NAMES,
    TopicSpec,
    all_topic_specs,
    commands_topic,
    contacts_topic,
    dlq_topic,
    events_topic,
)

pytestmark = pytest.mark.unit


def test_topic_names() -> None:
    assert DEFAULT_PREFIX == "kulturskole"
    assert events_topic("registration") == "kulturskole.registration.events"
    assert commands_topic("registration") == "kulturskole.registration.commands"
    assert events_topic("notification") == "kulturskole.notification.events"
    assert contacts_topic() == "kulturskole.registration.contacts"
    assert dlq_topic("kulturskole.registration.commands") == "kulturskole.registration.commands.dlq"


def test_topic_names_with_prefix() -> None:
    assert events_topic("scheduling", "t1234") == "t1234.scheduling.events"
    assert commands_topic("scheduling", prefix="t1234") == "t1234.scheduling.commands"
    assert contacts_topic("t1234") == "t1234.registration.contacts"


def test_all_topic_specs_has_events_commands_contacts_and_a_dlq_each() -> None:
    specs = all_topic_specs()
    names = [spec.name for spec in specs]
    assert len(names) == len(set(names))

    main = {spec.name for spec in specs if not spec.name.endswith(".dlq")}
    expected = {events_topic(s) for s in SERVICE_NAMES} | {commands_topic(s) for s in SERVICE_NAMES}
    expected.add(contacts_topic())
    assert main == expected
    assert {name for name in names if name.endswith(".dlq")} == {dlq_topic(t) for t in main}
    assert len(specs) == 2 * (2 * len(SERVICE_NAMES) + 1)


def test_contacts_topic_is_the_only_compacted_one() -> None:
    specs = {spec.name: spec for spec in all_topic_specs()}
    assert specs["kulturskole.registration.contacts"].compacted is True
    assert [name for name, spec in specs.items() if spec.compacted] == [
        "kulturskole.registration.contacts"
    ]
    # Its DLQ is an ordinary log: compaction would lose dead letters with the same key.
    assert specs["kulturskole.registration.contacts.dlq"].compacted is False


def test_partitions() -> None:
    for spec in all_topic_specs():
        if spec.name.endswith(".dlq"):
            assert spec.partitions == 1, spec
        else:
            assert spec.partitions == 3, spec
    assert TopicSpec("x") == TopicSpec("x", partitions=3, compacted=False)


def test_all_topic_specs_apply_prefix() -> None:
    specs = all_topic_specs("t0c0ffee")
    assert all(spec.name.startswith("t0c0ffee.") for spec in specs)
    assert "t0c0ffee.registration.contacts" in {spec.name for spec in specs}
    assert "t0c0ffee.notification.commands.dlq" in {spec.name for spec in specs}
