"""Recognising the branch in a mail to the programme mailbox, without case or diacritics."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import Envelope

from services.registration.domain.inbound import read_mail, recognise_branch
from services.registration.entrypoints.inbound import InboundInterestHandler
from shared.reference import ReferenceData

pytestmark = pytest.mark.unit

REFERENCE = ReferenceData.load()


@pytest.mark.parametrize(
    ("text", "branch"),
    [
        ("Styret i Vestland melder interesse", "vestland"),
        ("Vestland fylkesavdeling", "vestland"),
        ("STYRET I TRONDELAG", "trondelag"),
        ("styret i møre og romsdal", "more-og-romsdal"),
        ("Troms, Finnmark og Svalbard fylkesavdeling", "troms-finnmark-og-svalbard"),
        ("Fra styret i Finnmark", "troms-finnmark-og-svalbard"),  # a county of the branch
        ("Viken fylkesavdeling", "oslo-og-viken"),  # a part of the branch's name
        ("Oslo og Viken: vi er med. Oslo kommune også.", "oslo-og-viken"),
    ],
)
def test_a_branch_is_recognised_however_it_is_written(text: str, branch: str) -> None:
    found = recognise_branch(REFERENCE, text)
    assert found.branch is not None and found.branch.id == branch


@pytest.mark.parametrize("text", ["Vi vil gjerne være med", "more information, please"])
def test_a_mail_naming_no_branch_is_not_guessed(text: str) -> None:
    assert recognise_branch(REFERENCE, text).branch is None


def test_two_branches_named_alike_are_left_to_a_person() -> None:
    found = recognise_branch(REFERENCE, "Vestland og Rogaland søker sammen")
    assert found.branch is None
    assert found.candidates == ("rogaland", "vestland")


def test_a_mail_is_read_from_its_html_part_when_it_has_no_text_part() -> None:
    message = EmailMessage()
    message["From"] = "Kari Nordmann <kari@example.no>"
    message["Subject"] = "SV: Fremtidens kulturskole, Regionale program"
    message.set_content("<p>Styret i <b>Agder</b> er interessert</p>", subtype="html")
    mail = read_mail(REFERENCE, "bounce@example.no", message.as_bytes())
    assert mail.sender_email == "kari@example.no" and mail.sender_name == "Kari Nordmann"
    assert mail.subject_as_asked
    assert mail.recognition.branch is not None and mail.recognition.branch.id == "agder"
    assert "<b>" not in mail.body


def test_a_broken_mail_is_kept_as_its_text() -> None:
    mail = read_mail(REFERENCE, "someone@example.no", b"\xff\xfe not a mail at all: Nordland")
    assert mail.sender_email == "someone@example.no"
    assert mail.recognition.branch is not None and mail.recognition.branch.id == "nordland"


class _DatabaseDown:
    async def fetchval(self, *args: object) -> object:
        raise OSError("connection refused")


async def test_a_mail_that_cannot_be_kept_is_refused_for_now_not_taken() -> None:
    handler = InboundInterestHandler(_DatabaseDown(), REFERENCE)  # type: ignore[arg-type]
    envelope = Envelope()
    envelope.mail_from = "kari@example.no"
    envelope.original_content = b"Subject: Fremtidens kulturskole\r\n\r\nStyret i Agder"
    answer = await handler.handle_DATA(None, None, envelope)  # type: ignore[arg-type]
    assert answer.startswith("451 ")  # the sending server tries again later
