"""The calendar's commands on the real Kafka and PostgreSQL, driven by registration events
published to registration's topic: rescheduling and cancelling, the feeds, supervision
without double booking, dialogue meetings on request, RSVPs against capacity, attendance and
its rate, date suggestions; and bad input refused over HTTP or dead-lettered from Kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from icalendar import Calendar

from shared.contracts.events.registration import (
    GroupMemberRef,
    GroupRole,
    InterestRegistered,
    MunicipalityAdmitted,
    RoundOpened,
)
from shared.contracts.events.scheduling import CancelGathering, ScheduleGathering
from shared.contracts.topics import events_topic
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.integration.registration_app import OSLO
from tests.integration.scheduling_app import (
    AGDER,
    OBSERVER,
    PROGRAMME,
    VESTLAND,
    Scheduling,
    started_scheduling,
)
from tests.integration.support import headers_of, read_to_end

pytestmark = pytest.mark.integration

ROUND = "2030"
NOW = datetime(2029, 9, 1, 12, tzinfo=OSLO)
BERGEN, SOGNDAL = "4601", "4640"
BOARD = uuid.uuid4()
GROUPS = {
    BERGEN: [(uuid.uuid4(), GroupRole.KULTURSKOLE), (uuid.uuid4(), GroupRole.GRUNNSKOLE)],
    SOGNDAL: [(uuid.uuid4(), GroupRole.KULTURSKOLE), (uuid.uuid4(), GroupRole.BARNEHAGE)],
}


def oslo(day: str, hour: int, minute: int = 0) -> str:
    return datetime.combine(date.fromisoformat(day), time(hour, minute), tzinfo=OSLO).isoformat()


def venue() -> dict[str, str]:
    return {"name": "Scandic Ørnen", "address": "Lars Hilles gate 18, Bergen"}


async def publish(producer: AIOKafkaProducer, prefix: str, event: Any) -> None:
    """As registration's relay would: a CloudEvents envelope keyed by the aggregate."""
    envelope = Envelope.wrap(event, source="/registration", subject=event.key())
    await producer.send_and_wait(
        events_topic("registration", prefix),
        value=envelope.data,
        key=event.key().encode(),
        headers=envelope.headers(),
    )


@pytest.fixture
async def scheduling(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str, producer: AIOKafkaProducer
) -> AsyncIterator[Scheduling]:
    """Round 2030 open; Vestland: interest from Bergen and Sogndal, both admitted with a group
    of two."""
    await publish(
        producer,
        topic_prefix,
        RoundOpened(
            round_id=ROUND,
            interest_deadline=date(2029, 9, 15),
            interest_closes_at=datetime(2029, 9, 15, 23, 59, tzinfo=OSLO),
            capacity_per_branch={},
        ),
    )
    await publish(
        producer,
        topic_prefix,
        InterestRegistered(
            registration_id=uuid.uuid4(),
            round_id=ROUND,
            branch_id="vestland",
            branch_name="Vestland",
            county_numbers=["46"],
            municipality_numbers=[BERGEN, SOGNDAL],
            contact_person_id=BOARD,
            message="",
            registered_at=NOW,
        ),
    )
    for number, group in GROUPS.items():
        await publish(
            producer,
            topic_prefix,
            MunicipalityAdmitted(
                application_id=uuid.uuid4(),
                round_id=ROUND,
                municipality_number=number,
                county_number="46",
                branch_id="vestland",
                decided_at=NOW,
                group=[GroupMemberRef(person_id=p, role=r) for p, r in group],
            ),
        )
    async with started_scheduling(endpoints, database, topic_prefix, NOW) as started:

        async def projected() -> bool:
            count = await started.db.fetchval(
                "SELECT count(*) FROM participants WHERE status = 'admitted'"
            )
            return bool(count == 2) and bool(
                await started.db.fetchval("SELECT count(*) FROM rounds")
            )

        await eventually(projected, timeout=60, what="both admissions read")
        yield started


