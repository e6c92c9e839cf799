"""Every letter, in bokmål, nynorsk and English, as the handlers plan it: a greeting with a
name or none at all, places named (never a branch's id), numbers with the right plural, and
a deadline said once, as its last day."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any

import pytest

from services.notification.domain import messages as rules
from services.notification.domain import reminders
from services.notification.domain.messages import (
    Board,
    Gathering,
    InvitationTarget,
    Member,
    Places,
    PlannedMail,
)
from services.notification.domain.reminders import ReminderKind
from services.notification.templates import LANGUAGES, Templates
from shared.contracts.events import registration as reg
from shared.contracts.events import scheduling as sched
from shared.reference import ReferenceData

pytestmark = pytest.mark.unit

REFERENCE = ReferenceData.load()
PLACES = Places(REFERENCE)
MAILBOX = "post@kulturskoleradet.no"
BOARD = Board("more-og-romsdal", "Møre og Romsdal", str(uuid.UUID(int=10)))
GROUP = [
    Member(str(uuid.UUID(int=11)), "kulturskole"),
    Member(str(uuid.UUID(int=12)), "grunnskole"),
]
NOW = "2027-11-20T09:00:00+00:00"
# A deadline of 1 December 2027 closes at midnight after it, in Oslo.
DEADLINE, CLOSES_AT = "2027-12-01", "2027-12-01T23:00:00+00:00"
SAID_BY = {
    "nb": "innen 1. desember 2027",
    "nn": "innan 1. desember 2027",
    "en": "by 1 December 2027",
}


KARI, OLA, NY = (str(uuid.UUID(int=n)) for n in (11, 12, 13))
BOARD_PERSON = BOARD.person_id
APPLICATION = {
    "application_id": uuid.UUID(int=21),
    "round_id": "2028",
    "municipality_number": "1508",  # Ålesund
    "county_number": "15",
    "branch_id": "more-og-romsdal",
    "decided_at": NOW,
}


def planned() -> list[PlannedMail]:
    """One of every letter there is, planned from events as the handlers plan them."""
    interest = {
        "registration_id": uuid.UUID(int=31),
        "round_id": "2028",
        "branch_id": "more-og-romsdal",
        "branch_name": "Møre og Romsdal",
        "county_numbers": ["15"],
        "municipality_numbers": ["1508", "1506"],
        "contact_person_id": BOARD_PERSON,
        "message": "Styret vil delta.",
        "registered_at": NOW,
        "updated_at": NOW,
        "added_municipality_numbers": ["1506"],
        "removed_municipality_numbers": [],
    }
    gathering = Gathering(
        str(uuid.UUID(int=41)),
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
    targets = [InvitationTarget(KARI), InvitationTarget(None, "1508", "municipality")]
    group = [reg.GroupMemberRef(person_id=m.person_id, role=m.role) for m in GROUP]
    submitted = {**APPLICATION, "development_areas": [], "group": group, "submitted_at": NOW}
    mails: list[PlannedMail] = [
        *rules.mails_for_interest_registered(
            reg.InterestRegistered.model_validate(interest),
            programme_mailbox=MAILBOX,
            places=PLACES,
        ),
        *rules.mails_for_interest_registered(
            reg.InterestUpdated.model_validate(interest), programme_mailbox=MAILBOX, places=PLACES
        ),
        *rules.Handover("r1", "2028", "Møre og Romsdal", "old", BOARD_PERSON).mails(
            name="Kari Nordmann", address="kari@example.no", language="nb"
        ),
        *rules.mails_for_round_opened(
            "2028", date.fromisoformat(DEADLINE), boards=[BOARD], programme_mailbox=MAILBOX
        ),
        *rules.mails_for_window_opened(
            reg.ApplicationWindowOpened(
                round_id="2028",
                county_number="15",
                opens_on=date(2027, 10, 20),
                deadline=date.fromisoformat(DEADLINE),
                closes_at=datetime.fromisoformat(CLOSES_AT),
            ),
            board=BOARD,
            places=PLACES,
        ),
        *rules.mails_for_deadline_extended(
            reg.DeadlineExtended(
                round_id="2028",
                kind=reg.DeadlineKind.APPLICATION,
                county_number="15",
                previous_deadline=date(2027, 11, 15),
                new_deadline=date.fromisoformat(DEADLINE),
                closes_at=datetime.fromisoformat(CLOSES_AT),
            ),
            boards=[BOARD],
            places=PLACES,
        ),
        *rules.mails_for_application_submitted(
            reg.ApplicationSubmitted.model_validate(
                {
                    **submitted,
                    "development_areas": ["Samskaping"],
                    "own_development_areas": ["Lokal kulturarv"],
                    "themes": ["medvirkning", "bærekraft"],
                }
            ),
            board=BOARD,
            group=GROUP,
            programme_mailbox=MAILBOX,
            places=PLACES,
        ),
        *rules.mails_for_application_submitted(  # a board not known yet: named all the same
            reg.ApplicationSubmitted.model_validate(submitted),
            board=None,
            group=GROUP,
            programme_mailbox=MAILBOX,
            places=PLACES,
        ),
    ]
    decisions: list[rules.Decision] = [
        reg.MunicipalityAdmitted.model_validate({**APPLICATION, "group": group}),
        reg.MunicipalityAdmitted.model_validate(
            {**APPLICATION, "group": group, "promoted_from_waitlist": True}
        ),
        reg.MunicipalityWaitlisted.model_validate({**APPLICATION, "position": 1}),
        reg.MunicipalityDeclined.model_validate({**APPLICATION, "reason": "Regionen er full."}),
        reg.MunicipalityWithdrawn.model_validate(
            {**APPLICATION, "previous_status": "admitted", "reason": "Ny prioritering."}
        ),
        reg.AdmissionRevoked.model_validate(
            {**APPLICATION, "reason": "Gruppen er oppløst.", "revoked_at": NOW}
        ),
    ]
    for decision in decisions:
        mails += rules.mails_for_decision(decision, board=BOARD, group=GROUP, places=PLACES)
    mails += rules.mails_for_member_added(
        reg.GroupMemberAdded(
            application_id=uuid.UUID(int=21),
            round_id="2028",
            municipality_number="1508",
            person_id=uuid.UUID(NY),
            role=reg.GroupRole("barnehage"),
            changed_at=datetime.fromisoformat(NOW),
        ),
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
    starts, ends = (datetime.fromisoformat(gathering.starts_at), datetime.fromisoformat(NOW))
    mails += rules.mails_for_supervisor(
        gathering,
        sched.SupervisionBooked(
            gathering_id=uuid.UUID(gathering.gathering_id),
            round_id="2028",
            region="more-og-romsdal",
            municipality_number="1508",
            supervisor_id="s1",
            starts_at=starts,
            ends_at=ends,
        ),
        PLACES,
    )
    mails += rules.mails_for_supervision_released(gathering, "s1", "1508", PLACES)
    mails += rules.mails_for_dialogue_requested(
        sched.DialogueMeetingRequested(
            request_id=uuid.UUID(int=51),
            round_id="2028",
            region="more-og-romsdal",
            topic="Hvordan kommunene deler erfaringer",
            wished_dates=[date(2027, 10, 7)],
            requested_at=datetime.fromisoformat(NOW),
        ),
        programme_mailbox=MAILBOX,
        places=PLACES,
    )
    mails += rules.mails_for_delingsarena_proposed(
        sched.DelingsarenaProposed.model_validate(
            {
                "proposal_id": uuid.UUID(int=52),
                "round_id": "2028",
                "region": "more-og-romsdal",
                "title": "Delingsarena i Ålesund",
                "description": "Kulturskolene viser fram arbeidet.",
                "wished_dates": ["2028-03-07"],
                "venue": {"name": "Parken kulturhus"},
                "proposed_at": NOW,
            }
        ),
        programme_mailbox=MAILBOX,
        places=PLACES,
    )
    mails += rules.mails_for_delingsarena_arranged(
        gathering, programme_mailbox=MAILBOX, places=PLACES
    )
    mails += rules.mails_for_interim_work(
        sched.InterimWorkSet.model_validate(
            {
                "interim_work_id": uuid.UUID(int=53),
                "round_id": "2028",
                "region": "more-og-romsdal",
                "after_gathering_id": gathering.gathering_id,
                "title": "Kartlegging av samarbeidsparter",
                "description": "Kartlegg hvem kulturskolen samarbeider med.",
                "due_on": "2028-03-01",
                "set_at": NOW,
                "municipality_numbers": ["1508"],
                "recipients": [
                    {"person_id": KARI, "municipality_number": "1508", "role": "kulturskole"}
                ],
            }
        ),
        places=PLACES,
    )
    # What a reminder plans when it falls due (services/notification/domain/reminders.py).
    deadline = reminders.Deadline(date.fromisoformat(DEADLINE), datetime.fromisoformat(CLOSES_AT))
    mails += reminders.interest_deadline_reminders(
        reminders.Due("1", ReminderKind.INTEREST_DEADLINE, "2028", 7),
        deadline,
        boards=[BOARD],
        registered=[],
    )
    mails += reminders.application_deadline_reminders(
        reminders.Due("2", ReminderKind.APPLICATION_DEADLINE, "2028:15", 1),
        deadline,
        board=BOARD,
        interest={BOARD.branch_id: ["1508"]},
        submitted=[],
        places=PLACES,
    )
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
