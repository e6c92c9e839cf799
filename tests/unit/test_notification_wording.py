"""Every letter, in bokmål, nynorsk and English, as the handlers plan it: a greeting with a
name or none at all, places named (never a branch's id), numbers with the right plural, and
a deadline said once, as its last day."""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.notification.domain import messages as rules
from services.notification.domain.messages import (
    Board,
    Gathering,
    InvitationTarget,
    Member,
    Places,
    PlannedMail,
)
from services.notification.templates import LANGUAGES, Templates
from shared.reference import ReferenceData

pytestmark = pytest.mark.unit

REFERENCE = ReferenceData.load()
PLACES = Places(REFERENCE)
MAILBOX = "post@kulturskoleradet.no"
BOARD = Board("more-og-romsdal", "Møre og Romsdal", "board-person")
GROUP = [Member("kari", "kulturskole"), Member("ola", "grunnskole")]
NOW = "2027-11-20T09:00:00+00:00"
# A deadline of 1 December 2027 closes at midnight after it, in Oslo.
DEADLINE, CLOSES_AT = "2027-12-01", "2027-12-01T23:00:00+00:00"
SAID_BY = {
    "nb": "innen 1. desember 2027",
    "nn": "innan 1. desember 2027",
    "en": "by 1 December 2027",
}


def application(**more: Any) -> dict[str, Any]:
    return {
        "round_id": "2028",
        "municipality_number": "1508",  # Ålesund
        "county_number": "15",
        "branch_id": "more-og-romsdal",
        "decided_at": NOW,
        **more,
    }


def planned() -> list[PlannedMail]:
    """One of every letter there is, planned from events as the handlers plan them."""
    interest = {
        "registration_id": "r1",
        "round_id": "2028",
        "branch_id": "more-og-romsdal",
        "branch_name": "Møre og Romsdal",
        "county_numbers": ["15"],
        "municipality_numbers": ["1508", "1506"],
        "contact_person_id": "board-person",
        "message": "Styret vil delta.",
        "registered_at": NOW,
        "updated_at": NOW,
        "added_municipality_numbers": ["1506"],
        "removed_municipality_numbers": [],
    }
    gathering = Gathering(
        "g1",
        "2028",
        "more-og-romsdal",
        "samling",
        "Samling 1",
        "2028-02-10T08:00:00+00:00",
        "2028-02-10T15:00:00+00:00",
        0,
        {"name": "Parken kulturhus", "address": "Kongens gate 12, Ålesund"},
    )
    board_of = {"1508": BOARD}
    targets = [InvitationTarget("kari"), InvitationTarget(None, "1508", "municipality")]
    mails: list[PlannedMail] = [
        *rules.mails_for_interest_registered(interest, programme_mailbox=MAILBOX, places=PLACES),
        *rules.mails_for_interest_registered(
            interest, programme_mailbox=MAILBOX, places=PLACES, updated=True
        ),
        *rules.Handover("r1", "2028", "Møre og Romsdal", "old", "board-person").mails(
            name="Kari Nordmann", address="kari@example.no", language="nb"
        ),
        *rules.mails_for_round_opened(
            {"round_id": "2028", "interest_deadline": DEADLINE, "interest_closes_at": CLOSES_AT},
            boards=[BOARD],
            programme_mailbox=MAILBOX,
        ),
        *rules.mails_for_window_opened(
            {
                "round_id": "2028",
                "county_number": "15",
                "opens_on": "2027-10-20",
                "deadline": DEADLINE,
                "closes_at": CLOSES_AT,
            },
            board=BOARD,
            places=PLACES,
        ),
        *rules.mails_for_deadline_extended(
            {
                "round_id": "2028",
                "kind": "application",
                "county_number": "15",
                "previous_deadline": "2027-11-15",
                "new_deadline": DEADLINE,
                "closes_at": CLOSES_AT,
            },
            boards=[BOARD],
            places=PLACES,
        ),
        *rules.mails_for_application_submitted(
            application(
                development_areas=["Samskaping"],
                own_development_areas=["Lokal kulturarv"],
                themes=["medvirkning", "bærekraft"],
                submitted_at=NOW,
            ),
            board=BOARD,
            group=GROUP,
            programme_mailbox=MAILBOX,
            places=PLACES,
        ),
        *rules.mails_for_application_submitted(  # a board not known yet: named all the same
            application(submitted_at=NOW),
            board=None,
            group=GROUP,
            programme_mailbox=MAILBOX,
            places=PLACES,
        ),
    ]
    decisions: list[tuple[str, bool, dict[str, Any]]] = [
        ("admitted", True, {}),
        ("moved_up", True, {}),
        ("waitlisted", False, {"position": 1}),
        ("declined", False, {"reason": "Regionen er full."}),
        ("withdrawal_confirmed", True, {"reason": "Ny prioritering."}),
        ("revoked", True, {"reason": "Gruppen er oppløst."}),
    ]
    for template, whole_group, facts in decisions:
        mails += rules.mails_for_decision(
            template,
            application(),
            board=BOARD,
            group=GROUP,
            whole_group=whole_group,
            places=PLACES,
            **facts,
        )
    mails += rules.mails_for_member_added(
        {
            "round_id": "2028",
            "municipality_number": "1508",
            "county_number": "15",
            "person_id": "ny",
            "role": "barnehage",
        },
        board=BOARD,
        places=PLACES,
    )
    for template, method, facts in [
        ("gathering_invitation", "REQUEST", {}),
        ("gathering_changed", "REQUEST", {"previous_starts_at": NOW, "reason": "Ny sal."}),
        ("gathering_cancelled", "CANCEL", {"reason": "Sykdom."}),
        ("dialogue_meeting_scheduled", "REQUEST", {"municipality_name": "Ålesund"}),
        ("supervision_booked", "REQUEST", {"municipality_name": "Ålesund"}),
        ("reminder_gathering", "REQUEST", {"days_before": 1}),
        ("dialogue_meeting_invitation", "REQUEST", {"guest": False}),
        ("dialogue_meeting_invitation", "REQUEST", {"guest": True}),
        ("invitation_withdrawn", "CANCEL", {"municipality_name": "Ålesund"}),
    ]:
        mails += rules.mails_for_gathering(
            template, gathering, targets, board_of=board_of, method=method, places=PLACES, **facts
        )
    mails += rules.mails_for_supervisor(
        gathering, {"municipality_number": "1508", "supervisor_id": "s1"}, PLACES
    )
    mails += rules.mails_for_supervision_released(gathering, "s1", "1508", PLACES)
    mails += rules.mails_for_dialogue_requested(
        {
            "round_id": "2028",
            "region": "more-og-romsdal",
            "topic": "Hvordan kommunene deler erfaringer",
            "wished_dates": ["2027-10-07"],
            "requested_at": NOW,
            "request_id": "q1",
        },
        programme_mailbox=MAILBOX,
        places=PLACES,
    )
    mails += rules.mails_for_delingsarena_proposed(
        {
            "round_id": "2028",
            "region": "more-og-romsdal",
            "title": "Delingsarena i Ålesund",
            "description": "Kulturskolene viser fram arbeidet.",
            "wished_dates": ["2028-03-07"],
            "venue": {"name": "Parken kulturhus"},
            "proposed_at": NOW,
            "proposal_id": "p1",
        },
        programme_mailbox=MAILBOX,
        places=PLACES,
    )
    mails += rules.mails_for_delingsarena_arranged(
        gathering, programme_mailbox=MAILBOX, places=PLACES
    )
    mails += rules.mails_for_interim_work(
        {
            "round_id": "2028",
            "region": "more-og-romsdal",
            "title": "Kartlegging av samarbeidsparter",
            "description": "Kartlegg hvem kulturskolen samarbeider med.",
            "due_on": "2028-03-01",
            "recipients": [{"person_id": "kari", "municipality_number": "1508"}],
        },
        places=PLACES,
    )
    # The reminder worker's contexts (services/notification/reminders.py).
    mails += [
        rules.person(
            "board-person",
            "reminder_interest_deadline",
            {
                "days_before": 7,
                "round_id": "2028",
                "branch_name": "Møre og Romsdal",
                "deadline": DEADLINE,
                "closes_at": CLOSES_AT,
            },
        ),
        rules.person(
            "board-person",
            "reminder_application_deadline",
            {
                "days_before": 1,
                "round_id": "2028",
                "county_name": PLACES.county("15"),
                "branch_name": "Møre og Romsdal",
                "deadline": DEADLINE,
                "closes_at": CLOSES_AT,
                "municipalities": ["Ålesund"],
            },
        ),
    ]
    return mails


