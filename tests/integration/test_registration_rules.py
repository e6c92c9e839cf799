"""The registration service's rules through its HTTP API and command topic, on the real Kafka
and PostgreSQL. Every refusal is checked the way a user would: the status, the reason in
`detail`, and that nothing was stored and no event queued (`Registration.refused` compares
every table before and after). Each test ends by checking exactly which events were published.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared.contracts.events.registration import SubmitApplication
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import eventually
from tests.integration.registration_app import (
    AFTER_WINDOW_46,
    AGDER,
    OBSERVER,
    OSLO,
    PROGRAMME,
    ROUND,
    START,
    VESTLAND,
    WINDOW_46,
    Registration,
    complete_group,
    draft,
    person,
    registration_fixture,  # noqa: F401
    short,
    submission,
)
from tests.integration.support import data_of, headers_of, read_to_end

pytestmark = pytest.mark.integration

SET_UP = ["membership-changed.v1", "round-opened.v1", "application-window-opened.v1"]


def interest(
    branch: str = "Vestland", municipalities: list[str] | None = None, **more: Any
) -> dict[str, Any]:
    return {
        "round_id": ROUND,
        "branch": branch,
        "municipality_numbers": ["4601"] if municipalities is None else municipalities,
        "contact": {"name": "Kari Kontakt", "email": "kari.kontakt@example.no"},
        "message": "Styret ønsker å være med.",
        **more,
    }


def of(municipality: str, **more: Any) -> dict[str, Any]:
    return {"round_id": ROUND, "municipality_number": municipality, **more}


async def count(app: Registration, table: str) -> int:
    return int(await app.db.fetchval(f"SELECT count(*) FROM {table}"))


async def assert_events(app: Registration, *types: str) -> None:
    """Exactly these events (in any order across keys) are on the public topic."""
    assert await app.event_types() == Counter(types)


# --- interest ---------------------------------------------------------------------------------


async def test_interest_refusals_store_nothing(registration: Registration) -> None:
    app = registration
    await app.open_round(windows=())

    await app.refused(
        "/interest-registrations",
        interest(municipalities=["4601", "9998"]),
        VESTLAND,
        422,
        "unknown municipality number(s) 9998",
    )
    await app.refused(
        "/interest-registrations",
        interest("Agder", ["4601"]),
        AGDER,
        422,
        "4601 Bergen is not in the counties of branch Agder (42)",
    )
    await app.refused(
        "/interest-registrations",
        interest(municipalities=["4601", "4602"]),
        VESTLAND,
        422,
        "4602 Kinn: not a member municipality",
        "only members may take part",
    )
    malformed = await app.refused(
        "/interest-registrations",
        None,
        VESTLAND,
        400,
        "not valid JSON",
        content='{"round_id": "2030", "branch": "Vestland", ',
    )
    assert malformed["type"] == "urn:kulturskole:problem:malformed-json", malformed
    oversized = await app.refused(
        "/interest-registrations", interest(message="x" * 4001), VESTLAND, 422, "message"
    )
    assert oversized["field"] == "message", oversized
    assert [e["field"] for e in oversized["errors"]] == ["message"], oversized
    assert "xxxx" not in str(oversized)  # the input is not echoed back
    assert (await count(app, "interest_registrations"), await count(app, "persons")) == (0, 0)
    assert (await app.status_of("4601"))["interested"] is False

    # The longest message there may be is fine.
    await app.accepted(
        "/interest-registrations", interest(message="x" * 4000), VESTLAND, status=201
    )
    await assert_events(app, "membership-changed.v1", "round-opened.v1", "interest-registered.v1")


async def test_interest_closes_at_the_end_of_the_deadline_day_in_oslo(
    registration: Registration,
) -> None:
    app = registration
    await app.open_round(windows=())  # the interest deadline: 15.09.2029

    # 22:00 UTC on the 15th is midnight in Oslo (summer time): too late.
    app.clock.now = datetime(2029, 9, 15, 22, 0, tzinfo=UTC)
    await app.refused(
        "/interest-registrations",
        interest(),
        VESTLAND,
        422,
        "interest for round 2030 closed at the end of 15.09.2029 (Europe/Oslo)",
    )
    app.clock.now = datetime(2029, 9, 16, 9, 0, tzinfo=OSLO)
    await app.refused("/interest-registrations", interest(), VESTLAND, 422, "15.09.2029")

    app.clock.now = datetime(2029, 9, 15, 23, 59, tzinfo=OSLO)
    first = await app.accepted("/interest-registrations", interest(), VESTLAND, status=201)

    # Registering again updates the one registration: 200, same id, an interest-updated event.
    response = await app.post(
        "/interest-registrations",
        interest(municipalities=["4601", "4640"], message="Sogndal vil også."),
        VESTLAND,
    )
    assert response.status_code == 200, response.text
    again = response.json()["result"]
    assert again["registration_id"] == first["registration_id"]
    assert again["contact_person_id"] == first["contact_person_id"]  # same e-mail, same person
    rows = await app.db.fetch("SELECT * FROM interest_registrations")
    assert len(rows) == 1
    assert (rows[0]["municipality_numbers"], rows[0]["message"]) == (
        ["4601", "4640"],
        "Sogndal vil også.",
    )
    assert rows[0]["updated_at"] == app.clock.now
    assert await count(app, "persons") == 1
    stored = await app.get(f"/interest-registrations/{first['registration_id']}", PROGRAMME)
    assert [m["number"] for m in stored["municipalities"]] == ["4601", "4640"]
    assert (await app.status_of("4640"))["interested"] is True
    status = await app.get(f"/rounds/{ROUND}/status")
    assert status["totals"]["interested"] == 2

    events = [r for r in await app.published(app.events) if r.key == b"vestland"]
    assert [short(headers_of(r)["ce_type"]) for r in events] == [
        "interest-registered.v1",
        "interest-updated.v1",
    ]
    assert data_of(events[1])["registration_id"] == first["registration_id"]
    await assert_events(
        app,
        "membership-changed.v1",
        "round-opened.v1",
        "interest-registered.v1",
        "interest-updated.v1",
    )


# --- authorization ----------------------------------------------------------------------------


async def test_each_principal_may_do_only_its_own_part(registration: Registration) -> None:
    app = registration
    await app.open_round()

    await app.refused("/rounds", {"round_id": "2031"}, {}, 401, "bearer token")
    await app.refused(
        "/rounds", {"round_id": "2031"}, {"Authorization": "Bearer nope"}, 401, "bearer token"
    )
    assert (await app.client.get(f"/rounds/{ROUND}/status")).status_code == 401

    # A county board acts for its own branch and counties only.
    await app.refused(
        "/interest-registrations",
        interest(),
        AGDER,
        403,
        "may not act for the branch vestland",
    )
    await app.refused(
        "/application-drafts",
        draft("4601", complete_group()),
        AGDER,
        403,
        "may not act for county 46",
    )

    # An observer reads, and may send nothing.
    for path, body in (
        ("/rounds", {"round_id": "2031"}),
        ("/members", {"municipality_numbers": ["4601"]}),
        ("/interest-registrations", interest()),
        ("/application-drafts", draft("4601", complete_group())),
        ("/application-submissions", submission("4601")),
        ("/decisions", of("4601", decision="admit")),
        ("/erasures", {"person_id": "00000000-0000-0000-0000-000000000001"}),
    ):
        await app.refused(path, body, OBSERVER, 403, "Observatør may not")
    status = await app.get(f"/rounds/{ROUND}/status", OBSERVER)
    assert status["round_id"] == ROUND

    # A board submits for its municipality, but only programme management decides.
    await app.submit("4601", complete_group())
    await app.refused(
        "/decisions",
        of("4601", decision="admit"),
        VESTLAND,
        403,
        "programme management only",
    )
    assert (await app.status_of("4601"))["status"] == "submitted"
    await assert_events(app, *SET_UP, "application-submitted.v1")


# --- applications -----------------------------------------------------------------------------


async def test_applications_follow_the_county_window(registration: Registration) -> None:
    app = registration
    await app.open_round(windows=())

    # No window for Vestland yet (it opens after the county's annual meeting): a board may
    # prepare a draft, but not submit it.
    saved = await app.accepted("/application-drafts", draft("4601", complete_group()), VESTLAND)
    assert (saved["status"], saved["group_size"]) == ("draft", 2)
    await app.refused(
        "/application-submissions",
        submission("4601"),
        VESTLAND,
        409,
        "Vestland has no application window in round 2030 yet",
    )

    await app.accepted(
        "/application-windows",
        {
            "round_id": ROUND,
            "county_number": "46",
            "opens_on": "2029-09-10",
            "deadline": "2029-09-30",
        },
        status=201,
    )
    # Before the window opens (START is 01.09.2029): a draft again, no submission.
    await app.accepted("/application-drafts", draft("4601", complete_group()), VESTLAND)
    await app.refused(
        "/application-submissions",
        submission("4601"),
        VESTLAND,
        422,
        "applications from Vestland opens 10.09.2029",
    )
    app.clock.now = datetime(2029, 9, 10, 0, 0, tzinfo=OSLO)
    await app.refused(
        "/application-drafts",
        draft("4602", complete_group()),
        VESTLAND,
        422,
        "4602 Kinn: not a member municipality",
        "only members may take part",
    )
    await app.accepted("/application-drafts", draft("4601", complete_group()), VESTLAND)

    # Submitting checks the window itself, not only the draft did.
    app.clock.now = datetime(2029, 9, 9, 23, 59, tzinfo=OSLO)
    await app.refused(
        "/application-submissions", submission("4601"), VESTLAND, 422, "opens 10.09.2029"
    )
    app.clock.now = datetime(2029, 10, 1, 0, 0, tzinfo=OSLO)
    await app.refused(
        "/application-submissions",
        submission("4601"),
        VESTLAND,
        422,
        "applications from Vestland closed at the end of 30.09.2029 (Europe/Oslo)",
    )
    # After the window has closed, not even a draft.
    await app.refused(
        "/application-drafts",
        draft("4601", complete_group()),
        VESTLAND,
        422,
        "applications from Vestland closed at the end of 30.09.2029",
    )
    status = await app.status_of("4601")
    assert (status["status"], status["group_size"], status["submitted_at"]) == ("draft", 2, None)
    await assert_events(app, *SET_UP)


async def test_an_incomplete_application_is_refused_whole(registration: Registration) -> None:
    app = registration
    await app.open_round()

    no_kulturskole = [person("grunnskole", "Ola"), person("barnehage", "Per")]
    await app.accepted("/application-drafts", draft("4601", no_kulturskole), VESTLAND)
    await app.refused(
        "/application-submissions",
        submission("4601"),
        VESTLAND,
        422,
        "the kommunegruppe needs at least one representative of the kulturskole",
    )
    # All or nothing: no member of that group registered, the application still a draft.
    assert await count(app, "group_members") == 0
    emails = [m["email"] for m in no_kulturskole]
    assert await app.db.fetchval("SELECT count(*) FROM persons WHERE email = ANY($1)", emails) == 0
    status = await app.status_of("4601")
    assert (status["status"], status["group_size"]) == ("draft", 2)  # as drafted

    uncommitted = person("grunnskole", "Ola", committed=False)
    await app.accepted(
        "/application-drafts", draft("4601", [person("kulturskole", "Kari"), uncommitted]), VESTLAND
    )
    await app.refused(
        "/application-submissions",
        submission("4601"),
        VESTLAND,
        422,
        "commitment to the gatherings",
        f"missing for {uncommitted['email']}",
    )

    await app.accepted(
        "/application-drafts",
        draft("4640", complete_group(), motivation="", co_creation_plan=""),
        VESTLAND,
    )
    await app.refused(
        "/application-submissions",
        submission("4640"),
        VESTLAND,
        422,
        "the application needs motivation, a local co-creation plan before it is submitted",
    )
    assert (await app.status_of("4640"))["status"] == "draft"

    # Complete, it goes through once; a second submission or a new draft is a conflict.
    await app.submit("4601", complete_group())
    await app.refused(
        "/application-submissions",
        submission("4601"),
        VESTLAND,
        409,
        "the application of Bergen is already submitted",
    )
    await app.refused(
        "/application-drafts",
        draft("4601", complete_group()),
        VESTLAND,
        409,
        "already submitted",
    )
    assert await count(app, "group_members") == 2
    await assert_events(app, *SET_UP, "application-submitted.v1")


async def test_an_extended_deadline_lets_a_late_application_in(registration: Registration) -> None:
    app = registration
    await app.open_round()  # Vestland's deadline: 30.09.2029
    await app.accepted("/application-drafts", draft("4601", complete_group()), VESTLAND)

    app.clock.now = datetime(2029, 10, 1, 9, 0, tzinfo=OSLO)
    await app.refused(
        "/application-submissions",
        submission("4601"),
        VESTLAND,
        422,
        "closed at the end of 30.09.2029",
    )

    extension = {
        "round_id": ROUND,
        "kind": "application",
        "county_number": "46",
        "new_deadline": "2029-10-15",
    }
    extended = await app.accepted("/deadline-extensions", extension, PROGRAMME)
    assert (extended["previous_deadline"], extended["new_deadline"]) == ("2029-09-30", "2029-10-15")
    assert datetime.fromisoformat(extended["closes_at"]) == datetime(2029, 10, 16, tzinfo=OSLO)
    assert await app.db.fetchval(
        "SELECT deadline FROM application_windows WHERE county_number = '46'"
    ) == date(2029, 10, 15)

    submitted = await app.accepted("/application-submissions", submission("4601"), VESTLAND)
    assert datetime.fromisoformat(submitted["submitted_at"]) == app.clock.now

    await app.refused(
        "/deadline-extensions",
        {**extension, "new_deadline": "2029-10-10"},
        PROGRAMME,
        422,
        "a deadline can only be extended: 10.10.2029 is not after 15.10.2029",
    )
    await app.refused(
        "/deadline-extensions", extension, PROGRAMME, 422, "15.10.2029 is not after 15.10.2029"
    )
    await app.refused(
        "/deadline-extensions",
        {**extension, "county_number": None, "new_deadline": "2029-11-01"},
        PROGRAMME,
        422,
        "an application deadline belongs to a county",
    )

    events = await app.published(app.events)
    (event,) = [r for r in events if short(headers_of(r)["ce_type"]) == "deadline-extended.v1"]
    data = data_of(event)
    assert (data["kind"], data["county_number"]) == ("application", "46")
    assert (data["previous_deadline"], data["new_deadline"]) == ("2029-09-30", "2029-10-15")
    await assert_events(app, *SET_UP, "deadline-extended.v1", "application-submitted.v1")


# --- decisions and group changes ------------------------------------------------------------


async def test_decisions_and_changes_to_an_admitted_group(registration: Registration) -> None:
    app = registration
    await app.open_round()

    await app.accepted("/application-drafts", draft("4640", complete_group()), VESTLAND)
    await app.refused(
        "/decisions",
        of("4640", decision="admit"),
        PROGRAMME,
        409,
        "the application of Sogndal is draft; it cannot be admitted",
    )

    submitted = await app.submit("4601", complete_group())
    kulturskole, grunnskole = (ref["person_id"] for ref in submitted["group"])
    for reason in ("", "   "):
        await app.refused(
            "/decisions",
            of("4601", decision="decline", reason=reason),
            PROGRAMME,
            422,
            "a declined application needs a reason",
        )
    app.clock.now = AFTER_WINDOW_46
    await app.accepted("/decisions", of("4601", decision="admit"), PROGRAMME)

    # The kulturskole's only representative cannot leave the group.
    await app.refused(
        "/group-member-removals",
        of("4601", person_id=kulturskole),
        VESTLAND,
        409,
        "the kommunegruppe needs at least one representative of the kulturskole",
    )
    await app.refused(
        "/group-members",
        of("4601", member=person("barnehage", "Bodil", committed=False)),
        VESTLAND,
        422,
        "a new member must commit to the gatherings",
    )
    barnehage = person("barnehage", "Berit")
    added = await app.accepted("/group-members", of("4601", member=barnehage), VESTLAND)
    assert added["role"] == "barnehage"
    assert (await app.status_of("4601"))["group_size"] == 3

    sfo = person("sfo", "Siri")
    replaced = await app.accepted(
        "/group-member-replacements", of("4601", person_id=grunnskole, member=sfo), VESTLAND
    )
    assert replaced["role"] == "sfo"
    status = await app.status_of("4601")
    assert (status["status"], status["group_size"]) == ("admitted", 3)
    active = await app.db.fetch(
        "SELECT person_id::text AS id, role FROM group_members WHERE removed_at IS NULL"
    )
    assert sorted((r["id"], r["role"]) for r in active) == sorted(
        [
            (kulturskole, "kulturskole"),
            (added["person_id"], "barnehage"),
            (replaced["person_id"], "sfo"),
        ]
    )

    events = [r for r in await app.published(app.events) if r.key == b"4601"]
    assert [short(headers_of(r)["ce_type"]) for r in events] == [
        "application-submitted.v1",
        "municipality-admitted.v1",
        "group-member-added.v1",
        "group-member-removed.v1",
        "group-member-added.v1",
    ]
    assert (data_of(events[2])["person_id"], data_of(events[2])["role"]) == (
        added["person_id"],
        "barnehage",
    )
    assert (data_of(events[3])["person_id"], data_of(events[3])["role"]) == (
        grunnskole,
        "grunnskole",
    )
    assert data_of(events[4])["person_id"] == replaced["person_id"]
    contacts = {r.key.decode(): data_of(r) for r in await app.published(app.contacts)}
    assert contacts[added["person_id"]]["email"] == barnehage["email"]
    assert contacts[replaced["person_id"]]["email"] == sfo["email"]
    await assert_events(
        app,
        *SET_UP,
        "application-submitted.v1",
        "municipality-admitted.v1",
        "group-member-added.v1",
        "group-member-removed.v1",
        "group-member-added.v1",
    )


# --- personal data ------------------------------------------------------------------------------


async def test_erasing_a_group_member(registration: Registration) -> None:
    app = registration
    await app.open_round()
    group = complete_group()
    submitted = await app.submit("4601", group)
    kept, erased = (ref["person_id"] for ref in submitted["group"])
    # Out before the erasure (an erasure also withdraws contact details not yet published).
    await app.published(app.contacts)

    result = await app.accepted("/erasures", {"person_id": erased}, PROGRAMME)
    assert result["person_id"] == erased
    row = await app.db.fetchrow(
        "SELECT name, email, phone, erased_at FROM persons WHERE id = $1::uuid", erased
    )
    assert (row["name"], row["email"], row["phone"]) == (None, None, None)
    assert row["erased_at"] is not None
    other = await app.db.fetchrow("SELECT name, email FROM persons WHERE id = $1::uuid", kept)
    assert (other["name"], other["email"]) == (group[0]["name"], group[0]["email"])
    assert (await app.status_of("4601"))["group_size"] == 2  # still in the group, without data

    await app.refused(
        "/erasures", {"person_id": erased}, PROGRAMME, 404, f"no person {erased} with data to erase"
    )

    contacts = [r for r in await app.published(app.contacts) if r.key == erased.encode()]
    assert [r.value is None for r in contacts] == [False, True]  # details, then a tombstone
    assert data_of(contacts[0])["email"] == group[1]["email"]
    events = [r for r in await app.published(app.events) if r.key == erased.encode()]
    assert [short(headers_of(r)["ce_type"]) for r in events] == ["person-erased.v1"]
    assert data_of(events[0])["person_id"] == erased
    await assert_events(app, *SET_UP, "application-submitted.v1", "person-erased.v1")


# --- the command topic --------------------------------------------------------------------------


async def test_commands_from_kafka_are_handled_or_dead_lettered_with_the_reason(
    registration: Registration, producer: AIOKafkaProducer
) -> None:
    app = registration
    agder = {"county_number": "42", "opens_on": "2029-08-01", "deadline": "2029-08-31"}
    app.clock.now = datetime(2029, 8, 25, 12, 0, tzinfo=OSLO)
    await app.open_round(windows=(agder, WINDOW_46))
    await app.accepted("/application-drafts", draft("4204", complete_group()), AGDER)
    await app.accepted("/application-drafts", draft("4601", complete_group()), VESTLAND)
    app.clock.now = START  # Agder's window has closed, Vestland's is open

    late = Envelope.wrap(
        SubmitApplication(round_id=ROUND, municipality_number="4204"), source="/test"
    )
    valid = Envelope.wrap(
        SubmitApplication(round_id=ROUND, municipality_number="4601"), source="/test"
    )
    for envelope, key in ((late, b"4204"), (valid, b"4601")):
        await producer.send_and_wait(
            app.commands, value=envelope.data, key=key, headers=envelope.headers()
        )

    async def dead_letters() -> list[Any]:
        return await read_to_end(app.bootstrap, app.commands_dlq)

    (dead,) = await eventually(dead_letters, timeout=30, what="a dead letter")
    headers = headers_of(dead)
    assert headers["ce_id"] == late.id
    assert headers["dlq_reason"].startswith("rejected: "), headers["dlq_reason"]
    assert "applications from Agder closed at the end of 31.08.2029" in headers["dlq_reason"]
    assert headers["dlq_original_topic"] == app.commands
    assert (dead.key, dead.value) == (b"4204", late.data)

    async def submitted() -> bool:
        return bool((await app.status_of("4601"))["status"] == "submitted")

    await eventually(submitted, timeout=30, what="4601 to be submitted from the command topic")
    status = await app.status_of("4204")
    assert (status["status"], status["group_size"]) == ("draft", 2)  # the draft's group

    events = await app.published(app.events)
    (event,) = [r for r in events if short(headers_of(r)["ce_type"]) == "application-submitted.v1"]
    assert event.key == b"4601"
    assert headers_of(event)["ce_causationid"] == valid.id
    assert await app.db.fetchval("SELECT count(*) FROM inbox WHERE message_id = $1", late.id) == 0
    assert (
        await app.db.fetchval("SELECT topic FROM inbox WHERE message_id = $1", valid.id)
        == app.commands
    )
    assert await app.event_types() == Counter(
        [
            "membership-changed.v1",
            "round-opened.v1",
            "application-window-opened.v1",
            "application-window-opened.v1",
            "application-submitted.v1",
        ]
    )
