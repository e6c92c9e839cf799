"""Bad input for every topic a service consumes, as data: what is sent, and what must follow.

A `Case` turns a valid message of a topic (its `Sample`) into a bad one: bytes that are not
JSON, JSON of the wrong shape, CloudEvents attributes missing, doubled or wrong, a type this
topic does not carry, a reference the domain does not know. Each says what the consumer must
do with it, on a topic of commands and on one of published facts (events, contact details):

- `DeadLetter(reason)`: a letter on `<topic>.dlq` whose `dlq_reason` matches `reason`;
- `IGNORED`: passed over without a letter (a tolerant reader skips a type it does not know,
  or a tombstone on a topic whose keys it holds nothing for);
- `HANDLED`: handled like a valid message (a property or attribute a newer producer added).

Commands are strict (anything not in their contract is refused); readers of facts are
tolerant of what a newer producer may add, not of what no producer may send. The corpus is
run against the services as processes by tests/e2e/test_poison_corpus.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contracts.events.base import REGISTRY
from shared.messaging.envelope import Envelope

Headers = list[tuple[str, bytes | None]]


@dataclass(frozen=True)
class DeadLetter:
    reason: str  # a regular expression the letter's `dlq_reason` must match (re.search)


@dataclass(frozen=True)
class Kept:
    """Not dead-lettered: `handled` says whether the consumer's inbox must hold it."""

    handled: bool


HANDLED = Kept(handled=True)
IGNORED = Kept(handled=False)
Outcome = DeadLetter | Kept


@dataclass(frozen=True)
class Record:
    """What goes on the wire."""

    key: bytes | None
    value: bytes | None
    headers: Headers
    message_id: str | None  # the `ce_id` that identifies it in an inbox, if it has one


@dataclass(frozen=True)
class Sample:
    """A valid message of a topic, as a type and its data; `record()` puts it on the wire."""

    type: str
    data: dict[str, Any]
    text: str = ""  # a property of free text, if the type has one

    def envelope(self, message_id: str | None = None) -> Envelope:
        return Envelope(
            id=message_id or str(uuid.uuid4()),
            type=self.type,
            source="/test/poison-corpus",
            time=datetime.now(UTC),
            data=json.dumps(self.data).encode(),
        )

    def record(self, key: bytes) -> Record:
        envelope = self.envelope()
        return Record(key, envelope.data, list(envelope.headers()), envelope.id)

    def with_data(self, **changes: Any) -> Sample:
        return replace(self, data={**self.data, **changes})


def _kind(topic: str) -> str:
    return "commands" if topic.endswith(".commands") else "facts"


# --- how a case builds its record --------------------------------------------------------------


Build = Callable[[Sample, bytes], Record]


def value(raw: bytes) -> Build:
    """The sample's headers with `raw` as the value."""

    def build(sample: Sample, key: bytes) -> Record:
        good = sample.record(key)
        return replace(good, value=raw)

    return build


def data(change: Callable[[dict[str, Any]], Any]) -> Build:
    """The sample's data changed by `change` (which may return something else entirely)."""

    def build(sample: Sample, key: bytes) -> Record:
        good = sample.record(key)
        changed = change(json.loads(json.dumps(sample.data)))
        return replace(good, value=json.dumps(changed).encode())

    return build


def raw_json(render: Callable[[dict[str, Any]], str]) -> Build:
    """The value as text that `render` writes from the sample's data (for what json.dumps
    will not write: duplicate names, NaN, a huge integer)."""

    def build(sample: Sample, key: bytes) -> Record:
        return replace(sample.record(key), value=render(sample.data).encode())

    return build


def headers(change: Callable[[Headers], Headers]) -> Build:
    def build(sample: Sample, key: bytes) -> Record:
        good = sample.record(key)
        return replace(good, headers=change(list(good.headers)))

    return build


def without(*names: str) -> Build:
    return headers(lambda found: [(k, v) for k, v in found if k not in names])


def setting(name: str, new: bytes | None) -> Build:
    return headers(lambda found: [(k, new if k == name else v) for k, v in found])


def doubled(name: str, other: bytes) -> Build:
    return headers(lambda found: [*found, (name, other)])


def keyed(new_key: bytes | None) -> Build:
    def build(sample: Sample, key: bytes) -> Record:
        return replace(sample.record(key), key=new_key)

    return build


def typed(ce_type: str) -> Build:
    return setting("ce_type", ce_type.encode())


