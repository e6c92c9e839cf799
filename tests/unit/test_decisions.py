"""Decisions on applications: which status changes are allowed, capacity and the wait-list."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from services.registration.domain.decisions import (
    Application,
    CapacityFull,
    NotAllowedNow,
    Region,
    Status,
    Waiting,
    check_decision,
    decide,
    first_in_line,
    require_capacity_holds,
    require_place,
    require_transition,
    withdraw,
)
from services.registration.domain.interest import DomainError
from shared.contracts.errors import Conflict
from shared.contracts.events.registration import MunicipalityAdmitted, MunicipalityWaitlisted

pytestmark = pytest.mark.unit
OSLO = ZoneInfo("Europe/Oslo")

STATUSES = ["draft", "submitted", "waitlisted", "admitted", "declined", "withdrawn"]
ALLOWED = {
    ("submitted", "admitted"),
    ("waitlisted", "admitted"),
    ("submitted", "waitlisted"),
    ("submitted", "declined"),
    ("waitlisted", "declined"),
    ("submitted", "withdrawn"),
    ("waitlisted", "withdrawn"),
    ("admitted", "withdrawn"),
}
TARGETS = ["admitted", "waitlisted", "declined", "withdrawn"]
REFUSED = [(c, t) for c in STATUSES for t in TARGETS if (c, t) not in ALLOWED]


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transitions(current: str, target: str) -> None:
    require_transition(current, target, "4601 Bergen")


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_refused_transitions_name_municipality_and_statuses(current: str, target: str) -> None:
    with pytest.raises(NotAllowedNow) as raised:
        require_transition(current, target, "4601 Bergen")

    message = str(raised.value)
    assert "4601 Bergen" in message
    assert current in message
    assert target in message


@pytest.mark.parametrize("current", ["draft", "declined", "withdrawn"])
def test_nothing_can_be_decided_from_draft_declined_or_withdrawn(current: str) -> None:
    for target in TARGETS:
        with pytest.raises(NotAllowedNow):
            require_transition(current, target, "0301 Oslo")


def test_not_allowed_now_is_a_domain_error() -> None:
    with pytest.raises(DomainError):
        require_transition("admitted", "waitlisted", "0301 Oslo")


# --- capacity -------------------------------------------------------------------------------


@pytest.mark.parametrize("admitted", [0, 5, 1000])
def test_no_capacity_is_never_full(admitted: int) -> None:
    require_place(None, admitted, "vestland")


def test_place_left_below_capacity() -> None:
    require_place(3, 2, "vestland")


@pytest.mark.parametrize("admitted", [3, 4])
def test_full_at_or_above_capacity(admitted: int) -> None:
    with pytest.raises(CapacityFull) as raised:
        require_place(3, admitted, "vestland")

    message = str(raised.value)
    assert "vestland" in message
    assert "3 places" in message
    assert "wait-list" in message


def test_zero_capacity_is_full_at_once() -> None:
    with pytest.raises(CapacityFull):
        require_place(0, 0, "agder")


@pytest.mark.parametrize(
    ("capacity", "en", "nb", "nn"),
    [
        (
            1,
            "region Rogaland has its one place taken",
            "Den ene plassen i regionen Rogaland er tatt",
            "Den eine plassen i regionen Rogaland er teken",
        ),
        (
            2,
            "region Rogaland has all its 2 places taken",
            "Alle 2 plassene i regionen Rogaland er tatt",
            "Alle 2 plassane i regionen Rogaland er tekne",
        ),
        (
            0,
            "region Rogaland has no places",
            "Regionen Rogaland har ingen plasser",
            "Regionen Rogaland har ingen plassar",
        ),
    ],
)
def test_a_full_region_is_named_and_its_places_counted_right(
    capacity: int, en: str, nb: str, nn: str
) -> None:
    with pytest.raises(CapacityFull) as raised:
        require_place(capacity, capacity, "Rogaland")
    said = raised.value
    assert en in str(said)
    assert (nb in said.nb, nn in said.nn) == (True, True), (said.nb, said.nn)


# --- wait-list -------------------------------------------------------------------------------


def test_first_in_line_is_the_lowest_sequence() -> None:
    waiting = [Waiting("4601", 7), Waiting("4602", 2), Waiting("4603", 5)]

    assert first_in_line(waiting) == Waiting("4602", 2)


def test_first_in_line_of_one() -> None:
    assert first_in_line([Waiting("0301", 1)]) == Waiting("0301", 1)


def test_first_in_line_of_empty_is_none() -> None:
    assert first_in_line([]) is None


# --- the whole check before a decision ---------------------------------------------------------

APP = Application(
    id=uuid.UUID(int=1),
    round_id="2030",
    municipality_number="4601",
    county_number="46",
    branch_id="vestland",
    status=Status.SUBMITTED,
)
DURING = datetime(2029, 9, 30, 23, 59, tzinfo=OSLO)
AFTER = datetime(2029, 10, 1, 0, 0, tzinfo=OSLO)  # Vestland's deadline 30.09 has passed


def test_a_decision_waits_for_the_county_window_to_close() -> None:
    deadline = date(2029, 9, 30)
    with pytest.raises(Conflict) as waiting:
        check_decision(
            APP, Status.ADMITTED, reason="", early_reason=None, window_deadline=deadline, now=DURING
        )
    assert (waiting.value.slug, waiting.value.field) == ("window-still-open", "early_reason")
    check_decision(
        APP, Status.ADMITTED, reason="", early_reason=None, window_deadline=deadline, now=AFTER
    )
    check_decision(
        APP,
        Status.ADMITTED,
        reason="",
        early_reason="Budsjett",
        window_deadline=deadline,
        now=DURING,
    )
    with pytest.raises(Conflict, match="no application window"):
        check_decision(
            APP, Status.ADMITTED, reason="", early_reason=None, window_deadline=None, now=AFTER
        )
    check_decision(
        APP, Status.ADMITTED, reason="", early_reason="Uten vindu", window_deadline=None, now=AFTER
    )


def test_a_decline_needs_a_reason_and_the_status_must_allow_it() -> None:
    for reason in ("", "  "):
        with pytest.raises(DomainError) as refused:
            check_decision(
                APP,
                Status.DECLINED,
                reason=reason,
                early_reason="x",
                window_deadline=None,
                now=AFTER,
            )
        assert refused.value.field == "reason"
    admitted = Application.of({**APP.__dict__, "status": "admitted"})
    with pytest.raises(NotAllowedNow):
        check_decision(
            admitted,
            Status.WAITLISTED,
            reason="",
            early_reason="x",
            window_deadline=None,
            now=AFTER,
        )


def test_only_an_admission_can_be_revoked() -> None:
    require_transition("admitted", Status.REVOKED, "4601 Bergen")
    for current in ("draft", "submitted", "waitlisted", "declined", "withdrawn", "revoked"):
        with pytest.raises(NotAllowedNow):
            require_transition(current, Status.REVOKED, "4601 Bergen")
    with pytest.raises(NotAllowedNow):
        require_transition("revoked", Status.ADMITTED, "4601 Bergen")


def test_capacity_cannot_go_under_the_admitted() -> None:
    require_capacity_holds(2, 2, "vestland")
    with pytest.raises(Conflict) as refused:
        require_capacity_holds(1, 2, "vestland")
    assert refused.value.field == "capacity_per_branch"


def submitted_application() -> Application:
    return Application(
        id=uuid.UUID(int=7),
        round_id="2030",
        municipality_number="4601",
        county_number="46",
        branch_id="vestland",
        status=Status.SUBMITTED,
        submitted_at=datetime(2029, 9, 2, 10, 0, tzinfo=OSLO),
    )


def test_a_decision_returns_the_application_as_decided_and_its_event() -> None:
    now = datetime(2029, 10, 1, 9, 0, tzinfo=OSLO)
    app = submitted_application()
    common = {
        "reason": "",
        "early_reason": None,
        "window_deadline": date(2029, 9, 30),
        "capacity": 1,
        "region_name": "Vestland",
        "group": (),
        "now": now,
        "by": "Kari",
        "name": "Bergen",
    }
    waiting = Region(admitted=1, waiting=(Waiting("4640", 3),))
    waitlisted, (event,) = decide(app, Status.WAITLISTED, region=waiting, **common)
    assert (waitlisted.status, waitlisted.decided_by, waitlisted.decided_at) == (
        Status.WAITLISTED,
        "Kari",
        now,
    )
    assert isinstance(event, MunicipalityWaitlisted) and event.position == 2  # last in line
    assert app.status is Status.SUBMITTED  # the application read is left as it was
    with pytest.raises(CapacityFull):
        decide(app, Status.ADMITTED, region=Region(admitted=1), **common)
    admitted, (event,) = decide(app, Status.ADMITTED, region=Region(admitted=0), **common)
    assert isinstance(event, MunicipalityAdmitted) and admitted.status is Status.ADMITTED


def test_a_withdrawal_keeps_the_decision_and_leaves_the_wait_list() -> None:
    now = datetime(2029, 10, 2, 9, 0, tzinfo=OSLO)
    app = replace(
        submitted_application(),
        status=Status.WAITLISTED,
        decided_by="Kari",
        decided_at=now,
        waitlist_sequence=4,
    )
    withdrawn, (event,) = withdraw(app, reason="Ny gruppe", now=now, by="Styret", name="Bergen")
    assert (withdrawn.status, withdrawn.waitlist_sequence) == (Status.WITHDRAWN, None)
    assert (withdrawn.decided_by, withdrawn.withdrawn_by) == ("Kari", "Styret")
    assert (event.previous_status, event.reason) == ("waitlisted", "Ny gruppe")
    with pytest.raises(NotAllowedNow):
        withdraw(withdrawn, reason="", now=now, by=None, name="Bergen")
