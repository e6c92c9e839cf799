"""Presamlinger invite each municipality's named contact; answer links are signed and expire."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.registration.domain.interest import (
    ContactForUninterested,
    check_municipality_contacts,
)
from services.scheduling.domain.invitations import RegionState, invitees
from shared.contracts.events.scheduling import GatheringKind, InviteeRole
from shared.runtime.answer_links import InvalidAnswerLink, sign, verify

pytestmark = pytest.mark.unit

BOARD, KARI = uuid.uuid4(), uuid.uuid4()
STATE = RegionState(
    region="vestland",
    interested=frozenset({"4601", "4640"}),
    board_contacts=frozenset({BOARD}),
    municipality_contacts={"4601": KARI},
)
NOW = datetime(2030, 10, 1, 12, tzinfo=UTC)


def test_a_named_contact_is_invited_in_the_municipalitys_name_the_rest_as_themselves() -> None:
    found = invitees(GatheringKind.PRESAMLING, STATE)
    assert set(found) == {f"person:{BOARD}", f"person:{KARI}", "municipality:4640"}
    kari = found[f"person:{KARI}"]
    assert (kari.role, kari.municipality_number, kari.branch_id) == (
        InviteeRole.MUNICIPALITY,
        "4601",
        "vestland",
    )


def test_without_named_contacts_every_municipality_is_invited_as_such() -> None:
    found = invitees(GatheringKind.PRESAMLING, dataclasses.replace(STATE, municipality_contacts={}))
    assert set(found) == {f"person:{BOARD}", "municipality:4601", "municipality:4640"}


def test_a_samling_does_not_invite_the_presamling_contacts() -> None:
    assert invitees(GatheringKind.SAMLING, STATE) == {}


def test_an_answer_link_names_its_invitation_until_it_expires() -> None:
    invitation = uuid.uuid4()
    token = sign(invitation, NOW + timedelta(days=1), "s3cret")
    assert verify(token, "s3cret", NOW) == invitation
    with pytest.raises(InvalidAnswerLink, match="expired"):
        verify(token, "s3cret", NOW + timedelta(days=1))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("xx" if not t.endswith("xx") else "yy"),  # signature
        lambda t: uuid.uuid4().hex + t[32:],  # another invitation
        lambda t: t.replace(".", ".9", 1),  # a later expiry
        lambda t: "not-a-token",
        lambda t: "",
    ],
)
def test_an_altered_answer_link_is_refused(mangle: object) -> None:
    token = sign(uuid.uuid4(), NOW + timedelta(days=1), "s3cret")
    with pytest.raises(InvalidAnswerLink):
        verify(mangle(token), "s3cret", NOW)  # type: ignore[operator]


def test_an_answer_link_of_another_secret_or_none_is_refused() -> None:
    token = sign(uuid.uuid4(), NOW + timedelta(days=1), "s3cret")
    for secret in ("other", ""):
        with pytest.raises(InvalidAnswerLink):
            verify(token, secret, NOW)


def test_a_contact_is_named_only_for_an_interested_municipality_and_once() -> None:
    check_municipality_contacts(["4601"], ["4601", "4640"])
    with pytest.raises(ContactForUninterested, match="4627"):
        check_municipality_contacts(["4627"], ["4601"])
    with pytest.raises(ContactForUninterested, match="more than one"):
        check_municipality_contacts(["4601", "4601"], ["4601"])
