"""Who each kind of gathering invites, and the idempotent comparison that keeps it so."""

from __future__ import annotations

import uuid

import pytest

from services.scheduling.domain.attendance import attendance_rates
from services.scheduling.domain.invitations import (
    Invitee,
    Member,
    RegionState,
    invitation_id,
    invitees,
    reconcile,
)
from shared.contracts.events.scheduling import GatheringKind, InviteeRole

pytestmark = pytest.mark.unit

BOARD = uuid.uuid4()
KARI, OLA, SIV = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
STATE = RegionState(
    region="vestland",
    interested=frozenset({"4601", "4640", "4627"}),
    board_contacts=frozenset({BOARD}),
    groups={
        "4601": [Member(KARI, InviteeRole.KULTURSKOLE), Member(OLA, InviteeRole.GRUNNSKOLE)],
        "4640": [Member(SIV, InviteeRole.BARNEHAGE)],
    },
)


def test_presamling_invites_interested_municipalities_and_the_board() -> None:
    found = invitees(GatheringKind.PRESAMLING, STATE)
    assert set(found) == {
        f"person:{BOARD}",
        "municipality:4601",
        "municipality:4640",
        "municipality:4627",
    }
    assert found[f"person:{BOARD}"].role is InviteeRole.COUNTY_BOARD
    assert found[f"person:{BOARD}"].branch_id == "vestland"


def test_samling_invites_every_member_of_every_admitted_group() -> None:
    found = invitees(GatheringKind.SAMLING, STATE)
    assert set(found) == {f"person:{KARI}", f"person:{OLA}", f"person:{SIV}"}
    assert found[f"person:{OLA}"].municipality_number == "4601"
    assert found[f"person:{OLA}"].role is InviteeRole.GRUNNSKOLE


def test_delingsarena_adds_the_board_and_dialogmote_is_the_board() -> None:
    assert set(invitees(GatheringKind.DELINGSARENA, STATE)) == {
        f"person:{BOARD}",
        f"person:{KARI}",
        f"person:{OLA}",
        f"person:{SIV}",
    }
    assert set(invitees(GatheringKind.DIALOGMOTE, STATE)) == {f"person:{BOARD}"}


def test_named_municipalities_come_with_their_group_or_as_themselves() -> None:
    found = invitees(GatheringKind.DIALOGMOTE, STATE, also_invite=["4640", "4627"])
    assert set(found) == {f"person:{BOARD}", f"person:{SIV}", "municipality:4627"}


def test_a_named_municipality_that_left_the_programme_is_invited_no_more() -> None:
    # Withdrawn: its group is gone from the region, and it is not invited as itself either.
    left = RegionState(
        region="vestland",
        board_contacts=frozenset({BOARD}),
        groups={"4640": STATE.groups["4640"]},
        left=frozenset({"4601"}),
    )
    found = invitees(GatheringKind.DIALOGMOTE, left, also_invite=["4601", "4640"])
    assert set(found) == {f"person:{BOARD}", f"person:{SIV}"}


def test_a_dialogmote_invites_its_guests_by_person_id_and_keeps_them_on_refresh() -> None:
    guest = uuid.uuid4()
    found = invitees(GatheringKind.DIALOGMOTE, STATE, guests=[guest])
    assert set(found) == {f"person:{BOARD}", f"person:{guest}"}
    assert found[f"person:{guest}"].role is InviteeRole.GUEST
    assert found[f"person:{guest}"].municipality_number is None
    # Refreshed after a registration event, the guest stays invited.
    assert not reconcile(found, found)


def test_veiledning_invites_only_its_municipalitys_group() -> None:
    found = invitees(GatheringKind.VEILEDNING, STATE, municipality="4601")
    assert set(found) == {f"person:{KARI}", f"person:{OLA}"}


def test_reconcile_issues_what_is_missing_and_withdraws_what_is_not_wanted() -> None:
    desired = invitees(GatheringKind.SAMLING, STATE)
    changes = reconcile(desired, [f"person:{KARI}", "person:gone"])
    assert {i.key for i in changes.issue} == {f"person:{OLA}", f"person:{SIV}"}
    assert changes.withdraw == ("person:gone",)


def test_reconcile_is_idempotent_once_in_line() -> None:
    desired = invitees(GatheringKind.SAMLING, STATE)
    assert not reconcile(desired, list(desired))


def test_a_withdrawn_municipality_loses_its_members_invitations() -> None:
    before = invitees(GatheringKind.SAMLING, STATE)
    without = RegionState(region="vestland", groups={"4640": STATE.groups["4640"]})
    changes = reconcile(invitees(GatheringKind.SAMLING, without), list(before))
    assert changes.withdraw == tuple(sorted([f"person:{KARI}", f"person:{OLA}"]))
    assert changes.issue == ()


def test_invitation_ids_are_stable_per_gathering_and_invitee() -> None:
    gathering = uuid.uuid4()
    key = Invitee.person(KARI, InviteeRole.KULTURSKOLE).key
    assert invitation_id(gathering, key) == invitation_id(gathering, key)
    assert invitation_id(gathering, key) != invitation_id(uuid.uuid4(), key)
    assert invitation_id(gathering, key) != invitation_id(gathering, "municipality:4601")


def test_attendance_rate_per_municipality() -> None:
    rates = attendance_rates(
        [("4601", True), ("4601", False), ("4601", True), ("4601", True), ("4640", False)]
    )
    assert [(r.municipality_number, r.recorded, r.attended, r.rate) for r in rates] == [
        ("4601", 4, 3, 0.75),
        ("4640", 1, 0, 0.0),
    ]
    assert attendance_rates([]) == []
