"""One programme round end to end through the registration service's HTTP API, on the real
Kafka and PostgreSQL: membership, round, window, two applications for one place, admission,
the wait-list, a withdrawal that promotes, and what that leaves on the topics."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime

import pytest

from shared.contracts.events.registration import ContactDetails
from tests.integration.registration_app import (
    AFTER_WINDOW_46,
    MEMBERS,
    OSLO,
    PROGRAMME,
    ROUND,
    START,
    WINDOW_46,
    Registration,
    complete_group,
    registration_fixture,  # noqa: F401
    short,
)
from tests.integration.support import data_of, headers_of

pytestmark = pytest.mark.integration

EMAIL = re.compile(rb"[\w.+-]+@[\w-]+\.[\w.-]+")


async def test_two_applications_for_one_place_and_a_promotion_from_the_waitlist(
    registration: Registration,
) -> None:
    app = registration

    # Programme management: members, round 2030 with one place in Vestland, Vestland's window.
    members = await app.accepted("/members", {"municipality_numbers": MEMBERS})
    assert (members["added"], members["removed"], members["member_count"]) == (
        sorted(MEMBERS),
        [],
        4,
    )
    listed = await app.client.get("/members", headers=PROGRAMME)
    assert sorted(listed.json()) == sorted(MEMBERS)
    opened = await app.accepted(
        "/rounds", {"round_id": ROUND, "capacity_per_branch": {"vestland": 1}}, status=201
    )
    assert opened["interest_deadline"] == "2029-09-15"  # 15 September the year before
    assert opened["capacity_per_branch"] == {"vestland": 1}
    window = await app.accepted(
        "/application-windows", {"round_id": ROUND, **WINDOW_46}, status=201
    )
    assert datetime.fromisoformat(window["closes_at"]) == datetime(2029, 10, 1, tzinfo=OSLO)
    assert window["opens_on"] < START.date().isoformat() < window["deadline"]

    # Vestland's board drafts and submits for Bergen and Sogndal.
    groups = {"4601": complete_group(), "4640": complete_group()}
    submitted = {number: await app.submit(number, group) for number, group in groups.items()}
    for number, event in submitted.items():
        assert (event["municipality_number"], event["county_number"], event["branch_id"]) == (
            number,
            "46",
            "vestland",
        )
        assert [m["role"] for m in event["group"]] == ["kulturskole", "grunnskole"]
        status = await app.status_of(number)
        assert (status["status"], status["group_size"], status["member"]) == ("submitted", 2, True)

    # Once Vestland's window has closed, one place: Bergen is admitted, Sogndal cannot be,
    # and goes on the wait-list.
    app.clock.now = AFTER_WINDOW_46
    admitted = await app.accepted("/decisions", {**_of("4601"), "decision": "admit"}, PROGRAMME)
    assert admitted["promoted_from_waitlist"] is False
    assert _same_group(admitted["group"], submitted["4601"]["group"])
    await app.refused(
        "/decisions",
        {**_of("4640"), "decision": "admit"},
        PROGRAMME,
        409,
        "region Vestland has its one place taken",
        "wait-list",
    )
    assert (await app.status_of("4640"))["status"] == "submitted"
    waitlisted = await app.accepted(
        "/decisions", {**_of("4640"), "decision": "waitlist"}, PROGRAMME
    )
    assert waitlisted["position"] == 1

    # Bergen withdraws: its place goes to Sogndal, first on the wait-list.
    withdrawn = await app.accepted(
        "/withdrawals", {**_of("4601"), "reason": "Kommunestyret trakk søknaden"}, PROGRAMME
    )
    assert (withdrawn["previous_status"], withdrawn["reason"]) == (
        "admitted",
        "Kommunestyret trakk søknaden",
    )

    round_status = await app.get(f"/rounds/{ROUND}/status")
    totals = round_status["totals"]
    assert (
        totals["applied"],
        totals["admitted"],
        totals["withdrawn"],
        totals["waitlisted"],
        totals["declined"],
    ) == (2, 1, 1, 0, 0), totals
    (vestland,) = round_status["counties"]
    assert (vestland["county_number"], vestland["county_name"]) == ("46", "Vestland")
    county = await app.get(f"/rounds/{ROUND}/counties/46/status")
    assert (county["applied"], county["admitted"], county["withdrawn"]) == (2, 1, 1)
    sogndal = await app.status_of("4640")
    assert (sogndal["status"], sogndal["name"], sogndal["group_size"]) == ("admitted", "Sogndal", 2)
    # A withdrawal is its own fact, not a decision: the admission's decision stays on record.
    bergen = await app.get(f"/rounds/{ROUND}/municipalities/4601/status", PROGRAMME)
    assert (bergen["status"], bergen["withdrawal_reason"], bergen["decision_reason"]) == (
        "withdrawn",
        "Kommunestyret trakk søknaden",
        None,
    )
    assert "withdrawal_reason" not in await app.status_of("4601")  # an observer: no reasons

    # The public event stream: per municipality, in order, on one partition.
    events = await app.published(app.events)
    by_key: dict[bytes, list[str]] = defaultdict(list)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for record in events:
        by_key[record.key].append(short(headers_of(record)["ce_type"]))
        partitions[record.key].add(record.partition)
    assert by_key[b"4601"] == [
        "application-submitted.v1",
        "municipality-admitted.v1",
        "municipality-withdrawn.v1",
    ]
    assert by_key[b"4640"] == [
        "application-submitted.v1",
        "municipality-waitlisted.v1",
        "municipality-admitted.v1",
    ]
    assert by_key[b"membership"] == ["membership-changed.v1"]
    assert by_key[b"2030"] == ["round-opened.v1", "application-window-opened.v1"]
    assert all(len(found) == 1 for found in partitions.values()), dict(partitions)

    sogndal_events = [data_of(r) for r in events if r.key == b"4640"]
    assert sogndal_events[1]["position"] == 1
    promoted = sogndal_events[2]
    assert promoted["promoted_from_waitlist"] is True
    assert _same_group(promoted["group"], submitted["4640"]["group"])
    assert promoted["application_id"] == submitted["4640"]["application_id"]
    # The withdrawal and the promotion come from the one command.
    (withdrawal,) = [r for r in events if short(headers_of(r)["ce_type"]).endswith("withdrawn.v1")]
    promotion = [r for r in events if r.key == b"4640"][2]
    assert headers_of(promotion)["ce_causationid"] == headers_of(withdrawal)["ce_causationid"]

    # Public events carry ids, never contact data.
    everyone = [m for group in groups.values() for m in group]
    for record in events:
        raw = record.value + b"".join(v for _, v in record.headers or ())
        assert not EMAIL.search(raw), (headers_of(record)["ce_type"], record.value)
        for member in everyone:
            assert member["name"].encode() not in raw
            assert member["name"].split()[-1].encode() not in raw

    # The restricted contacts topic: one record per group member, keyed by person id.
    contacts = await app.published(app.contacts)
    assert {headers_of(r)["ce_type"] for r in contacts} == {ContactDetails.TYPE}
    expected = {
        ref["person_id"]: member
        for number, group in groups.items()
        for ref, member in zip(submitted[number]["group"], group, strict=True)
    }
    assert sorted(r.key.decode() for r in contacts) == sorted(expected)
    for record in contacts:
        details, member = data_of(record), expected[record.key.decode()]
        assert details["person_id"] == record.key.decode()
        assert (details["name"], details["email"], details["phone"]) == (
            member["name"],
            member["email"],
            member["phone"],
        )


def _same_group(one: list[dict[str, str]], other: list[dict[str, str]]) -> bool:
    """The same members in the same roles (the order of a group carries no meaning)."""
    return sorted(one, key=lambda m: m["person_id"]) == sorted(other, key=lambda m: m["person_id"])


def _of(municipality: str) -> dict[str, str]:
    return {"round_id": ROUND, "municipality_number": municipality}
