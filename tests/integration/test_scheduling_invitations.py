"""Invitations follow registration, on the real Kafka and PostgreSQL.

Registration runs first and admits municipalities while the scheduling service has never
run; then scheduling starts for the first time, reads registration's history from its
beginning and invites whom it should. Later group changes, a withdrawal and an erasure move
the invitations of the gatherings still ahead, and every change is published."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import pytest

from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.integration.registration_app import (
    OSLO,
    ROUND,
    START,
    Registration,
    complete_group,
    person,
    registration_fixture,  # noqa: F401
)
from tests.integration.registration_app import (
    PROGRAMME as REGISTRATION_PROGRAMME,
)
from tests.integration.registration_app import (
    VESTLAND as REGISTRATION_VESTLAND,
)
from tests.integration.scheduling_app import Scheduling, started_scheduling

pytestmark = pytest.mark.integration

BERGEN, SOGNDAL, ASKOY = "4601", "4640", "4627"


def oslo(day: str, hour: int) -> str:
    """Wall-clock time in Oslo that day, with the day's offset."""
    return datetime.combine(date.fromisoformat(day), time(hour), tzinfo=OSLO).isoformat()


def venue() -> dict[str, str]:
    return {"name": "Grieghallen", "address": "Edvard Griegs plass 1, 5015 Bergen"}


def people(admitted: dict[str, Any]) -> set[str]:
    return {f"person:{m['person_id']}" for m in admitted["group"]}


async def admit_in_vestland(registration: Registration) -> dict[str, Any]:
    """Interest for three Vestland municipalities; Bergen and Sogndal apply and are admitted."""
    await registration.open_round()
    interest = await registration.accepted(
        "/interest-registrations",
        {
            "round_id": ROUND,
            "branch": "Vestland",
            "municipality_numbers": [BERGEN, SOGNDAL, ASKOY],
            "contact": {"name": "Styreleder Vestland", "email": "styret.vestland@example.no"},
        },
        REGISTRATION_VESTLAND,
        status=201,
    )
    admitted = {}
    for number in (BERGEN, SOGNDAL):
        await registration.submit(number, complete_group())
        admitted[number] = await registration.accepted(
            "/decisions",
            {
                "round_id": ROUND,
                "municipality_number": number,
                "decision": "admit",
                # Decisions otherwise wait for Vestland's window to close.
                "early_reason": "The test does not wait for the window to close",
            },
            REGISTRATION_PROGRAMME,
        )
    return {"interest": interest, **admitted}


async def schedule(scheduling: Scheduling, kind: str, day: str, **extra: Any) -> dict[str, Any]:
    return await scheduling.accepted(
        "/gatherings",
        {
            "round_id": ROUND,
            "region": "vestland",
            "kind": kind,
            "title": f"{kind.title()} i Bergen",
            "venue": venue(),
            "starts_at": oslo(day, 10),
            "ends_at": oslo(day, 15),
            **extra,
        },
        status=201,
    )


async def test_admissions_before_the_first_start_are_invited_and_changes_follow(
    registration: Registration,
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
) -> None:
    before = await admit_in_vestland(registration)
    board = f"person:{before['interest']['contact_person_id']}"
    bergen, sogndal = people(before[BERGEN]), people(before[SOGNDAL])
    assert len(bergen) == len(sogndal) == 2
    await registration.published(registration.events)  # all of it is on the topic now

    # The scheduling service starts for the first time only now.
    async with started_scheduling(endpoints, database, topic_prefix, START) as scheduling:
        await scheduling.until_round(ROUND)
        presamling = await schedule(scheduling, "presamling", "2029-10-16")
        samling = await schedule(scheduling, "samling", "2029-11-20")
        assert presamling["sequence"] == samling["sequence"] == 0
        assert presamling["starts_at"] == "2029-10-16T10:00:00+02:00"  # CEST that day

        # Everything registration said before the start is there.
        await scheduling.until_invited(
            presamling["gathering_id"],
            {board, f"municipality:{BERGEN}", f"municipality:{SOGNDAL}", f"municipality:{ASKOY}"},
        )
        await scheduling.until_invited(samling["gathering_id"], bergen | sogndal)

        # A member added later is invited to what is still ahead.
        added = await registration.accepted(
            "/group-members",
            {"round_id": ROUND, "municipality_number": BERGEN, "member": person("sfo", "Siv")},
            REGISTRATION_VESTLAND,
        )
        siv = f"person:{added['person_id']}"
        await scheduling.until_invited(samling["gathering_id"], bergen | sogndal | {siv})

        # Removed again: that invitation is withdrawn.
        await registration.accepted(
            "/group-member-removals",
            {"round_id": ROUND, "municipality_number": BERGEN, "person_id": added["person_id"]},
            REGISTRATION_VESTLAND,
        )
        await scheduling.until_invited(samling["gathering_id"], bergen | sogndal)

        # Sogndal withdraws: its people are no longer invited to the samling.
        await registration.accepted(
            "/withdrawals",
            {"round_id": ROUND, "municipality_number": SOGNDAL, "reason": "Ikke kapasitet"},
            REGISTRATION_VESTLAND,
        )
        await scheduling.until_invited(samling["gathering_id"], bergen)

        # Erasure removes the person.
        erased = sorted(bergen)[0].removeprefix("person:")
        await registration.accepted("/erasures", {"person_id": erased}, REGISTRATION_PROGRAMME)
        await scheduling.until_invited(samling["gathering_id"], bergen - {f"person:{erased}"})

        async def all_published() -> bool:
            types = await scheduling.event_types()
            return types["invitation-withdrawn.v1"] >= 4

        await eventually(all_published, timeout=30, what="the withdrawals to be published")
        issued = await scheduling.events_of("invitation-issued.v1")
        withdrawn = await scheduling.events_of("invitation-withdrawn.v1")

    # Each invitation issued once per invitee (Siv: once), and its withdrawal says why.
    issued_keys = [(e["gathering_id"], e["person_id"] or e["municipality_number"]) for e in issued]
    assert len(issued_keys) == len(set(issued_keys)) == 4 + 4 + 1
    reasons = {(e["person_id"], e["reason"]) for e in withdrawn}
    assert (added["person_id"], "left the kommunegruppe") in reasons
    for who in sogndal:
        assert (who.removeprefix("person:"), f"{SOGNDAL} withdrew from the programme") in reasons
    assert (erased, "personal data erased") in reasons
    assert len(withdrawn) == 4
    # Public events carry ids and roles, never contact data.
    for event in issued + withdrawn:
        assert "email" not in str(event) and "@" not in str(event)
        assert event["role"] in {"kulturskole", "grunnskole", "sfo", "county_board", "municipality"}
    # The presamling's invitations did not move: interest stands even after the withdrawal.
    assert {e["gathering_id"] for e in withdrawn} == {samling["gathering_id"]}
