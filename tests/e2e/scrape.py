"""Reads a running service's `/metrics` as Prometheus would, for the tests that check them."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


class Scrape:
    """One scrape of `/metrics`: every sample, by name and labels."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples

    @classmethod
    async def of(cls, base_url: str) -> Scrape:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{base_url}/metrics")
        response.raise_for_status()
        return cls(
            [
                Sample(sample.name, dict(sample.labels), sample.value)
                for family in text_string_to_metric_families(response.text)
                for sample in family.samples
            ]
        )

    def select(self, name: str, **labels: str) -> list[Sample]:
        """The samples of `name` whose labels include `labels`."""
        return [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def total(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.select(name, **labels))
