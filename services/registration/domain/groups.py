"""The kommunegruppe: representatives of the kulturskole and its partners, all committed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from shared.contracts.errors import DomainError


class MemberRole(StrEnum):
    """The values of the published `GroupRole`, kept here so the domain needs no contracts."""

    KULTURSKOLE = "kulturskole"
    BARNEHAGE = "barnehage"
    SFO = "sfo"
    GRUNNSKOLE = "grunnskole"
    OTHER = "annen"  # other local actors


KULTURSKOLE = MemberRole.KULTURSKOLE
PARTNER_ROLES = frozenset(
    {MemberRole.BARNEHAGE, MemberRole.SFO, MemberRole.GRUNNSKOLE, MemberRole.OTHER}
)
MAX_GROUP = 30


class IncompleteGroup(DomainError):
    slug = "incomplete-group"


@dataclass(frozen=True)
class Member:
    """A member of the kommunegruppe; `person_id` once registered (when submitted)."""

    email: str
    role: MemberRole
    committed: bool
    person_id: UUID | None = None


def check_group(members: Sequence[Member]) -> None:
    """A group is complete with at least one kulturskole and one partner, all committed."""
    # (English, bokmål, nynorsk) for each thing missing.
    problems: list[tuple[str, str, str]] = []
    if not any(m.role == KULTURSKOLE for m in members):
        problems.append(
            (
                "at least one representative of the kulturskole",
                "minst én representant for kulturskolen",
                "minst éin representant for kulturskulen",
            )
        )
    if not any(m.role in PARTNER_ROLES for m in members):
        problems.append(
            (
                "at least one partner (barnehage, SFO, grunnskole or another local actor)",
                "minst én samarbeidspart (barnehage, SFO, grunnskole eller en annen lokal aktør)",
                "minst éin samarbeidspart (barnehage, SFO, grunnskule eller ein annan lokal aktør)",
            )
        )
    uncommitted = [m.email for m in members if not m.committed]
    if uncommitted:
        who = ", ".join(uncommitted)
        problems.append(
            (
                "every member's commitment to the gatherings and the work between them "
                f"(missing for {who})",
                f"at alle forplikter seg til samlingene og mellomarbeidet (mangler for {who})",
                f"at alle forpliktar seg til samlingane og mellomarbeidet (manglar for {who})",
            )
        )
    emails = [m.email.lower() for m in members]
    doubles = ", ".join(sorted({e for e in emails if emails.count(e) > 1}))
    if doubles:
        problems.append(
            (
                f"each person once (twice: {doubles})",
                f"hver person bare én gang (to ganger: {doubles})",
                f"kvar person berre éin gong (to gonger: {doubles})",
            )
        )
    if len(members) > MAX_GROUP:
        problems.append(
            (
                f"at most {MAX_GROUP} members",
                f"høyst {MAX_GROUP} medlemmer",
                f"høgst {MAX_GROUP} medlemmer",
            )
        )
    if problems:
        raise IncompleteGroup(
            "the kommunegruppe needs " + "; ".join(p[0] for p in problems),
            nb="Kommunegruppen trenger " + "; ".join(p[1] for p in problems) + ".",
            nn="Kommunegruppa treng " + "; ".join(p[2] for p in problems) + ".",
            field="group",
        )
