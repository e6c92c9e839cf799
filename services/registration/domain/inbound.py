"""Interest by e-mail, as the invitation asks: read a mail, recognise the branch. Pure.

The invitation tells boards to write to the programme mailbox with the subject "Fremtidens
kulturskole, Regionale program" and the branch's name in the text. People write "Styret i
Vestland", "Vestland fylkesavdeling", "Trondelag" without the ø, or name a county of the
branch ("Finnmark"): names are compared without case or diacritics, as whole words. A mail
that names no branch, or more than one, is kept all the same for a person to handle.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
import unicodedata
from dataclasses import dataclass, field
from email.message import EmailMessage

from services.registration.domain.reference import Branch, ReferenceData

SUBJECT = "Fremtidens kulturskole, Regionale program"
MAX_BODY = 20_000  # characters kept of a mail's text; the rest is cut


def normalise(text: str) -> str:
    """Lower case, æ/ø/å and other diacritics folded to ASCII, words separated by one space."""
    folded = text.casefold().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    ascii_text = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", ascii_text))


def _contains(haystack: str, needle: str) -> bool:
    return bool(needle) and f" {needle} " in f" {haystack} "


def _names(branch: Branch, reference: ReferenceData) -> tuple[set[str], set[str]]:
    """The branch's own name, and what else names it: its counties, and the longer parts of
    its name ("Viken", "Svalbard"; not short words that mean something else, like "more")."""
    own = {normalise(branch.name)}
    parts = re.split(r",| og ", branch.name)
    # A county's name may come with its Sami and Kven names: "Troms - Romsa - Tromssa".
    others = {
        normalise(name)
        for c in branch.county_numbers
        for name in reference.counties[c].split(" - ")
    }
    others |= {normalise(p) for p in parts if len(normalise(p)) >= 5}
    return own, others - own


@dataclass(frozen=True)
class Recognition:
    """The branch the text names (None if none or several), and every branch it named."""

    branch: Branch | None
    candidates: tuple[str, ...] = ()


def recognise_branch(reference: ReferenceData, text: str) -> Recognition:
    """A branch named by its own name wins; else one named by a county or a part of its name.
    Two branches named at the same level is for a person to decide."""
    words = normalise(text)
    by_name: list[Branch] = []
    by_other: list[Branch] = []
    for branch in sorted(reference.branches.values(), key=lambda b: b.id):
        own, others = _names(branch, reference)
        if any(_contains(words, n) for n in own):
            by_name.append(branch)
        elif any(_contains(words, n) for n in others):
            by_other.append(branch)
    for found in (by_name, by_other):
        if len(found) == 1:
            return Recognition(found[0], (found[0].id,))
        if found:
            return Recognition(None, tuple(b.id for b in found))
    return Recognition(None)


@dataclass(frozen=True)
class InboundMail:
    """What is kept of a mail: who sent it, its subject and text, and the branch it names."""

    mail_from: str
    sender_name: str
    sender_email: str
    subject: str
    body: str
    message_id: str | None
    recognition: Recognition = field(default_factory=lambda: Recognition(None))

    @property
    def subject_as_asked(self) -> bool:
        return normalise(SUBJECT) in normalise(self.subject)


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = str(part.get_content())
    if part.get_content_subtype() == "html":
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
        text = re.sub(r"<[^>]+>", " ", text)
    return text.strip()


def read_mail(reference: ReferenceData, mail_from: str, content: bytes) -> InboundMail:
    """Never raises: a mail that cannot be parsed is kept as the text it is, for a person."""
    subject, body, message_id, sender = "", "", None, ("", "")
    try:
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        subject = str(message.get("Subject", "") or "")
        message_id = str(message.get("Message-ID", "") or "").strip() or None
        sender = email.utils.parseaddr(str(message.get("From", "") or ""))
        body = _text_of(message)
    except Exception:  # a broken mail is still a mail someone sent us
        body = content.decode("utf-8", "replace")
    address = sender[1] or mail_from
    name = sender[0] or address.partition("@")[0]
    body = body[:MAX_BODY]
    return InboundMail(
        mail_from=mail_from,
        sender_name=name[:200],
        sender_email=address[:320],
        subject=subject[:500],
        body=body,
        message_id=message_id[:500] if message_id else None,
        recognition=recognise_branch(reference, f"{subject}\n{body}"),
    )
