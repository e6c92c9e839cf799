"""Which mails an interest registration causes, and what they say in nb, nn and en."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from jinja2 import UndefinedError
from pydantic import ValidationError

from services.notification.domain.messages import (
    PROGRAMME_SUBJECT,
    Places,
    PlannedMail,
    mails_for_interest_registered,
)
from services.notification.templates import Templates, oslo_time
from shared.contracts.events.registration import InterestRegistered
from shared.reference import ReferenceData

pytestmark = pytest.mark.unit

MAILBOX = "regionaleprogram@kulturskoleradet.no"
PLACES = Places(ReferenceData.load())
PERSON_ID = uuid.UUID("0b7e1c2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b")
REGISTRATION_ID = uuid.UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")


def facts(**changes: Any) -> dict[str, Any]:
    """An InterestRegistered event's properties."""
    fields: dict[str, Any] = {
        "registration_id": REGISTRATION_ID,
        "round_id": "2025",
        "branch_id": "vestland",
        "branch_name": "Vestland",
        "county_numbers": ["46"],
        "municipality_numbers": ["4601", "4602"],
        "contact_person_id": PERSON_ID,
        "message": "Vi gler oss til samarbeidet.",
        "registered_at": datetime(2024, 9, 15, 21, 59, tzinfo=UTC),
    }
    fields.update(changes)
    return fields


def event(**changes: Any) -> InterestRegistered:
    """The event as the notification handler gets it: its typed model."""
    return InterestRegistered.model_validate(facts(**changes))


def planned(**changes: Any) -> list[PlannedMail]:
    return mails_for_interest_registered(event(**changes), programme_mailbox=MAILBOX, places=PLACES)


def receipt_context(**changes: Any) -> dict[str, Any]:
    return {**planned(**changes)[0].context, "recipient_name": "Kari Nordmann"}


def copy_context(**changes: Any) -> dict[str, Any]:
    # The contact's name is looked up when the mail is sent, like the recipient's.
    return {**planned(**changes)[1].context, "contact_name": "Kari Nordmann"}


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates()


# --- planned mails ----------------------------------------------------------------------------


def test_interest_registered_plans_receipt_and_programme_copy() -> None:
    receipt, copy = planned()

    assert receipt == PlannedMail(
        recipient_key=f"person:{PERSON_ID}",
        template="interest_receipt",
        context=receipt.context,
        person_id=str(PERSON_ID),
    )
    assert receipt.address is None
    assert receipt.language is None  # the contact's own language

    assert copy.recipient_key == f"mailbox:{MAILBOX}"
    assert copy.template == "interest_programme_copy"
    assert copy.address == MAILBOX
    assert copy.language == "nb"
    assert copy.person_id is None
    assert copy.reply_to_person_id == str(PERSON_ID)  # the copy answers to the contact


def test_planned_mails_carry_the_event_facts() -> None:
    receipt, copy = planned()
    expected = {
        "branch_name": "Vestland",
        "round_id": "2025",
        "municipality_numbers": ["4601", "4602"],
        "municipalities": ["Bergen", "Kinn"],
        "county_numbers": ["46"],
        "counties": ["Vestland"],
        "message": "Vi gler oss til samarbeidet.",
        "registered_at": "2024-09-15T21:59:00Z",
        "registration_id": str(REGISTRATION_ID),
    }
    assert receipt.context == expected
    assert copy.context == expected
    # No personal data in the stored context: the name is looked up at send time.
    assert "recipient_name" not in receipt.context


def test_an_event_without_a_fact_a_letter_needs_is_refused_before_anything_is_planned() -> None:
    incomplete = facts()
    del incomplete["branch_name"]
    with pytest.raises(ValidationError, match="branch_name"):
        InterestRegistered.model_validate(incomplete)


# --- programme copy ---------------------------------------------------------------------------


def test_programme_copy_subject_and_body(templates: Templates) -> None:
    copy = planned()[1]

    subject, body = templates.render(copy.template, copy.language or "nb", copy_context())

    assert subject == "Fremtidens kulturskole, Regionale program" == PROGRAMME_SUBJECT
    assert "Fylkesavdeling: Vestland" in body
    assert "Kontaktperson: Kari Nordmann" in body
    assert "oppstart 2025" in body
    assert "Fylker: Vestland" in body
    assert "Interesserte medlemskommuner: Bergen og Kinn" in body  # by name, not number
    assert "4601" not in body
    assert "Registrert: 15.09.2024 kl. 23:59" in body
    assert f"Registrerings-id: {REGISTRATION_ID}" in body
    assert "Melding fra fylkesavdelingen:\nVi gler oss til samarbeidet." in body


def test_programme_copy_without_municipalities_or_message(templates: Templates) -> None:
    copy = planned(municipality_numbers=[], message="")[1]
    context = {**copy.context, "contact_name": "Kari Nordmann"}
    _, body = templates.render(copy.template, "nb", context)
    assert "Ingen enkeltkommuner er meldt ennå." in body
    assert "medlemskommuner" not in body
    assert "Melding fra fylkesavdelingen" not in body


@pytest.mark.parametrize("language", ["nn", "en"])
def test_programme_copy_keeps_the_invitations_subject_in_every_language(
    templates: Templates, language: str
) -> None:
    copy = planned()[1]
    assert copy.language == "nb"  # the programme mailbox reads bokmål
    subject, body = templates.render(copy.template, language, copy_context())
    assert subject == PROGRAMME_SUBJECT  # a proper noun, the same in every language
    assert "Kari Nordmann" in body and "Vestland" in body


