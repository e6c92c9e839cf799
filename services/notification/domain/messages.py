"""Which mails an event causes. Pure functions: the handler stores what they return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROGRAMME_SUBJECT = "Fremtidens kulturskole, Regionale program"


@dataclass(frozen=True)
class PlannedMail:
    recipient_key: str
    template: str
    context: dict[str, Any]
    person_id: str | None = None
    address: str | None = None
    language: str | None = None  # None: the recipient's own


def mails_for_interest_registered(
    event: dict[str, Any], *, programme_mailbox: str
) -> list[PlannedMail]:
    """A receipt to the branch's contact, and a copy to the programme mailbox."""
    context = {
        "branch_name": event["branch_name"],
        "round_id": event["round_id"],
        "municipality_numbers": event["municipality_numbers"],
        "county_numbers": event["county_numbers"],
        "message": event["message"],
        "registered_at": event["registered_at"],
        "registration_id": event["registration_id"],
    }
    person = event["contact_person_id"]
    return [
        PlannedMail(f"person:{person}", "interest_receipt", context, person_id=person),
        PlannedMail(
            f"mailbox:{programme_mailbox}",
            "interest_programme_copy",
            context,
            address=programme_mailbox,
            language="nb",
        ),
    ]
