"""The kommunegruppe: representatives of the kulturskole and its partners, all committed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.registration.domain.interest import DomainError

KULTURSKOLE = "kulturskole"
PARTNER_ROLES = frozenset({"barnehage", "sfo", "grunnskole", "annen"})
MAX_GROUP = 30


class IncompleteGroup(DomainError):
    pass


@dataclass(frozen=True)
class Member:
    email: str
    role: str
    committed: bool


def check_group(members: Sequence[Member]) -> None:
    """A group is complete with at least one kulturskole and one partner, all committed."""
    problems = []
    if not any(m.role == KULTURSKOLE for m in members):
        problems.append("at least one representative of the kulturskole")
    if not any(m.role in PARTNER_ROLES for m in members):
        problems.append("at least one partner (barnehage, SFO, grunnskole or another local actor)")
    uncommitted = [m.email for m in members if not m.committed]
    if uncommitted:
        problems.append(
            "every member's commitment to the gatherings and the work between them "
            f"(missing for {', '.join(uncommitted)})"
        )
    emails = [m.email.lower() for m in members]
    doubles = sorted({e for e in emails if emails.count(e) > 1})
    if doubles:
        problems.append(f"each person once (twice: {', '.join(doubles)})")
    if len(members) > MAX_GROUP:
        problems.append(f"at most {MAX_GROUP} members")
    if problems:
        raise IncompleteGroup("the kommunegruppe needs " + "; ".join(problems))