def as_sent(mail: PlannedMail) -> dict[str, Any]:
    """The context as the mailer completes it: a person's name; a mailbox has none."""
    name = "" if mail.recipient_key.startswith("mailbox:") else "Kari Nordmann"
    return {"recipient_name": name, "contact_name": "Kari Nordmann", **mail.context}


LETTERS = planned()
TEMPLATES = Templates()
BRANCH_IDS = sorted(REFERENCE.branches)


def test_every_letter_is_among_those_checked() -> None:
    assert {m.template for m in LETTERS} == set(TEMPLATES.names())


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_letter_reads_right(language: str) -> None:
    wrong: list[str] = []
    for mail in LETTERS:
        found = TEMPLATES.render_mail(mail.template, language, as_sent(mail))
        whole = f"{found.subject}\n{found.text}"
        where = f"{mail.template} ({mail.recipient_key}, {language})"
        if re.search(r"(?m)^(Hei|Dear|Hello)\s+,", whole) or " ," in whole:
            wrong.append(f"{where}: a greeting without a name")
        for branch_id in BRANCH_IDS:
            if re.search(rf"(?<![\w-]){re.escape(branch_id)}(?![\w-])", whole):
                wrong.append(f"{where}: the branch id {branch_id!r}")
        if re.search(r"\b\d{4} kommune|municipality of \d{4}", whole):
            wrong.append(f"{where}: a municipality by its number")
        if re.search(r"\b1 (plassene|plassane|places|kommunene|kommunane|municipalities)\b", whole):
            wrong.append(f"{where}: one with a plural")
        if "kl. 00:00" in whole or re.search(r"\d\d\.\d\d\.\d{4} \((innen|innan|by)", whole):
            wrong.append(f"{where}: a deadline said twice")
        if "deadline" in mail.template or mail.template in (
            "application_window_opened",
            "round_opened",
        ):
            if SAID_BY[language] not in found.text:
                wrong.append(f"{where}: no {SAID_BY[language]!r} in {found.text!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_mailbox_is_greeted_without_a_gap(language: str) -> None:
    [copy] = [m for m in LETTERS if m.template == "application_received" and m.context.get("copy")][
        :1
    ]
    text = TEMPLATES.render_mail(copy.template, language, as_sent(copy)).text
    assert text.splitlines()[0] == {"nb": "Hei,", "nn": "Hei,", "en": "Hello,"}[language]
