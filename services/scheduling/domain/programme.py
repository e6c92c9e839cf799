"""The programme's shape: two presamlinger in the October and November before the round,
six samlinger over the three semesters (two each). A gathering that breaks it is refused,
unless programme management gives a reason to make the exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.contracts.errors import DomainError

PRESAMLINGER = 2
SAMLINGER = 6
SAMLINGER_PER_SEMESTER = 2
PRESAMLING_MONTHS = (10, 11)


@dataclass(frozen=True)
class Planned:
    """A gathering of the round in the region, as the shape counts it (not cancelled)."""

    kind: str
    semester: int | None


def shape_breaches(
    *,
    kind: str,
    round_id: str,
    local_start: datetime,
    semester: int | None,
    planned: Sequence[Planned],
) -> list[DomainError]:
    """What in the programme's shape the new gathering would break (nothing: empty)."""
    found: list[DomainError] = []
    if kind == "presamling":
        before = int(round_id) - 1
        if local_start.month not in PRESAMLING_MONTHS or local_start.year != before:
            found.append(
                DomainError(
                    f"presamlinger are held in October and November {before}, before round "
                    f"{round_id} starts; {local_start:%d.%m.%Y} is not",
                    nb=f"Presamlinger holdes i oktober og november {before}, før runde "
                    f"{round_id} begynner; {local_start:%d.%m.%Y} er utenfor.",
                    nn=f"Presamlingar vert haldne i oktober og november {before}, før runde "
                    f"{round_id} byrjar; {local_start:%d.%m.%Y} er utanfor.",
                    field="starts_at",
                    slug="presamling-outside-autumn",
                )
            )
        if semester not in (None, 0):
            found.append(
                DomainError(
                    "a presamling belongs to the pre-round (semester 0)",
                    nb="En presamling hører til førrunden (semester 0).",
                    nn="Ei presamling høyrer til førrunden (semester 0).",
                    field="semester",
                    slug="wrong-semester",
                )
            )
        if sum(1 for p in planned if p.kind == "presamling") >= PRESAMLINGER:
            found.append(
                DomainError(
                    f"round {round_id} has its {PRESAMLINGER} presamlinger in the region already",
                    nb=f"Runde {round_id} har allerede sine {PRESAMLINGER} presamlinger i regionen.",
                    nn=f"Runde {round_id} har alt dei {PRESAMLINGER} presamlingane sine i regionen.",
                    field="kind",
                    slug="too-many-presamlinger",
                )
            )
    elif kind == "samling":
        if semester == 0:
            found.append(
                DomainError(
                    "samlinger are held in semesters 1 to 3; semester 0 is the pre-round",
                    nb="Samlinger holdes i semester 1 til 3; semester 0 er førrunden.",
                    nn="Samlingar vert haldne i semester 1 til 3; semester 0 er førrunden.",
                    field="semester",
                    slug="wrong-semester",
                )
            )
        samlinger = [p for p in planned if p.kind == "samling"]
        if len(samlinger) >= SAMLINGER:
            found.append(
                DomainError(
                    f"round {round_id} has its {SAMLINGER} samlinger in the region already",
                    nb=f"Runde {round_id} har allerede sine {SAMLINGER} samlinger i regionen.",
                    nn=f"Runde {round_id} har alt dei {SAMLINGER} samlingane sine i regionen.",
                    field="kind",
                    slug="too-many-samlinger",
                )
            )
        elif (
            semester
            and sum(1 for p in samlinger if p.semester == semester) >= SAMLINGER_PER_SEMESTER
        ):
            found.append(
                DomainError(
                    f"semester {semester} has its {SAMLINGER_PER_SEMESTER} samlinger already "
                    f"(six over three semesters)",
                    nb=f"Semester {semester} har allerede sine {SAMLINGER_PER_SEMESTER} samlinger "
                    "(seks over tre semestre).",
                    nn=f"Semester {semester} har alt dei {SAMLINGER_PER_SEMESTER} samlingane sine "
                    "(seks over tre semester).",
                    field="semester",
                    slug="too-many-samlinger",
                )
            )
    return found
