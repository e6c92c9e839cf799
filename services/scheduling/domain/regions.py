"""The regions of the programme calendar: county branches and the counties they cover."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    county_numbers: tuple[str, ...]


@dataclass(frozen=True)
class Regions:
    by_id: dict[str, Region]

    @classmethod
    def load(cls, path: Path = REFERENCE_DIR / "regions.csv") -> Regions:
        grouped: dict[str, tuple[str, list[str]]] = {}
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                _, counties = grouped.setdefault(row["region_id"], (row["avdeling"], []))
                counties.append(row["fylkesnummer"])
        return cls({rid: Region(rid, name, tuple(sorted(c))) for rid, (name, c) in grouped.items()})

    def get(self, id_or_name: str) -> Region | None:
        """By id, or by name as people write it ('Vestland', 'vestland')."""
        wanted = id_or_name.strip().casefold()
        for region in self.by_id.values():
            if wanted in (region.id, region.name.casefold()):
                return region
        return None
