"""The typed aggregates the registration rules decide on, and their own small rules."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.registration.domain.groups import MemberRole
from services.registration.domain.interest import InterestRegistration
from services.registration.domain.rounds import Round, RoundState
from shared.contracts.errors import Conflict
from shared.contracts.events.registration import GroupRole
from shared.contracts.events.registration import RoundState as PublishedRoundState

pytestmark = pytest.mark.unit


def a_round(state: RoundState) -> Round:
    return Round("2030", date(2029, 9, 15), {"vestland": 2}, state)


def test_round_states_are_the_published_ones() -> None:
    assert {s.value for s in RoundState} == {s.value for s in PublishedRoundState}


def test_capacity_of_a_region_without_a_limit_is_none() -> None:
    assert a_round(RoundState.OPEN).capacity("vestland") == 2
    assert a_round(RoundState.OPEN).capacity("agder") is None


@pytest.mark.parametrize(
    ("state", "intake", "takes"),
    [
        (RoundState.OPEN, True, True),
        (RoundState.CLOSED, False, True),
        (RoundState.CLOSED, True, False),
        (RoundState.CANCELLED, False, False),
    ],
)
def test_what_a_round_still_takes(state: RoundState, intake: bool, takes: bool) -> None:
    if takes:
        a_round(state).require_active(intake=intake)
    else:
        with pytest.raises(Conflict, match=f"round 2030 is {state.value}"):
            a_round(state).require_active(intake=intake)


def test_a_closed_round_cannot_be_closed_again() -> None:
    a_round(RoundState.OPEN).require_not_closed()
    with pytest.raises(Conflict, match="already closed"):
        a_round(RoundState.CLOSED).require_not_closed()


def test_registering_interest_again_adds_and_removes_municipalities() -> None:
    before = InterestRegistration(uuid.UUID(int=1), uuid.UUID(int=2), ("4601", "4640"))
    assert before.changes(["4640", "4602", "4601"]) == (["4602"], [])
    assert before.changes(["4650", "4601"]) == (["4650"], ["4640"])


def test_member_roles_are_the_published_ones() -> None:
    assert {r.value for r in MemberRole} == {r.value for r in GroupRole}