def first_text(data: dict[str, Any]) -> str:
    """The first property with a text value: the one a case spoils."""
    return next(name for name, found in data.items() if isinstance(found, str))


def _set_first_text(to: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(found: dict[str, Any]) -> dict[str, Any]:
        return {**found, first_text(found): to}

    return change


def free_text(to: str) -> Build:
    """The sample's free text (or, without one, its first text) set to `to`."""

    def build(sample: Sample, key: bytes) -> Record:
        name = sample.text or first_text(sample.data)
        return data(lambda found: {**found, name: to})(sample, key)

    return build


def _drop_first(found: dict[str, Any]) -> dict[str, Any]:
    del found[next(iter(found))]
    return found


def _doubled_name(found: dict[str, Any]) -> str:
    name = first_text(found)
    body = json.dumps(found)[1:-1]
    return "{" + f'"{name}": "the other value", ' + body + "}"


def _huge_integer(found: dict[str, Any]) -> str:
    return json.dumps({**found, first_text(found): "__HUGE__"}).replace('"__HUGE__"', "9" * 5000)


def _nan(found: dict[str, Any]) -> str:
    return json.dumps({**found, first_text(found): "__NAN__"}).replace('"__NAN__"', "NaN")


def _utf16(sample: Sample, key: bytes) -> Record:
    good = sample.record(key)
    return replace(good, value=json.dumps(sample.data).encode("utf-16"))


def _tombstone(sample: Sample, key: bytes) -> Record:
    return replace(sample.record(key), value=None, headers=[], message_id=None)


def _bare(sample: Sample, key: bytes) -> Record:
    return replace(sample.record(key), key=None, value=None, headers=[], message_id=None)


# --- the corpus -------------------------------------------------------------------------------

NOT_JSON = r"^value is not JSON"
INVALID = r"failed validation: "
NOT_CLOUDEVENT = r"^not a CloudEvent in binary mode: missing header\(s\) "
UNKNOWN_TYPE = r"^unknown or unexpected ce_type "
OVERSIZED = 900 * 1024  # under the broker's default limit of a record, far over any contract


@dataclass(frozen=True)
class Case:
    name: str
    build: Build
    commands: Outcome
    facts: Outcome | None = None  # None: as on commands

    def outcome(self, topic: str) -> Outcome:
        if _kind(topic) == "facts" and self.facts is not None:
            return self.facts
        return self.commands


def _same(reason: str) -> DeadLetter:
    return DeadLetter(reason)


CORPUS: Sequence[Case] = (
    # The value's bytes
    Case("binary value", value(b"\x00\x01\x80\xfe\xff binary"), _same(NOT_JSON)),
    Case("broken JSON", value(b'{"round_id": "2030", '), _same(NOT_JSON)),
    Case("invalid UTF-8 in a string", value(b'{"name": "Kari \xff\xfe"}'), _same(NOT_JSON)),
    Case("UTF-16 instead of UTF-8", _utf16, _same(r"^value is not JSON: not UTF-8")),
    Case("empty value", value(b""), _same(NOT_JSON)),
    Case("whitespace only", value(b"  \n\t "), _same(NOT_JSON)),
    Case("trailing garbage", value(b'{"a": 1} trailing'), _same(NOT_JSON)),
    Case("nested a hundred thousand deep", value(b"[" * 100_000), _same(NOT_JSON)),
    Case("integer beyond the parser's digits", raw_json(_huge_integer), _same(NOT_JSON)),
    Case("NaN", raw_json(_nan), _same(r"^value is not JSON: NaN is not a JSON number")),
    Case(
        "a name twice", raw_json(_doubled_name), _same(r"^value is not JSON: property '.*' twice")
    ),
    # The value's shape
    Case("JSON array", data(lambda found: [found]), _same(INVALID + r"\(root\)")),
    Case("JSON string", value(b'"hello"'), _same(INVALID + r"\(root\)")),
    Case("JSON null", value(b"null"), _same(INVALID + r"\(root\)")),
    Case("JSON number", value(b"42"), _same(INVALID + r"\(root\)")),
    Case("empty object", data(lambda _: {}), _same(INVALID + r"\w+: Field required")),
    Case("a property missing", data(_drop_first), _same(INVALID + r"\w+: Field required")),
    Case("number for text", data(_set_first_text(12345)), _same(INVALID + r"\w+: .*string")),
    Case("object for text", data(_set_first_text({"a": 1})), _same(INVALID + r"\w+: .*string")),
    Case("null for text", data(_set_first_text(None)), _same(INVALID + r"\w+: ")),
    Case(
        "NUL in text",
        free_text("Kari\x00Nordmann"),
        _same(INVALID + r"\w+: (text contains NUL|String should match)"),
    ),
    Case("a lone surrogate in text", free_text("Kari \ud800"), _same(INVALID + r"\w+: .*unicode")),
    Case(
        "oversized",
        free_text("x" * OVERSIZED),
        _same(r"^value is \d+ bytes, more than the \d+ a message may be"),
    ),
    Case(
        "a property no version has",
        data(lambda found: {**found, "priority": "high"}),
        DeadLetter(r"priority: unknown property 'priority', not in this contract"),
        facts=HANDLED,  # a newer producer may add an optional property to a fact
    ),
    # CloudEvents attributes
    *(
        Case(f"no {name}", without(name), _same(NOT_CLOUDEVENT + name))
        for name in ("ce_specversion", "ce_id", "ce_type", "ce_source")
    ),
    Case("no headers at all", headers(lambda _: []), _same(NOT_CLOUDEVENT)),
    Case("empty ce_id", setting("ce_id", b""), _same(NOT_CLOUDEVENT + "ce_id")),
    Case("header without value", setting("ce_source", None), _same(NOT_CLOUDEVENT + "ce_source")),
    Case("ce_specversion 0.3", setting("ce_specversion", b"0.3"), _same(r"ce_specversion '0.3'")),
    Case("ce_specversion 2.0", setting("ce_specversion", b"2.0"), _same(r"ce_specversion '2.0'")),
    Case("header not UTF-8", setting("ce_type", b"\xff\xfe"), _same(r"'ce_type' is not UTF-8")),
    Case("ce_type twice", doubled("ce_type", b"x.y.v1"), _same(r"'ce_type' more than once")),
    Case("ce_id twice", doubled("ce_id", b"another-id"), _same(r"'ce_id' more than once")),
    Case(
        "ce_specversion twice",
        doubled("ce_specversion", b"1.0"),
        _same(r"'ce_specversion' more than once"),
    ),
    Case(
        "content-type twice",
        doubled("content-type", b"text/plain"),
        _same(r"'content-type' more than once"),
    ),
    Case("ce_time without a zone", setting("ce_time", b"2030-01-01T10:00:00"), _same("time zone")),
    Case("ce_time not a time", setting("ce_time", b"yesterday"), _same("not an RFC 3339 time")),
    Case("ce_time empty", setting("ce_time", b""), _same("not an RFC 3339 time")),
    Case(
        "content-type text/plain",
        setting("content-type", b"text/plain"),
        _same(r"unsupported content-type 'text/plain'"),
    ),
    Case(
        "structured mode",
        setting("content-type", b"application/cloudevents+json"),
        _same(r"unsupported content-type"),
    ),
    Case("no ce_time", without("ce_time"), HANDLED),  # optional in CloudEvents
    Case("no content-type", without("content-type"), HANDLED),  # JSON by default
    Case(
        "an extension attribute not known here",
        headers(lambda found: [*found, ("ce_traceparent", b"00-4bf92f3577b34da6-00f067aa-01")]),
        HANDLED,
    ),
    # The type
    Case(
        "type nobody knows",
        typed("no.kulturskoleradet.nowhere.nothing.v1"),
        _same(UNKNOWN_TYPE),
        facts=IGNORED,  # a public stream carries types newer than any one reader
    ),
    Case(
        "type not in the reverse-DNS form",
        typed("garbage"),
        _same(UNKNOWN_TYPE),
        facts=IGNORED,
    ),
    # The key and the value's presence
    Case(
        "no value (tombstone)",
        _tombstone,
        _same(r"^not a CloudEvent in binary mode|^empty message value"),
        facts=IGNORED,  # a tombstone on a topic whose keys this reader holds nothing for
    ),
    # The key orders a command among those of its aggregate; one without a key is still whole
    # (it may come out of order with another of the same aggregate: the sender's choice).
    Case("no key", keyed(None), HANDLED),
    Case(
        "neither key nor value",
        _bare,
        _same(NOT_CLOUDEVENT),
        facts=IGNORED,
    ),
)


def version_from_the_future(sample: Sample) -> Case:
    """The sample's type at a version no service knows yet."""
    newer = sample.type.rsplit(".", 1)[0] + ".v99"
    return Case("unknown version", typed(newer), _same(UNKNOWN_TYPE + f"'{newer}'"), facts=IGNORED)


def known(ce_type: str) -> str:
    assert ce_type in REGISTRY, ce_type
    return ce_type


@dataclass(frozen=True)
class DomainCase:
    """Bad input only the domain can tell: a valid shape naming what does not exist."""

    name: str
    sample: Sample
    outcome: Outcome
    # On a topic several services read, the outcome of each, when they differ.
    by_service: Mapping[str, Outcome] = field(default_factory=dict)


def soon(days: int = 400, hour: int = 10) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


PRINCIPAL_CASES: Sequence[Case] = (
    Case(
        "ce_principal with a role nobody has",
        headers(lambda found: [*found, ("ce_principal", b"king::Harald")]),
        DeadLetter(r"^rejected: ce_principal 'king::Harald': unknown role"),
        facts=HANDLED,  # facts are not authorized by who sent them
    ),
    Case(
        "ce_principal not role:branch:name",
        headers(lambda found: [*found, ("ce_principal", b"programme")]),
        DeadLetter(r"^rejected: ce_principal 'programme': "),
        facts=HANDLED,
    ),
    Case(
        "ce_principal of an observer",
        headers(lambda found: [*found, ("ce_principal", b"observer::Olav")]),
        DeadLetter(r"^rejected: "),
        facts=HANDLED,
    ),
)


@dataclass(frozen=True)
class TopicProfile:
    """What a topic carries: a valid message (the n-th, all under one key), the domain's bad
    input for it, and the corpus's cases that read differently here."""

    name: str  # the topic's name within the prefix: `<service>.<name>`
    key: bytes
    sample: Callable[[int], Sample]
    # False: no reader takes any message of this topic (a command topic with no commands
    # yet); every case is then a letter, and `sample` only gives the cases their shape.
    taken: bool = True
    domain: Sequence[DomainCase] = ()
    # Cases of the corpus that go otherwise on this topic; None: cannot be sent to it at all.
    instead: Mapping[str, Case | None] = field(default_factory=dict)

    def cases(self) -> list[Case | DomainCase]:
        found: list[Case | DomainCase] = []
        for case in (*CORPUS, *PRINCIPAL_CASES):
            if case.name in self.instead:
                other = self.instead[case.name]
                if other is not None:
                    found.append(other)
            else:
                found.append(case)
        found.append(version_from_the_future(self.sample(0)))
        return [*found, *self.domain]


ROUND = "2030"  # opened by the e2e fixture, with the membership list imported
UNKNOWN_ROUND = "1999"
UNKNOWN_MUNICIPALITY = "9999"  # four digits, as a kommunenummer is; no municipality has it
PERSON = uuid.UUID("00000000-0000-4000-8000-00000000c0de")
GATHERING = uuid.UUID("00000000-0000-4000-8000-0000000a7e11")
REJECTED = r"^rejected: "


def register_interest(n: int) -> Sample:
    return Sample(
        known("no.kulturskoleradet.registration.register-interest.v1"),
        {
            "round_id": ROUND,
            "branch": "Vestland",
            "municipality_numbers": ["4601"],
            "contact": {"name": "Kari Nordmann", "email": "kari@example.no", "language": "nb"},
            "message": f"Melding {n}",
        },
        text="message",
    )


def plan_semester(n: int) -> Sample:
    starts = soon().date()
    return Sample(
        known("no.kulturskoleradet.scheduling.plan-semester.v1"),
        {
            "round_id": ROUND,
            "region": "vestland",
            "number": 1,
            "starts_on": starts.isoformat(),
            "ends_on": (starts + timedelta(days=100 + n)).isoformat(),
        },
        text="region",  # no free text: a region is a pattern
    )


def interest_registered(n: int) -> Sample:
    return Sample(
        known("no.kulturskoleradet.registration.interest-registered.v1"),
        {
            "registration_id": str(uuid.uuid4()),
            "round_id": ROUND,
            "branch_id": "vestland",
            "branch_name": "Vestland",
            "county_numbers": ["46"],
            "municipality_numbers": ["4601"],
            "contact_person_id": str(PERSON),
            "message": f"Melding {n}",
            "registered_at": datetime.now(UTC).isoformat(),
        },
        text="message",
    )


def gathering_scheduled(n: int) -> Sample:
    starts = soon()
    return Sample(
        known("no.kulturskoleradet.scheduling.gathering-scheduled.v1"),
        {
            "gathering_id": str(GATHERING),
            "round_id": ROUND,
            "region": "vestland",
            "kind": "samling",
            "title": f"Samling {n}",
            "venue": {"name": "Grieghallen", "address": "Edvard Griegs plass 1, Bergen"},
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=6)).isoformat(),
            "sequence": n,
        },
        text="title",
    )


