"""How many municipalities are admitted to Fremtidens kulturskole, per round and region.

A projection of the registration service's public events, built from the published contracts
alone: `municipality-admitted.v1` adds a municipality to its region (the county branch that
applied for it), `municipality-withdrawn.v1` takes it out again. Every other type on the topic
is skipped, so types added later never break it.

The state is a set of municipalities per (round, region), so an event that comes twice (Kafka
delivers at least once, and a replay sends events again with their ce_id) changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

ADMITTED = "no.kulturskoleradet.registration.municipality-admitted.v1"
WITHDRAWN = "no.kulturskoleradet.registration.municipality-withdrawn.v1"
HANDLED = (ADMITTED, WITHDRAWN)


class InvalidEvent(ValueError):
    """The event's data does not meet its published schema."""


class Schemas:
    """The published JSON Schemas of the types this consumer handles, one file per ce_type."""

    def __init__(self, directory: Path) -> None:
        self._validators = {
            ce_type: Draft202012Validator(
                json.loads((directory / f"{ce_type}.json").read_text(encoding="utf-8"))
            )
            for ce_type in HANDLED
        }

    def check(self, ce_type: str, data: Any) -> Mapping[str, Any]:
        # The schemas leave additional properties open: a property added to a published
        # version later passes, as a tolerant reader wants.
        errors = sorted(self._validators[ce_type].iter_errors(data), key=str)
        if errors:
            raise InvalidEvent(f"{ce_type}: {errors[0].message}")
        assert isinstance(data, Mapping)
        return data


class AdmissionsByRegion:
    def __init__(self) -> None:
        self._admitted: dict[tuple[str, str], set[str]] = {}

    def apply(self, ce_type: str, data: Mapping[str, Any]) -> bool:
        """Apply one event; True if the counts changed."""
        where = (data["round_id"], data["branch_id"])
        municipalities = self._admitted.setdefault(where, set())
        before = len(municipalities)
        if ce_type == ADMITTED:
            municipalities.add(data["municipality_number"])
        elif ce_type == WITHDRAWN:
            municipalities.discard(data["municipality_number"])
        return len(municipalities) != before

    def counts(self) -> dict[str, dict[str, int]]:
        """{round: {region: admitted municipalities}}, regions without any left out."""
        found: dict[str, dict[str, int]] = {}
        for (round_id, region), municipalities in sorted(self._admitted.items()):
            if municipalities:
                found.setdefault(round_id, {})[region] = len(municipalities)
        return found
