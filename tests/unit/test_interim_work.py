"""Mellomarbeid: when it may be due, and each municipality's state."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from services.scheduling.domain.interim_work import (
    InterimStatus,
    is_late,
    require_after_samling,
    status_of,
)
from shared.contracts.errors import DomainError

pytestmark = pytest.mark.unit

OSLO = ZoneInfo("Europe/Oslo")
ENDS = datetime(2030, 2, 5, 16, tzinfo=OSLO)
DUE = date(2030, 3, 1)


def test_work_follows_a_samling_that_takes_place_and_is_due_after_it() -> None:
    require_after_samling("samling", "scheduled", ENDS, DUE)
    with pytest.raises(DomainError, match="follows a samling"):
        require_after_samling("presamling", "scheduled", ENDS, DUE)
    with pytest.raises(DomainError, match="cancelled"):
        require_after_samling("samling", "cancelled", ENDS, DUE)
    with pytest.raises(DomainError, match="must be after"):
        require_after_samling("samling", "scheduled", ENDS, date(2030, 2, 5))


def test_the_due_day_lasts_to_its_end_in_oslo() -> None:
    assert not is_late(DUE, datetime(2030, 3, 1, 23, 59, tzinfo=OSLO))
    assert is_late(DUE, datetime(2030, 3, 2, 0, 0, tzinfo=OSLO))


def test_done_not_done_or_overdue() -> None:
    before = datetime(2030, 2, 20, 12, tzinfo=OSLO)
    after = datetime(2030, 3, 5, 12, tzinfo=OSLO)
    assert status_of(DUE, None, before) is InterimStatus.NOT_DONE
    assert status_of(DUE, None, after) is InterimStatus.OVERDUE
    assert status_of(DUE, after, after) is InterimStatus.DONE  # late, but done
