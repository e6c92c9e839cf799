"""Percentiles and rates, from plain lists of numbers and times."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks; `sorted_values` must be sorted."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


@dataclass(frozen=True)
class Distribution:
    """Latencies in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> Distribution:
        ordered = sorted(values_ms)
        if not ordered:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan)
        return cls(
            count=len(ordered),
            p50=percentile(ordered, 0.50),
            p95=percentile(ordered, 0.95),
            p99=percentile(ordered, 0.99),
            max=ordered[-1],
            mean=sum(ordered) / len(ordered),
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: _finite(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Rate:
    """How fast a stage completed its items.

    `overall`: items / (last completion - first start). `steady`: the middle 80 % of the
    completions over the time they took, which leaves out the start-up and the tail.
    """

    items: int
    seconds: float
    overall: float
    steady: float

    @classmethod
    def of(cls, starts: Sequence[float], completions: Sequence[float]) -> Rate:
        """`starts` and `completions` are epoch seconds; the rate is per second."""
        if not completions:
            return cls(0, math.nan, math.nan, math.nan)
        done = sorted(completions)
        seconds = done[-1] - (min(starts) if starts else done[0])
        overall = len(done) / seconds if seconds > 0 else math.nan
        steady = math.nan
        if len(done) >= 10:
            low, high = percentile(done, 0.1), percentile(done, 0.9)
            if high > low:
                steady = 0.8 * len(done) / (high - low)
        return cls(len(done), seconds, overall, steady)

    def as_dict(self) -> dict[str, Any]:
        return {k: _finite(v) for k, v in asdict(self).items()}


def _finite(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be had is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float):
        return round(value, 3)
    return value


def ratio(part: float | None, whole: float | None) -> float | None:
    if part is None or whole is None or not math.isfinite(part) or not whole:
        return None
    if not math.isfinite(whole):
        return None
    return round(part / whole, 4)
