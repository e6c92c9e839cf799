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
    event: dict[str, Any], *, programme_mailbox: str, updated: bool = False
) -> list[PlannedMail]:
    """A receipt to the branch's contact, and a copy to the programme mailbox.

    For an update (`interest-updated`) the same two, saying it is an update.
    """
    kind = "interest_updated" if updated else "interest"
    context = {
        "branch_name": event["branch_name"],
        "round_id": event["round_id"],
        "municipality_numbers": event["municipality_numbers"],
        "county_numbers": event["county_numbers"],
        "message": event["message"],
        "registered_at": event["updated_at"] if updated else event["registered_at"],
        "registration_id": event["registration_id"],
    }
    person = event["contact_person_id"]
    return [
        PlannedMail(f"person:{person}", f"{kind}_receipt", context, person_id=person),
        PlannedMail(
            f"mailbox:{programme_mailbox}",
            f"{kind}_programme_copy",
            context,
            address=programme_mailbox,
            language="nb",
        ),
    ]