def gathering(kind: str = "samling", day: str = "2029-11-20", **extra: Any) -> dict[str, Any]:
    return {
        "round_id": ROUND,
        "region": "vestland",
        "kind": kind,
        "title": "Samling 1: Samskaping",
        "venue": venue(),
        "starts_at": oslo(day, 10),
        "ends_at": oslo(day, 16),
        **extra,
    }


def everyone() -> set[str]:
    return {f"person:{p}" for group in GROUPS.values() for p, _ in group}


async def test_rescheduling_keeps_the_identity_and_cancelling_tells_everyone(
    scheduling: Scheduling,
) -> None:
    s = scheduling
    first = await s.accepted("/gatherings", gathering(), status=201)
    the_id = first["gathering_id"]
    await s.until_invited(the_id, everyone())

    moved = await s.accepted(
        "/reschedulings",
        {
            "gathering_id": the_id,
            "starts_at": oslo("2029-11-27", 9),
            "ends_at": oslo("2029-11-27", 15),
            "reason": "Lokalet er opptatt",
        },
    )
    assert (moved["gathering_id"], moved["sequence"]) == (the_id, 1)
    assert moved["starts_at"] == "2029-11-27T09:00:00+01:00"
    assert moved["previous_starts_at"] == "2029-11-20T10:00:00+01:00"
    assert {f"person:{i['person_id']}" for i in moved["invitees"]} == everyone()

    cancelled = await s.accepted(
        "/cancellations", {"gathering_id": the_id, "reason": "For få påmeldte"}
    )
    assert cancelled["sequence"] == 2
    assert {f"person:{i['person_id']}" for i in cancelled["invitees"]} == everyone()
    await s.refused(
        "/reschedulings",
        {
            "gathering_id": the_id,
            "starts_at": oslo("2029-12-01", 9),
            "ends_at": oslo("2029-12-01", 15),
        },
        PROGRAMME,
        409,
        "cancelled",
    )

    # The region's feed keeps the UID, says SEQUENCE 2 and CANCELLED, in Oslo time.
    response = await s.client.get("/feeds/regions/vestland.ics", params={"token": "local-observer"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    (event,) = Calendar.from_ical(response.content).walk("VEVENT")
    assert str(event["uid"]) == f"{the_id}@kulturskoleradet.no"
    assert int(event["sequence"]) == 2 and str(event["status"]) == "CANCELLED"
    assert event.decoded("dtstart") == datetime(2029, 11, 27, 9, tzinfo=OSLO)
    assert Calendar.from_ical(response.content).walk("VTIMEZONE")[0]["tzid"] == "Europe/Oslo"

    # Bergen's own feed has it too (its people were invited); the events are on the topic.
    bergen = await s.client.get(f"/feeds/municipalities/{BERGEN}.ics", headers=OBSERVER)
    assert [str(e["uid"]) for e in Calendar.from_ical(bergen.content).walk("VEVENT")] == [
        f"{the_id}@kulturskoleradet.no"
    ]
    types = await s.event_types()
    assert types["gathering-scheduled.v1"] == 1
    assert types["gathering-rescheduled.v1"] == 1
    assert types["gathering-cancelled.v1"] == 1
    assert types["invitation-issued.v1"] == 4
    unauthenticated = await s.client.get("/feeds/regions/vestland.ics")
    assert unauthenticated.status_code == 401


async def test_a_supervisor_cannot_be_booked_twice_at_the_same_time(scheduling: Scheduling) -> None:
    s = scheduling
    booking = {
        "round_id": ROUND,
        "municipality_number": BERGEN,
        "supervisor_id": "veileder-anne",
        "venue": {"name": "Teams", "digital_link": "https://teams.example/veiledning"},
        "starts_at": oslo("2030-02-04", 10),
        "ends_at": oslo("2030-02-04", 12),
    }
    booked = await s.accepted("/supervisions", booking, status=201)
    assert (booked["supervisor_id"], booked["region"]) == ("veileder-anne", "vestland")
    await s.until_invited(booked["gathering_id"], {f"person:{p}" for p, _ in GROUPS[BERGEN]})

    clash = booking | {
        "municipality_number": SOGNDAL,
        "starts_at": oslo("2030-02-04", 11),
        "ends_at": oslo("2030-02-04", 13),
    }
    await s.refused("/supervisions", clash, PROGRAMME, 409, "veileder-anne is already booked")
    # Right after is fine, and another supervisor at the same time is fine.
    await s.accepted(
        "/supervisions",
        clash | {"starts_at": oslo("2030-02-04", 12), "ends_at": oslo("2030-02-04", 14)},
        status=201,
    )
    await s.accepted("/supervisions", clash | {"supervisor_id": "veileder-bo"}, status=201)
    # Not admitted: no veiledning; and only programme management books.
    await s.refused(
        "/supervisions", booking | {"municipality_number": "4627"}, PROGRAMME, 422, "not admitted"
    )
    await s.refused("/supervisions", booking, VESTLAND, 403, "programme management only")


async def test_a_board_asks_for_a_dialogue_meeting_and_programme_management_answers(
    scheduling: Scheduling,
) -> None:
    s = scheduling
    request = {
        "round_id": ROUND,
        "region": "vestland",
        "topic": "Kulturskolen i oppvekstfeltet",
        "wished_dates": ["2029-10-02", "2029-10-03"],
    }
    await s.refused(
        "/dialogue-requests", request, AGDER, 403, "may not act for the branch Vestland"
    )
    await s.refused(
        "/dialogue-requests",
        request,
        AGDER,
        403,
        "kan ikke handle for fylkesavdelingen Vestland",
        language="nb",
    )
    await s.refused("/dialogue-requests", request, OBSERVER, 403)
    asked = await s.accepted("/dialogue-requests", request, VESTLAND, status=201)
    listed = await s.get(f"/rounds/{ROUND}/dialogue-requests", VESTLAND, region="vestland")
    assert [r["id"] for r in listed] == [asked["request_id"]]
    assert await s.get(f"/rounds/{ROUND}/dialogue-requests", AGDER) == []  # its own region's

    answer = {
        "request_id": asked["request_id"],
        "venue": {"name": "Teams", "digital_link": "https://teams.example/dialog"},
        "starts_at": oslo("2029-10-02", 13),
        "ends_at": oslo("2029-10-02", 15),
        "also_invite": [BERGEN],
    }
    await s.refused("/dialogue-meetings", answer, VESTLAND, 403, "programme management only")
    scheduled = await s.accepted("/dialogue-meetings", answer, status=201)
    meeting = await s.gathering(scheduled["gathering_id"])
    assert meeting["kind"] == "dialogmote"
    assert meeting["title"] == "Dialogmøte: Kulturskolen i oppvekstfeltet"
    await s.until_invited(
        scheduled["gathering_id"],
        {f"person:{BOARD}"} | {f"person:{p}" for p, _ in GROUPS[BERGEN]},
    )
    await s.refused("/dialogue-meetings", answer, PROGRAMME, 409, "answered already")


async def test_rsvps_respect_capacity_and_attendance_gives_each_municipality_a_rate(
    scheduling: Scheduling,
) -> None:
    s = scheduling
    presamling = await s.accepted(
        "/gatherings",
        gathering("presamling", "2029-10-16", title="Presamling 1", capacity=2),
        status=201,
    )
    the_id = presamling["gathering_id"]
    await s.until_invited(
        the_id, {f"person:{BOARD}", f"municipality:{BERGEN}", f"municipality:{SOGNDAL}"}
    )

    def rsvp(response: str, number: str | None = None) -> dict[str, Any]:
        who = {"municipality_number": number} if number else {"person_id": str(BOARD)}
        return {"gathering_id": the_id, "region": "vestland", "response": response, **who}

    assert (await s.accepted("/rsvps", rsvp("yes", BERGEN), VESTLAND))["confirmed"] == 1
    answered = await s.accepted("/rsvps", rsvp("yes"), VESTLAND)
    assert (answered["confirmed"], answered["capacity"]) == (2, 2)
    await s.refused("/rsvps", rsvp("yes", SOGNDAL), VESTLAND, 409, "capacity 2")
    await s.accepted("/rsvps", rsvp("no", SOGNDAL), VESTLAND)
    await s.refused("/rsvps", rsvp("yes", BERGEN), AGDER, 403)
    await s.refused("/rsvps", rsvp("yes", "4627"), VESTLAND, 404, "not invited")
    # Capacity cannot drop below the seats taken.
    await s.refused(
        "/reschedulings",
        {
            "gathering_id": the_id,
            "starts_at": oslo("2029-10-17", 10),
            "ends_at": oslo("2029-10-17", 15),
            "capacity": 1,
        },
        PROGRAMME,
        409,
        "capacity 1 is less than the 2 seats",
    )
    assert (await s.gathering(the_id))["confirmed"] == 2

    attendance = {
        "gathering_id": the_id,
        "region": "vestland",
        "present_persons": [str(BOARD)],
        "present_municipalities": [BERGEN],
    }
    await s.refused("/attendance", attendance, VESTLAND, 409, "once the gathering has started")
    s.clock.now = datetime(2029, 10, 16, 16, tzinfo=OSLO)
    await s.refused(
        "/attendance",
        attendance | {"present_municipalities": [BERGEN, "4627"]},
        VESTLAND,
        422,
        "not invited to this gathering: Askøy",
    )
    recorded = await s.accepted("/attendance", attendance, VESTLAND)
    assert {p["municipality_number"] for p in recorded["present"]} == {BERGEN, None}
    assert [a["municipality_number"] for a in recorded["absent"]] == [SOGNDAL]
    rates = await s.get(f"/rounds/{ROUND}/attendance", region="vestland")
    assert [(m["municipality_number"], m["rate"]) for m in rates["municipalities"]] == [
        (BERGEN, 1.0),
        (SOGNDAL, 0.0),
    ]


async def test_date_suggestions_for_a_planned_semester_avoid_the_regions_holidays(
    scheduling: Scheduling,
) -> None:
    s = scheduling
    await s.accepted(
        "/semesters",
        {
            "round_id": ROUND,
            "region": "vestland",
            "number": 1,
            "starts_on": "2030-01-06",
            "ends_on": "2030-06-15",
        },
    )
    found = await s.get(
        f"/rounds/{ROUND}/regions/vestland/date-suggestions",
        semester=1,
        count=2,
        weekdays="thursday",
    )
    assert found["counties"] == ["46"]
    assert len(found["dates"]) == 2
    passed = {p["date"]: p["reasons"] for p in found["passed_over"]}
    assert passed["2030-02-21"] == ["vinterferie i Vestland (uke 8)"]
    assert passed["2030-05-30"] == ["helligdag: Kristi himmelfartsdag"]
    english = await s.client.get(
        f"/rounds/{ROUND}/regions/vestland/date-suggestions",
        params={"semester": 1, "count": 2, "weekdays": "thursday"},
        headers={**OBSERVER, "Accept-Language": "en"},
    )
    reasons = {p["date"]: p["reasons"] for p in english.json()["passed_over"]}
    assert reasons["2030-02-21"] == ["winter half-term in Vestland (week 8)"]
    assert reasons["2030-05-30"] == ["public holiday: Ascension Day"]
    assert "2030-04-18" in passed  # Skjærtorsdag, in the Easter holiday
    for day in found["dates"]:
        assert day not in passed and date.fromisoformat(day).weekday() == 3
    # A samling in that semester; outside it is refused.
    await s.accepted("/gatherings", gathering(day=found["dates"][0], semester=1), status=201)
    await s.refused(
        "/gatherings", gathering(day="2030-08-20", semester=1), PROGRAMME, 422, "outside semester 1"
    )
    unplanned = await s.client.get(
        f"/rounds/{ROUND}/regions/vestland/date-suggestions",
        params={"semester": 2},
        headers=OBSERVER,
    )
    assert unplanned.status_code == 422
    assert (
        unplanned.json()["detail"] == f"Semester 2 i runde {ROUND} er ikke planlagt for Vestland."
    )


async def test_bad_input_over_http_is_refused_with_the_reason(scheduling: Scheduling) -> None:
    s = scheduling
    await s.refused(
        "/gatherings",
        gathering() | {"ends_at": oslo("2029-11-20", 9)},
        PROGRAMME,
        422,
        "must end after it starts",
    )
    await s.refused(
        "/gatherings",
        gathering() | {"starts_at": "2029-11-20T10:00:00"},
        PROGRAMME,
        422,
        "has no time zone",
    )
    await s.refused(
        "/gatherings", gathering() | {"region": "atlantis"}, PROGRAMME, 422, "unknown region"
    )
    await s.refused("/gatherings", gathering(day="2029-08-01"), PROGRAMME, 422, "in the past")
    await s.refused("/gatherings", gathering("veiledning"), PROGRAMME, 422, "booked")
    await s.refused("/gatherings", gathering() | {"capacity": 0}, PROGRAMME, 422, "capacity")
    await s.refused("/gatherings", gathering(), OBSERVER, 403, "programme management only")
    await s.refused(
        "/cancellations", {"gathering_id": str(uuid.uuid4())}, PROGRAMME, 404, "no gathering"
    )
    no_token = await s.client.post("/gatherings", json=gathering())
    assert no_token.status_code == 401
    # In bokmål unless asked otherwise, names not ids, with a stable type and the field.
    await s.refused(
        "/gatherings",
        gathering("dialogmote"),
        PROGRAMME,
        422,
        "Et dialogmøte svarer på en forespørsel fra et fylkesstyre",
        language="nb",
    )
    missing = {k: v for k, v in gathering().items() if k != "round_id"}
    await s.refused(
        "/gatherings",
        missing,
        PROGRAMME,
        422,
        "Kontroller desse felta: round_id: manglar",
        language="nn",
    )
    problem = (
        await s.client.post(
            "/gatherings",
            json=gathering() | {"starts_at": "2029-11-20T10:00:00"},
            headers=PROGRAMME,
        )
    ).json()
    assert problem["detail"] == (
        "Kontroller disse feltene: starts_at: mangler tidssone: oppgi tiden med forskyvning,"
        " f.eks. +01:00"
    )
    outside = (
        await s.client.post("/gatherings", json=gathering(day="2029-08-01"), headers=PROGRAMME)
    ).json()
    assert (outside["type"], outside["field"], outside["detail"]) == (
        "urn:kulturskole:problem:in-the-past",
        "starts_at",
        "En samling kan ikke settes opp til å begynne i fortiden.",
    )


async def test_bad_commands_on_the_topic_are_dead_lettered_with_the_reason(
    scheduling: Scheduling, producer: AIOKafkaProducer
) -> None:
    s = scheduling
    unknown = CancelGathering(gathering_id=uuid.uuid4(), reason="test")
    envelope = Envelope.wrap(unknown, source="/test")
    await producer.send_and_wait(
        s.commands, value=envelope.data, key=unknown.key().encode(), headers=envelope.headers()
    )
    broken = Envelope.wrap(unknown, source="/test")
    await producer.send_and_wait(
        s.commands,
        value=json.dumps(gathering() | {"ends_at": oslo("2029-11-20", 9)}).encode(),
        key=b"vestland",
        headers=[
            (k, b"no.kulturskoleradet.scheduling.schedule-gathering.v1" if k == "ce_type" else v)
            for k, v in broken.headers()
        ],
    )
    # A good command on the topic goes through the same handler as HTTP.
    good = gathering(day="2029-12-03") | {"gathering_id": str(uuid.uuid4())}
    command = Envelope.wrap(ScheduleGathering.model_validate(good), source="/test")
    await producer.send_and_wait(
        s.commands, value=command.data, key=b"vestland", headers=command.headers()
    )

    async def dead_letters() -> list[dict[str, str]]:
        letters = await read_to_end(s.bootstrap, s.commands_dlq, timeout=20)
        return [headers_of(r) for r in letters] if len(letters) >= 2 else []

    letters = await eventually(dead_letters, timeout=60, what="two dead letters")
    reasons = sorted(h["dlq_reason"] for h in letters)
    assert any("no gathering" in r for r in reasons), reasons
    assert any("end after it starts" in r for r in reasons), reasons
    await s.until_invited(good["gathering_id"], everyone())
    assert (await s.gathering(good["gathering_id"]))["starts_at"] == "2029-12-03T10:00:00+01:00"


async def test_a_replayed_history_changes_nothing(
    scheduling: Scheduling,
    producer: AIOKafkaProducer,
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
) -> None:
    s = scheduling
    samling = await s.accepted("/gatherings", gathering(), status=201)
    await s.until_invited(samling["gathering_id"], everyone())
    before = await s.event_types()
    assert before["invitation-issued.v1"] == 4

    # The same admission again under a new event id (as a re-sent copy would be): handled,
    # and nothing to change.
    bergen = MunicipalityAdmitted(
        application_id=uuid.uuid4(),
        round_id=ROUND,
        municipality_number=BERGEN,
        county_number="46",
        branch_id="vestland",
        decided_at=NOW,
        group=[GroupMemberRef(person_id=p, role=r) for p, r in GROUPS[BERGEN]],
    )
    envelope = Envelope.wrap(bergen, source="/registration")
    await producer.send_and_wait(
        events_topic("registration", topic_prefix),
        value=envelope.data,
        key=bergen.key().encode(),
        headers=envelope.headers(),
    )

    async def handled() -> bool:
        found = await s.db.fetchval("SELECT 1 FROM inbox WHERE message_id = $1", envelope.id)
        return bool(found)

    await eventually(handled, timeout=30, what="the copy handled")

    # A rebuild: a second consumer group reads registration's whole history again.
    rebuild = f"{topic_prefix}.scheduling.rebuild"
    async with started_scheduling(endpoints, database, topic_prefix, NOW, consumer_group=rebuild):
        admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
        await admin.start()
        try:
            registration_events = events_topic("registration", topic_prefix)
            partitions = [TopicPartition(registration_events, p) for p in range(3)]
            ends = await read_end_offsets(endpoints.kafka_bootstrap, partitions)

            async def caught_up() -> bool:
                committed = await admin.list_consumer_group_offsets(rebuild)
                return all(
                    committed.get(tp) is not None and committed[tp].offset >= end
                    for tp, end in ends.items()
                )

            await eventually(caught_up, timeout=60, what="the rebuild group at the end")
        finally:
            await admin.close()
    assert await s.event_types() == before
    await s.until_invited(samling["gathering_id"], everyone())


async def read_end_offsets(
    bootstrap: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


async def test_gatherings_scheduled_while_admissions_arrive_invite_every_group(
    scheduling: Scheduling, producer: AIOKafkaProducer, topic_prefix: str
) -> None:
    """Whichever order gatherings and admissions arrive in, every group is invited once."""
    s = scheduling
    numbers = ["4602", "4611", "4612", "4613", "4614", "4615", "4616", "4617"]
    groups = {n: [uuid.uuid4(), uuid.uuid4()] for n in numbers}

    async def admit_all() -> None:
        for number, people in groups.items():
            await publish(
                producer,
                topic_prefix,
                MunicipalityAdmitted(
                    application_id=uuid.uuid4(),
                    round_id=ROUND,
                    municipality_number=number,
                    county_number="46",
                    branch_id="vestland",
                    decided_at=NOW,
                    group=[GroupMemberRef(person_id=p, role=GroupRole.KULTURSKOLE) for p in people],
                ),
            )

    async def schedule_all() -> list[str]:
        ids = []
        for week in range(4):
            day = (date(2029, 11, 6) + timedelta(weeks=week)).isoformat()
            made = await s.accepted("/gatherings", gathering(day=day), status=201)
            ids.append(made["gathering_id"])
        return ids

    _, gathering_ids = await asyncio.gather(admit_all(), schedule_all())
    expected = everyone() | {f"person:{p}" for people in groups.values() for p in people}
    for gathering_id in gathering_ids:
        await s.until_invited(gathering_id, expected)
    issued = await s.events_of("invitation-issued.v1")
    assert len(issued) == len(gathering_ids) * len(expected)  # each once


async def test_the_programmes_shape_is_checked_and_an_exception_needs_a_reason(
    scheduling: Scheduling,
) -> None:
    s = scheduling
    # A round registration never opened.
    unknown = await s.refused(
        "/gatherings", gathering() | {"round_id": "2099"}, PROGRAMME, 422, "no round 2099"
    )
    assert "2099" in unknown
    problem = (
        await s.client.post(
            "/gatherings", json=gathering() | {"round_id": "2099"}, headers=PROGRAMME
        )
    ).json()
    assert (problem["type"], problem["field"]) == (
        "urn:kulturskole:problem:unknown-round",
        "round_id",
    )
    assert problem["detail"] == "Det finnes ingen runde 2099: den er ikke åpnet i påmeldingen."
    await s.refused(
        "/dialogue-requests",
        {"round_id": "2099", "region": "vestland", "topic": "Samskaping"},
        VESTLAND,
        422,
        "no round 2099",
    )

    # Presamlinger: in October and November before the round, two of them.
    august = await s.client.post(
        "/gatherings", json=gathering("presamling", "2029-09-20"), headers=PROGRAMME
    )
    assert august.status_code == 422
    assert (august.json()["type"], august.json()["field"]) == (
        "urn:kulturskole:problem:presamling-outside-autumn",
        "starts_at",
    )
    assert "oktober og november 2029" in august.json()["detail"]
    for day in ("2029-10-16", "2029-11-13"):
        await s.accepted("/gatherings", gathering("presamling", day), status=201)
    await s.refused(
        "/gatherings",
        gathering("presamling", "2029-11-27"),
        PROGRAMME,
        422,
        "has its 2 presamlinger in the region already",
    )
    excepted = await s.accepted(
        "/gatherings",
        gathering("presamling", "2029-09-20")
        | {"override_reason": "Vestland wants an early start this time"},
        status=201,
    )
    assert excepted["overridden"] == ["presamling-outside-autumn", "too-many-presamlinger"]
    assert excepted["override_reason"] == "Vestland wants an early start this time"
    published = await s.events_of("gathering-scheduled.v1")
    [recorded] = [e for e in published if e["gathering_id"] == excepted["gathering_id"]]
    assert recorded["overridden"] == excepted["overridden"]
    # Moving a presamling out of the autumn is the same rule.
    await s.refused(
        "/reschedulings",
        {
            "gathering_id": excepted["gathering_id"],
            "starts_at": oslo("2029-12-04", 10),
            "ends_at": oslo("2029-12-04", 16),
        },
        PROGRAMME,
        422,
        "October and November 2029",
    )

    # Six samlinger over three semesters: a seventh is refused, or set aside with a reason.
    for n in range(6):
        await s.accepted("/gatherings", gathering(day=f"2029-12-{n + 10:02d}"), status=201)
    await s.refused(
        "/gatherings",
        gathering(day="2029-12-18"),
        PROGRAMME,
        422,
        "has its 6 samlinger in the region already",
    )
    nynorsk = await s.refused(
        "/gatherings",
        gathering(day="2029-12-18"),
        PROGRAMME,
        422,
        "har alt dei 6 samlingane sine",
        language="nn",
    )
    assert "override_reason" in nynorsk
    seventh = await s.accepted(
        "/gatherings",
        gathering(day="2029-12-18") | {"override_reason": "An extra samling after a cancellation"},
        status=201,
    )
    assert seventh["overridden"] == ["too-many-samlinger"]


async def test_a_feed_is_one_rounds_and_keeps_a_municipalitys_veiledning_private(
    scheduling: Scheduling, producer: AIOKafkaProducer, topic_prefix: str
) -> None:
    s = scheduling
    cancelled = await s.accepted("/gatherings", gathering(title="Avlyses"), status=201)
    await s.accepted("/cancellations", {"gathering_id": cancelled["gathering_id"]})
    kept = await s.accepted("/gatherings", gathering(day="2029-11-27"), status=201)
    booked = await s.accepted(
        "/supervisions",
        {
            "round_id": ROUND,
            "municipality_number": BERGEN,
            "supervisor_id": "veileder-anne",
            "venue": {"name": "Teams", "digital_link": "https://teams.example/v"},
            "starts_at": oslo("2029-11-21", 13),
            "ends_at": oslo("2029-11-21", 14),
        },
        status=201,
    )
    await s.until_invited(booked["gathering_id"], {f"person:{p}" for p, _ in GROUPS[BERGEN]})
    # The next round opens and gets its first samling in Vestland.
    await publish(
        producer,
        topic_prefix,
        RoundOpened(
            round_id="2031",
            interest_deadline=date(2030, 9, 15),
            interest_closes_at=datetime(2030, 9, 15, 23, 59, tzinfo=OSLO),
            capacity_per_branch={},
        ),
    )
    await s.until_round("2031")
    later = await s.accepted(
        "/gatherings", gathering(day="2030-10-08") | {"round_id": "2031"}, status=201
    )

    async def feed(path: str, token: str, **params: str) -> tuple[str, dict[str, Any]]:
        response = await s.client.get(path, params={"token": token, **params})
        assert response.status_code == 200, response.text
        cal = Calendar.from_ical(response.content)
        events = {str(e["uid"]).split("@")[0]: e for e in cal.walk("VEVENT")}
        return str(cal["X-WR-CALNAME"]), events

    ids = {
        "cancelled": cancelled["gathering_id"],
        "kept": kept["gathering_id"],
        "veiledning": booked["gathering_id"],
        "later": later["gathering_id"],
    }
    # An observer: the round under way (2030), no veiledning, the cancelled one marked.
    name, events = await feed("/feeds/regions/vestland.ics", "local-observer")
    assert name == "Fremtidens kulturskole - Vestland - runde 2030"
    assert set(events) == {ids["cancelled"], ids["kept"]}
    gone = events[ids["cancelled"]]
    assert (str(gone["status"]), str(gone["summary"])) == ("CANCELLED", "Avlyst: Avlyses")
    assert str(events[ids["kept"]]["status"]) == "CONFIRMED"
    assert "Runde 2030, Vestland" in str(events[ids["kept"]]["description"])
    # Another region's board sees no Vestland booking either; Vestland's board and
    # programme management do.
    _, events = await feed("/feeds/regions/vestland.ics", "local-board-agder")
    assert ids["veiledning"] not in events
    for token in ("local-board-vestland", "local-programme"):
        _, events = await feed("/feeds/regions/vestland.ics", token)
        assert set(events) == {ids["cancelled"], ids["kept"], ids["veiledning"]}
    # Another round when asked, or all of them.
    name, events = await feed("/feeds/regions/vestland.ics", "local-observer", round="2031")
    assert (name.endswith("runde 2031"), set(events)) == (True, {ids["later"]})
    _, events = await feed("/feeds/regions/vestland.ics", "local-observer", round="all")
    assert set(events) == {ids["cancelled"], ids["kept"], ids["later"]}
    bad = await s.client.get(
        "/feeds/regions/vestland.ics", params={"token": "local-observer", "round": "x"}
    )
    assert bad.status_code == 422
    # Bergen's feed: the same rule for its veiledning.
    name, events = await feed(f"/feeds/municipalities/{BERGEN}.ics", "local-observer")
    assert name == "Fremtidens kulturskole - Bergen - runde 2030"
    assert ids["veiledning"] not in events and ids["kept"] in events
    _, events = await feed(f"/feeds/municipalities/{BERGEN}.ics", "local-board-vestland")
    assert ids["veiledning"] in events
    # The calendar and the gathering itself keep it the same way.
    for who, sees in ((OBSERVER, False), (AGDER, False), (VESTLAND, True), (PROGRAMME, True)):
        listed = await s.get(f"/rounds/{ROUND}/regions/vestland/calendar", who)
        assert (ids["veiledning"] in {g["gathering_id"] for g in listed["gatherings"]}) is sees
        found = await s.client.get(f"/gatherings/{ids['veiledning']}", headers=who)
        assert found.status_code == (200 if sees else 404)