# --- receipt ---------------------------------------------------------------------------------


DASH = "\u2013"  # the en dash the subjects use
RECEIPT_MARKERS = {
    "nb": ("Vennlig hilsen", f"Kvittering: interesse for Fremtidens kulturskole {DASH} Vestland"),
    "nn": ("Venleg helsing", f"Kvittering: interesse for Fremtidens kulturskole {DASH} Vestland"),
    "en": ("Kind regards", f"Receipt: interest in Fremtidens kulturskole {DASH} Vestland"),
}


@pytest.mark.parametrize("language", ["nb", "nn", "en"])
def test_receipt_in_each_language(templates: Templates, language: str) -> None:
    greeting, expected_subject = RECEIPT_MARKERS[language]

    subject, body = templates.render("interest_receipt", language, receipt_context())

    assert subject == expected_subject
    assert "Kari Nordmann" in body
    assert "Vestland" in body
    assert "2025" in body
    assert "Bergen" in body and "Kinn" in body
    assert greeting in body
    for other, (other_greeting, _) in RECEIPT_MARKERS.items():
        if other != language:
            assert other_greeting not in body
    assert body.endswith("Norsk kulturskoleråd\n")


def test_receipt_names_municipalities(templates: Templates) -> None:
    _, nb = templates.render("interest_receipt", "nb", receipt_context())
    _, en = templates.render("interest_receipt", "en", receipt_context())
    assert "Kommuner: Bergen og Kinn" in nb
    assert "Municipalities: Bergen and Kinn" in en


def test_receipt_texts_differ_per_language(templates: Templates) -> None:
    rendered = {
        lang: templates.render("interest_receipt", lang, receipt_context())
        for lang in RECEIPT_MARKERS
    }
    # Bokmål and nynorsk write this subject alike: "Kvittering", "interesse" and the
    # programme's name are the same words in both.
    assert rendered["nb"][0] == rendered["nn"][0] != rendered["en"][0]
    assert len({body for _, body in rendered.values()}) == 3


def test_receipt_greets_recipient_by_name(templates: Templates) -> None:
    _, nb = templates.render("interest_receipt", "nb", receipt_context())
    _, en = templates.render("interest_receipt", "en", receipt_context())
    assert nb.startswith("Hei Kari Nordmann,\n")
    assert en.startswith("Dear Kari Nordmann,\n")


def test_receipt_registered_time_is_oslo_time(templates: Templates) -> None:
    context = receipt_context(registered_at=datetime(2024, 1, 5, 22, 59, tzinfo=UTC))
    _, body = templates.render("interest_receipt", "nn", context)
    assert "Registrert: 05.01.2024 kl. 23:59" in body


def test_receipt_without_municipalities(templates: Templates) -> None:
    context = receipt_context(municipality_numbers=[])
    _, nb = templates.render("interest_receipt", "nb", context)
    _, nn = templates.render("interest_receipt", "nn", context)
    _, en = templates.render("interest_receipt", "en", context)
    assert "Ingen enkeltkommuner er meldt ennå." in nb
    assert "Ingen einskildkommunar er melde enno." in nn
    assert "No individual municipalities have been named yet." in en


@pytest.mark.parametrize("language", ["de", "se", "", "../nb"])
def test_unknown_language_falls_back_to_bokmaal(templates: Templates, language: str) -> None:
    assert templates.render("interest_receipt", language, receipt_context()) == templates.render(
        "interest_receipt", "nb", receipt_context()
    )


def test_missing_context_value_raises(templates: Templates) -> None:
    context = receipt_context()
    del context["recipient_name"]
    with pytest.raises(UndefinedError, match="recipient_name"):
        templates.render("interest_receipt", "nb", context)


def test_missing_value_in_programme_copy_raises(templates: Templates) -> None:
    context = {k: v for k, v in copy_context().items() if k != "registration_id"}
    with pytest.raises(UndefinedError, match="registration_id"):
        templates.render("interest_programme_copy", "nb", context)


def test_unknown_template_raises_lookup_error(templates: Templates) -> None:
    with pytest.raises(LookupError, match="no_such_mail"):
        templates.render("no_such_mail", "en", receipt_context())


# --- oslo_time --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "oslo"),
    [
        ("2024-09-15T21:59:00+00:00", "15.09.2024 kl. 23:59"),  # CEST, UTC+2
        ("2024-01-05T22:59:00+00:00", "05.01.2024 kl. 23:59"),  # CET, UTC+1
        ("2024-12-31T23:30:00Z", "01.01.2025 kl. 00:30"),  # across the new year
        ("2024-03-31T00:59:00+00:00", "31.03.2024 kl. 01:59"),  # last minute of CET
        ("2024-03-31T01:00:00+00:00", "31.03.2024 kl. 03:00"),  # clocks go forward
        ("2024-10-27T00:30:00+00:00", "27.10.2024 kl. 02:30"),  # first 02:30, CEST
        ("2024-10-27T01:30:00+00:00", "27.10.2024 kl. 02:30"),  # second 02:30, CET
    ],
)
def test_oslo_time_across_dst(utc: str, oslo: str) -> None:
    assert oslo_time(utc) == oslo


def test_oslo_time_takes_datetime_in_any_zone() -> None:
    new_york = timezone(timedelta(hours=-4))
    assert oslo_time(datetime(2024, 9, 15, 17, 59, tzinfo=new_york)) == "15.09.2024 kl. 23:59"
    assert oslo_time(datetime(2024, 1, 5, 22, 59, tzinfo=UTC)) == "05.01.2024 kl. 23:59"
