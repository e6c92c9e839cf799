"""Correcting mistakes, on the real Kafka and PostgreSQL: rounds (a past deadline, capacity,
closing, cancelling), windows in the past, decisions that wait for the window (or say why
not), revoking an admission, withdrawing and applying again, and what re-registering interest
tells (added, removed, a contact handed over)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from tests.integration.registration_app import (
    AFTER_WINDOW_46,
    OSLO,
    PROGRAMME,
    ROUND,
    VESTLAND,
    Registration,
    complete_group,
    draft,
    registration_fixture,  # noqa: F401
    short,
    submission,
)
from tests.integration.support import data_of, headers_of

pytestmark = pytest.mark.integration


def of(municipality: str, **more: object) -> dict[str, object]:
    return {"round_id": ROUND, "municipality_number": municipality, **more}


async def test_rounds_refuse_past_deadlines_unless_stated_and_can_be_corrected(
    registration: Registration,
) -> None:
    app = registration  # the clock stands at 01.09.2029
    await app.refused(
        "/rounds",
        {"round_id": "2031", "interest_deadline": "2029-08-31"},
        PROGRAMME,
        422,
        "31.08.2029 is already past",
    )
    stated = await app.accepted(
        "/rounds",
        {"round_id": "2031", "interest_deadline": "2029-08-31", "allow_past_deadline": True},
        status=201,
    )
    assert stated["interest_deadline"] == "2029-08-31"
    await app.refused("/rounds", {"round_id": "0000"}, PROGRAMME, 422, "not a programme year")

    await app.open_round(capacity={"vestland": 2})
    await app.refused(
        "/application-windows",
        {
            "round_id": ROUND,
            "county_number": "42",
            "opens_on": "2029-08-01",
            "deadline": "2029-08-31",
        },
        PROGRAMME,
        422,
        "31.08.2029 is already past",
    )
    # Capacity by branch name or id; never under what is admitted already.
    changed = await app.accepted(
        "/capacity-changes",
        {"round_id": ROUND, "capacity_per_branch": {"Trøndelag": 3, "vestland": 1}},
    )
    assert changed["capacity_per_branch"] == {"vestland": 1, "trondelag": 3}
    assert changed["changed_by"] == "Programledelsen"
    await app.submit("4601", complete_group())
    await app.submit("4640", complete_group())
    app.clock.now = AFTER_WINDOW_46
    await app.accepted("/decisions", of("4601", decision="admit"))
    await app.refused(
        "/capacity-changes",
        {"round_id": ROUND, "capacity_per_branch": {"Vestland": 0}},
        PROGRAMME,
        409,
        "region Vestland has 1 admitted already",
    )
    await app.refused(
        "/capacity-changes",
        {"round_id": ROUND, "capacity_per_branch": {"Narnia": 2}},
        PROGRAMME,
        422,
        "unknown county branch",
    )

    # Closed: no more intake, decisions go on. Cancelled: nothing more.
    closed = await app.accepted("/round-closures", {"round_id": ROUND, "reason": "Full"})
    assert (closed["state"], closed["closed_by"]) == ("closed", "Programledelsen")
    await app.refused(
        "/application-drafts", draft("4627", complete_group()), VESTLAND, 409, "is closed"
    )
    waitlisted = await app.accepted("/decisions", of("4640", decision="waitlist"))
    assert waitlisted["position"] == 1
    cancelled = await app.accepted(
        "/round-cancellations", {"round_id": "2031", "reason": "Åpnet ved en feil"}
    )
    assert cancelled["state"] == "cancelled"
    await app.refused(
        "/capacity-changes",
        {"round_id": "2031", "capacity_per_branch": {"vestland": 1}},
        PROGRAMME,
        409,
        "round 2031 is cancelled",
    )
    assert (await app.get("/rounds/2031"))["state"] == "cancelled"
    assert await app.event_types() == Counter(
        {
            "round-opened.v1": 2,
            "membership-changed.v1": 1,
            "application-window-opened.v1": 1,
            "round-capacity-changed.v1": 1,
            "application-submitted.v1": 2,
            "municipality-admitted.v1": 1,
            "municipality-waitlisted.v1": 1,
            "round-closed.v1": 2,
        }
    )


async def test_decisions_wait_for_the_window_unless_marked_early(
    registration: Registration,
) -> None:
    app = registration
    await app.open_round()
    await app.submit("4601", complete_group())
    await app.refused(
        "/decisions",
        of("4601", decision="admit"),
        PROGRAMME,
        409,
        "open until the end of 30.09.2029",
        "early_reason",
    )
    early = await app.accepted(
        "/decisions", of("4601", decision="admit", early_reason="Kommunen må vite før budsjettet")
    )
    assert (early["early_reason"], early["decided_by"]) == (
        "Kommunen må vite før budsjettet",
        "Programledelsen",
    )
    row = await app.db.fetchrow(
        "SELECT decided_by, early_reason FROM applications WHERE municipality_number = '4601'"
    )
    assert tuple(row) == ("Programledelsen", "Kommunen må vite før budsjettet")


async def test_an_admission_is_revoked_and_the_place_goes_on(registration: Registration) -> None:
    app = registration
    await app.open_round(capacity={"vestland": 1})
    await app.submit("4601", complete_group())
    await app.submit("4640", complete_group())
    app.clock.now = AFTER_WINDOW_46
    await app.accepted("/decisions", of("4601", decision="admit"))
    await app.accepted("/decisions", of("4640", decision="waitlist"))

    await app.refused("/revocations", of("4640", reason="Feil"), PROGRAMME, 409, "is waitlisted")
    await app.refused(
        "/revocations", of("4601", reason="Feil"), VESTLAND, 403, "programme management"
    )
    revoked = await app.accepted("/revocations", of("4601", reason="Søknaden var ikke fra styret"))
    assert (revoked["reason"], revoked["revoked_by"]) == (
        "Søknaden var ikke fra styret",
        "Programledelsen",
    )
    bergen = await app.get(f"/rounds/{ROUND}/applications/4601", PROGRAMME)
    assert (bergen["status"], bergen["revocation_reason"], bergen["decided_by"]) == (
        "revoked",
        "Søknaden var ikke fra styret",
        "Programledelsen",  # the admission's decision stays on record
    )
    assert (await app.status_of("4640"))["status"] == "admitted"  # moved up
    events = await app.published(app.events)
    by_key = {
        key: [short(headers_of(r)["ce_type"]) for r in events if r.key == key]
        for key in (b"4601", b"4640")
    }
    assert by_key[b"4601"][-2:] == ["municipality-admitted.v1", "admission-revoked.v1"]
    assert by_key[b"4640"][-2:] == ["municipality-waitlisted.v1", "municipality-admitted.v1"]


async def test_a_withdrawn_municipality_applies_again_while_the_window_is_open(
    registration: Registration,
) -> None:
    app = registration
    await app.open_round()
    first = await app.submit("4601", complete_group())
    withdrawn = await app.accepted("/withdrawals", of("4601", reason="Feil gruppe"), VESTLAND)
    assert (withdrawn["withdrawn_by"], withdrawn["previous_status"]) == (
        "Styret i Vestland",
        "submitted",
    )
    row = await app.db.fetchrow(
        "SELECT status, decided_at, withdrawal_reason FROM applications"
        " WHERE municipality_number = '4601'"
    )
    assert tuple(row) == ("withdrawn", None, "Feil gruppe")  # a withdrawal is not a decision

    new_group = complete_group()
    await app.accepted("/application-drafts", draft("4601", new_group), VESTLAND)
    again = await app.accepted("/application-submissions", submission("4601"), VESTLAND)
    assert again["application_id"] == first["application_id"]
    read = await app.get(f"/rounds/{ROUND}/applications/4601", PROGRAMME)
    assert read["status"] == "submitted"
    assert [m["email"] for m in read["group"]] == [m["email"] for m in new_group]

    await app.accepted("/withdrawals", of("4601"), VESTLAND)
    app.clock.now = AFTER_WINDOW_46
    await app.refused(
        "/application-drafts",
        draft("4601", complete_group()),
        VESTLAND,
        422,
        "closed at the end of 30.09.2029",
    )


async def test_registering_again_tells_what_changed_and_who_holds_the_contact(
    registration: Registration,
) -> None:
    app = registration
    await app.open_round()
    body = {
        "round_id": ROUND,
        "branch": "vestland",
        "municipality_numbers": ["4601", "4627"],
        "contact": {"name": "Kari Kontakt", "email": "kari@example.no"},
        "message": "Vi vil.",
    }
    first = await app.accepted("/interest-registrations", body, VESTLAND, status=201)
    # Out before the update: an erasure withdraws contact details not yet published (see
    # the test below), and this one follows Kari's record from the start.
    await app.published(app.contacts)
    app.clock.now = datetime(2029, 9, 3, 10, 0, tzinfo=OSLO)
    updated = await app.accepted(
        "/interest-registrations",
        {
            **body,
            "municipality_numbers": ["4601", "4640"],
            "contact": {"name": "Per Ny", "email": "per@example.no"},
        },
        VESTLAND,
        status=200,
    )
    assert (updated["added_municipality_numbers"], updated["removed_municipality_numbers"]) == (
        ["4640"],
        ["4627"],
    )
    assert updated["previous_contact_person_id"] == first["contact_person_id"]
    assert updated["contact_person_id"] != first["contact_person_id"]

    # The former contact is told on the restricted topic (with their own details, so that
    # notification can write to them), then erased: a tombstone follows under the same key.
    former = [
        r for r in await app.published(app.contacts) if r.key == first["contact_person_id"].encode()
    ]
    assert [r.value is None for r in former] == [False, False, True]
    handed = data_of(former[1])
    assert handed["email"] == "kari@example.no"
    assert handed["handed_over"]["new_contact_person_id"] == updated["contact_person_id"]
    assert handed["handed_over"]["branch_name"] == "Vestland"
    erased = [
        data_of(r)
        for r in await app.published(app.events)
        if short(headers_of(r)["ce_type"]) == "person-erased.v1"
    ]
    assert [(e["person_id"], e["erased_by"]) for e in erased] == [
        (first["contact_person_id"], None)
    ]


async def test_a_contact_replaced_before_their_record_went_out_is_told_all_the_same(
    registration: Registration,
) -> None:
    """The relay is behind: Kari's first record is still in the outbox when Per takes over.
    The erasure withdraws it (nothing of an erased person goes out that need not), but the
    notice to her and the tombstone go out, in that order."""
    app = registration
    await app.open_round()
    body = {
        "round_id": ROUND,
        "branch": "vestland",
        "municipality_numbers": ["4601"],
        "contact": {"name": "Kari Kontakt", "email": "kari@example.no"},
        "message": "Vi vil.",
    }
    async with app.relay_held():
        first = await app.accepted("/interest-registrations", body, VESTLAND, status=201)
        updated = await app.accepted(
            "/interest-registrations",
            {**body, "contact": {"name": "Per Ny", "email": "per@example.no"}},
            VESTLAND,
        )
    former = [
        r for r in await app.published(app.contacts) if r.key == first["contact_person_id"].encode()
    ]
    assert [r.value is None for r in former] == [False, True]  # the notice, then a tombstone
    notice = data_of(former[0])
    assert (notice["email"], notice["name"]) == ("kari@example.no", "Kari Kontakt")
    assert notice["handed_over"]["new_contact_person_id"] == updated["contact_person_id"]
