"""The demo (`make up`) follows the programme's calendar from the invitation, whatever day
it is loaded on: interest by 15 September, presamlinger in October and November,
application windows after the county annual meetings, the programme from January."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from shared.reference import ReferenceData

pytestmark = pytest.mark.unit
REPO_ROOT = Path(__file__).resolve().parents[2]


def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo", REPO_ROOT / "deploy/local/demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("demo", module)
    spec.loader.exec_module(module)
    return module


Calendar = demo().Calendar


@pytest.mark.parametrize(
    ("today", "round_id"),
    [
        (date(2026, 12, 6), "2028"),
        (date(2027, 1, 1), "2028"),
        (date(2027, 9, 15), "2028"),  # the deadline day itself still takes interest
        (date(2027, 9, 16), "2029"),
        (date(2028, 2, 29), "2029"),
    ],
)
def test_the_round_is_the_next_one_whose_interest_deadline_is_ahead(
    today: date, round_id: str
) -> None:
    found = Calendar.of(today)
    start = int(round_id)
    assert found.round_id == round_id
    assert found.interest_deadline == date(start - 1, 9, 15) >= today
    # Presamlinger in October and November, inside the pre-round, after the deadline.
    assert [(first.month, last.month) for first, last in found.presamlinger] == [(10, 10), (11, 11)]
    assert found.pre_round == (found.presamlinger[0][0], found.presamlinger[-1][1])
    assert found.interest_deadline < found.pre_round[0]
    # The windows after the annual meetings, closing before the programme starts in January.
    assert found.interest_deadline < found.window_opens < found.window_deadline
    assert found.window_deadline < found.semester_1[0]
    assert (found.semester_1[0].year, found.semester_1[0].month) == (start, 1)
    assert found.semester_1[0] < found.semester_1[1]


def test_every_board_hears_of_the_demo_round() -> None:
    module = demo()
    assert module.ROUND == module.CALENDAR.round_id
    assert set(module.BRANCH_CONTACTS) == set(ReferenceData.load().branches)
