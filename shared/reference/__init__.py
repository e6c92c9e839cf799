"""Reference data: counties, municipalities (2024 structure) and Norsk kulturskoleråd's branches.

Public facts, not any service's state: registration checks interest and applications against
them, notification names municipalities and branches by them. The data ships here (see
SOURCE.md for where it comes from). The branch file is a default configuration: an operator
may point a service's `branches_csv` at another file.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Municipality:
    number: str
    name: str
    county_number: str


@dataclass(frozen=True)
class Branch:
    id: str
    name: str
    county_numbers: tuple[str, ...]


def slug(name: str) -> str:
    ascii_name = (
        unicodedata.normalize(
            "NFKD", name.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
        )
        .encode("ascii", "ignore")
        .decode()
    )
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")


@dataclass(frozen=True)
class ReferenceData:
    municipalities: dict[str, Municipality]
    counties: dict[str, str]
    branches: dict[str, Branch]

    @classmethod
    def load(
        cls,
        municipalities_csv: Path = REFERENCE_DIR / "kommuner-2024.csv",
        branches_csv: Path = REFERENCE_DIR / "fylkesavdelinger.csv",
    ) -> ReferenceData:
        municipalities: dict[str, Municipality] = {}
        counties: dict[str, str] = {}
        with municipalities_csv.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                municipalities[row["kommunenummer"]] = Municipality(
                    row["kommunenummer"], row["kommunenavn"], row["fylkesnummer"]
                )
                counties[row["fylkesnummer"]] = row["fylkesnavn"]
        grouped: dict[str, list[str]] = {}
        with branches_csv.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["fylkesnummer"] not in counties:
                    raise ValueError(
                        f"branch {row['avdeling']!r}: unknown county {row['fylkesnummer']}"
                    )
                grouped.setdefault(row["avdeling"], []).append(row["fylkesnummer"])
        branches = {slug(n): Branch(slug(n), n, tuple(sorted(c))) for n, c in grouped.items()}
        return cls(municipalities, counties, branches)

    def branch(self, name_or_id: str) -> Branch | None:
        return self.branches.get(slug(name_or_id))
