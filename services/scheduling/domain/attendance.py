"""The programme's own follow-up figure: how much of the programme each municipality attended.

The kommunegrupper commit to every gathering, so the rate counts every invitation of the
municipality (its members', or its own before it had a group) whose attendance is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    municipality_number: str
    recorded: int  # invitations whose attendance is recorded
    attended: int

    @property
    def rate(self) -> float | None:
        return round(self.attended / self.recorded, 4) if self.recorded else None


def attendance_rates(records: Iterable[tuple[str, bool]]) -> list[Rate]:
    """Per municipality, from (municipality number, attended) of each recorded invitation."""
    counts: dict[str, list[int]] = {}
    for municipality, attended in records:
        seen = counts.setdefault(municipality, [0, 0])
        seen[0] += 1
        seen[1] += attended
    return [Rate(m, recorded, attended) for m, (recorded, attended) in sorted(counts.items())]
