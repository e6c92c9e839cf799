"""The programme's shape: two presamlinger in the autumn before the round, six samlinger."""

from __future__ import annotations

from datetime import datetime

import pytest

from services.scheduling.domain.calendar import OSLO
from services.scheduling.domain.programme import Planned, shape_breaches

pytestmark = pytest.mark.unit


def breaches(kind: str, day: str, semester: int | None = None, *planned: Planned) -> list[str]:
    start = datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=OSLO)
    found = shape_breaches(
        kind=kind, round_id="2030", local_start=start, semester=semester, planned=list(planned)
    )
    return [b.slug for b in found]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2029-10-01", []),
        ("2029-11-30", []),
        ("2029-09-30", ["presamling-outside-autumn"]),
        ("2029-12-01", ["presamling-outside-autumn"]),
        ("2030-10-15", ["presamling-outside-autumn"]),  # the autumn of the round, not before
    ],
)
def test_presamlinger_are_in_october_and_november_before_the_round(
    day: str, expected: list[str]
) -> None:
    assert breaches("presamling", day) == expected


def test_two_presamlinger_and_six_samlinger_two_a_semester() -> None:
    two = [Planned("presamling", 0)] * 2
    assert breaches("presamling", "2029-11-10", 0, *two) == ["too-many-presamlinger"]
    assert breaches("presamling", "2029-11-10", 1) == ["wrong-semester"]
    six = [Planned("samling", n // 2 + 1) for n in range(6)]
    assert breaches("samling", "2030-03-10", None, *six[:5]) == []
    assert breaches("samling", "2030-03-10", None, *six) == ["too-many-samlinger"]
    assert breaches("samling", "2030-03-10", 1, *six[:2]) == ["too-many-samlinger"]
    assert breaches("samling", "2030-03-10", 2, *six[:2]) == []
    assert breaches("samling", "2030-03-10", 0) == ["wrong-semester"]
    # A cancelled gathering is not counted (the caller leaves it out); other kinds are free.
    assert breaches("delingsarena", "2030-07-01", None, *six) == []


def test_each_breach_is_said_in_three_languages_with_its_field() -> None:
    start = datetime(2029, 8, 1, 10, tzinfo=OSLO)
    [found] = shape_breaches(
        kind="presamling", round_id="2030", local_start=start, semester=None, planned=[]
    )
    assert found.field == "starts_at"
    assert found.nb == (
        "Presamlinger holdes i oktober og november 2029, før runde 2030 begynner; "
        "01.08.2029 er utenfor."
    )
    assert found.nn is not None and "Presamlingar" in found.nn
    assert "October and November 2029" in found.en