def contact_details(n: int) -> Sample:
    return Sample(
        known("no.kulturskoleradet.registration.contact-details.v1"),
        {
            "person_id": str(PERSON),
            "name": f"Kari Nordmann {n}",
            "email": "kari@example.no",
            "language": "nb",
        },
        text="name",
    )


def guest_contact(n: int) -> Sample:
    return Sample(
        known("no.kulturskoleradet.scheduling.guest-contact.v1"),
        {
            "person_id": str(PERSON),
            "name": f"Gjest Gjestesen {n}",
            "email": "gjest@example.no",
            "language": "nb",
        },
        text="name",
    )


def naive(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat()


NO_ZONE = INVALID + r".*timezone"


def contacts_profile(name: str, sample: Callable[[int], Sample]) -> TopicProfile:
    """A restricted, compacted contacts topic: contact data keyed by person id."""
    return TopicProfile(
        name,
        str(PERSON).encode(),
        sample,
        domain=(
            DomainCase(
                "not an address",
                sample(0).with_data(email="not an address"),
                DeadLetter(INVALID + "email"),
            ),
            DomainCase(
                "a language nobody speaks here",
                sample(0).with_data(language="xx"),
                DeadLetter(INVALID + "language"),
            ),
            DomainCase(
                "an event on the contacts topic",
                interest_registered(0),
                DeadLetter(r"belongs on .*registration\.events, not on "),
            ),
        ),
        instead={
            # A tombstone here erases: one whose key is no person id is refused.
            "no value (tombstone)": Case(
                "a tombstone whose key is no person id",
                lambda sample, key: replace(_tombstone(sample, key), key=b"not-a-person"),
                DeadLetter(REJECTED + "a contacts tombstone's key must be a person id"),
            ),
            # A compacted topic takes no record without a key: the broker refuses it.
            "no key": None,
            "neither key nor value": None,
        },
    )


PROFILES: Sequence[TopicProfile] = (
    TopicProfile(
        "registration.commands",
        b"Vestland",
        register_interest,
        domain=(
            DomainCase(
                "unknown municipality",
                register_interest(0).with_data(municipality_numbers=[UNKNOWN_MUNICIPALITY]),
                DeadLetter(REJECTED + f".*{UNKNOWN_MUNICIPALITY}"),
            ),
            DomainCase(
                "unknown round",
                register_interest(0).with_data(round_id=UNKNOWN_ROUND),
                DeadLetter(REJECTED + f".*{UNKNOWN_ROUND}"),
            ),
            DomainCase(
                "unknown branch",
                register_interest(0).with_data(branch="Atlantis"),
                DeadLetter(REJECTED + ".*Atlantis"),
            ),
            DomainCase(
                "a deadline extended for a round nobody opened",
                Sample(
                    known("no.kulturskoleradet.registration.extend-deadline.v1"),
                    {"round_id": UNKNOWN_ROUND, "kind": "interest", "new_deadline": "2031-01-01"},
                ),
                DeadLetter(REJECTED + f".*{UNKNOWN_ROUND}"),
            ),
            DomainCase(
                "an event on the commands topic",
                interest_registered(0),
                DeadLetter(UNKNOWN_TYPE),
            ),
        ),
    ),
    TopicProfile(
        "scheduling.commands",
        b"vestland",
        plan_semester,
        domain=(
            DomainCase(
                "unknown region",
                plan_semester(0).with_data(region="atlantis"),
                DeadLetter(REJECTED + ".*atlantis"),
            ),
            DomainCase(
                "a semester ending before it starts",
                plan_semester(0).with_data(ends_on="2000-01-01"),
                DeadLetter(INVALID),
            ),
            DomainCase(
                "a gathering at a time without a zone",
                Sample(
                    known("no.kulturskoleradet.scheduling.schedule-gathering.v1"),
                    {
                        "round_id": ROUND,
                        "region": "vestland",
                        "kind": "samling",
                        "title": "Samling",
                        "venue": {"name": "Grieghallen", "address": "Bergen"},
                        "starts_at": naive(soon()),
                        "ends_at": naive(soon(hour=16)),
                    },
                ),
                DeadLetter(NO_ZONE),
            ),
            DomainCase(
                "cancel a gathering nobody scheduled",
                Sample(
                    known("no.kulturskoleradet.scheduling.cancel-gathering.v1"),
                    {"gathering_id": str(uuid.uuid4()), "reason": "Sykdom"},
                ),
                DeadLetter(REJECTED),
            ),
            DomainCase(
                "an answer to a gathering nobody scheduled",
                Sample(
                    known("no.kulturskoleradet.scheduling.record-rsvp.v1"),
                    {
                        "gathering_id": str(uuid.uuid4()),
                        "region": "vestland",
                        "municipality_number": "4601",
                        "response": "yes",
                    },
                ),
                DeadLetter(REJECTED),
            ),
            DomainCase(
                "a registration event on the commands topic",
                interest_registered(0),
                DeadLetter(r"belongs on .*registration\.events, not on "),
            ),
        ),
    ),
    TopicProfile(
        "notification.commands",
        b"anything",
        contact_details,
        taken=False,
        domain=(
            DomainCase(
                "contact details on the commands topic",
                contact_details(0),
                DeadLetter(r"belongs on .*registration\.contacts, not on "),
            ),
        ),
    ),
    TopicProfile(
        "registration.events",
        b"vestland",
        interest_registered,
        domain=(
            DomainCase(
                "unknown municipality",
                interest_registered(0).with_data(municipality_numbers=[UNKNOWN_MUNICIPALITY]),
                # The owner of the reference data published it: a newer list than the
                # reader's may name a municipality it does not know yet (a merger), and the
                # reader shows the number instead of a name.
                HANDLED,
            ),
            DomainCase(
                "unknown round",
                interest_registered(0).with_data(round_id=UNKNOWN_ROUND),
                HANDLED,
            ),
            DomainCase(
                "registered at a time without a zone",
                interest_registered(0).with_data(registered_at=naive(datetime.now(UTC))),
                DeadLetter(NO_ZONE),
            ),
            DomainCase(
                "contact details on the events topic",
                contact_details(0),
                DeadLetter(r"belongs on .*registration\.contacts, not on "),
                by_service={"scheduling": IGNORED},
            ),
        ),
    ),
    TopicProfile(
        "scheduling.events",
        str(GATHERING).encode(),
        gathering_scheduled,
        domain=(
            DomainCase(
                "a gathering at a time without a zone",
                gathering_scheduled(0).with_data(starts_at=naive(soon())),
                DeadLetter(NO_ZONE),
            ),
            DomainCase(
                "a time zone nobody has",
                gathering_scheduled(0).with_data(timezone="Mars/Olympus"),
                HANDLED,  # not read: the reader shows every time in Europe/Oslo
            ),
            DomainCase(
                "an invitation to a gathering never scheduled",
                Sample(
                    known("no.kulturskoleradet.scheduling.invitation-issued.v1"),
                    {
                        "gathering_id": str(uuid.uuid4()),
                        "invitation_id": str(uuid.uuid4()),
                        "round_id": ROUND,
                        "region": "vestland",
                        "kind": "samling",
                        "municipality_number": "4601",
                        "role": "municipality",
                        "sequence": 0,
                        "starts_at": soon().isoformat(),
                        "ends_at": soon(hour=16).isoformat(),
                    },
                ),
                HANDLED,  # a gap in the history: noted, nothing to tell anyone
            ),
            DomainCase(
                "a registration event on the scheduling topic",
                interest_registered(0),
                DeadLetter(r"belongs on .*registration\.events, not on "),
            ),
        ),
    ),
    contacts_profile("registration.contacts", contact_details),
    # Scheduling's (other actors a dialogmøte invites by name) is read as registration's is:
    # the same refusals, and a tombstone there erases the person too.
    contacts_profile("scheduling.contacts", guest_contact),
)


def profile(topic: str) -> TopicProfile:
    """The profile of `topic` (`<prefix>.<service>.<name>`), whatever its prefix."""
    for found in PROFILES:
        if topic.endswith(f".{found.name}"):
            return found
    raise LookupError(f"no profile of bad input for {topic}: add one to tests/poison_corpus.py")
