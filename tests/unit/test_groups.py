"""The kommunegruppe: a kulturskole and at least one partner, every member committed."""

from __future__ import annotations

import pytest

from services.registration.domain.groups import IncompleteGroup, Member, check_group
from services.registration.domain.interest import DomainError

pytestmark = pytest.mark.unit


def member(email: str, role: str, committed: bool = True) -> Member:
    return Member(email=email, role=role, committed=committed)


KULTURSKOLE = member("rektor@kulturskole.no", "kulturskole")


@pytest.mark.parametrize("partner_role", ["barnehage", "sfo", "grunnskole", "annen"])
def test_one_kulturskole_and_one_partner_is_complete(partner_role: str) -> None:
    check_group([KULTURSKOLE, member("partner@kommune.no", partner_role)])


def test_a_full_group_of_30_is_complete() -> None:
    group = [KULTURSKOLE] + [member(f"p{i}@kommune.no", "grunnskole") for i in range(29)]

    check_group(group)


def test_no_kulturskole_is_refused() -> None:
    with pytest.raises(IncompleteGroup) as raised:
        check_group([member("a@kommune.no", "barnehage"), member("b@kommune.no", "sfo")])

    assert "kulturskole" in str(raised.value)


def test_incomplete_group_is_a_domain_error() -> None:
    with pytest.raises(DomainError):
        check_group([])


def test_no_partner_is_refused() -> None:
    with pytest.raises(IncompleteGroup) as raised:
        check_group([KULTURSKOLE, member("laerer@kulturskole.no", "kulturskole")])

    message = str(raised.value)
    assert "partner" in message
    assert "representative of the kulturskole" not in message  # that part is fine


def test_uncommitted_member_is_refused_and_named() -> None:
    with pytest.raises(IncompleteGroup) as raised:
        check_group([KULTURSKOLE, member("styrer@barnehage.no", "barnehage", committed=False)])

    message = str(raised.value)
    assert "styrer@barnehage.no" in message
    assert "commitment" in message
    assert "rektor@kulturskole.no" not in message


@pytest.mark.parametrize("second", ["rektor@kulturskole.no", "Rektor@Kulturskole.NO"])
def test_the_same_email_twice_is_refused_whatever_the_case(second: str) -> None:
    group = [KULTURSKOLE, member(second, "grunnskole"), member("b@kommune.no", "sfo")]

    with pytest.raises(IncompleteGroup) as raised:
        check_group(group)

    message = str(raised.value)
    assert "rektor@kulturskole.no" in message.lower()
    assert "once" in message


def test_more_than_30_members_is_refused() -> None:
    group = [KULTURSKOLE] + [member(f"p{i}@kommune.no", "grunnskole") for i in range(30)]
    assert len(group) == 31

    with pytest.raises(IncompleteGroup) as raised:
        check_group(group)

    assert "30" in str(raised.value)


def test_several_problems_are_reported_together() -> None:
    group = [
        member("a@kommune.no", "barnehage", committed=False),
        member("A@kommune.no", "sfo"),
    ]

    with pytest.raises(IncompleteGroup) as raised:
        check_group(group)

    message = str(raised.value)
    assert "kulturskole" in message  # missing kulturskole
    assert "commitment" in message and "a@kommune.no" in message  # uncommitted
    assert "once" in message  # the same person twice
    assert message.count(";") >= 2


def test_empty_group_lacks_both_kulturskole_and_partner() -> None:
    with pytest.raises(IncompleteGroup) as raised:
        check_group([])

    message = str(raised.value)
    assert "kulturskole" in message
    assert "partner" in message
