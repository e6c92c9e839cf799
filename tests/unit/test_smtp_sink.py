"""The local SMTP sink keeps what it received, also across a restart over many stored mails."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from shared.devtools.smtp_sink import MailStore

pytestmark = pytest.mark.unit


def mail(subject: str, body: str) -> bytes:
    message = EmailMessage()
    message["From"] = "noreply@kulturskoleradet.no"
    message["To"] = "kari@example.no"
    message["Subject"] = subject
    message.set_content(body)
    return message.as_bytes()


def test_a_restarted_sink_reads_what_it_stored_without_the_mails_themselves(
    tmp_path: Path,
) -> None:
    MailStore(tmp_path).add("noreply@kulturskoleradet.no", ["kari@example.no"], mail("Hei", "Æ"))
    # What a restarted sink answers from is what was parsed when the mail came in.
    for eml in tmp_path.glob("*.eml"):
        eml.write_bytes(b"")
    [found] = MailStore(tmp_path).messages(containing="Æ")
    assert (found["subject"], found["to"], found["envelope_to"]) == (
        "Hei",
        "kari@example.no",
        ["kari@example.no"],
    )


def test_mails_stored_by_an_older_sink_are_parsed_when_read(tmp_path: Path) -> None:
    (tmp_path / "00000000000000000001-abcdef01.json").write_text(
        json.dumps({"mail_from": "a@example.no", "rcpt_tos": ["b@example.no"]})
    )
    (tmp_path / "00000000000000000001-abcdef01.eml").write_bytes(mail("Gammal", "tekst"))
    [found] = MailStore(tmp_path).messages()
    assert (found["subject"], found["envelope_from"], found["text"]) == (
        "Gammal",
        "a@example.no",
        "tekst\n",
    )
