"""Development areas (utviklingsområder): a branch adopts its own for a round, and its
municipalities' applications pick from them, beside areas of their own."""

from __future__ import annotations

from collections.abc import Iterable

from shared.contracts.errors import DomainError


def tidy(areas: Iterable[str]) -> list[str]:
    """As written, without surrounding space or a repeat (letter case aside), in order."""
    seen: dict[str, str] = {}
    for area in areas:
        text = " ".join(area.split())
        if text:
            seen.setdefault(text.casefold(), text)
    return list(seen.values())


def pick(picked: Iterable[str], adopted: list[str] | None, branch_name: str) -> list[str]:
    """The picked areas in the branch's own words. While the branch has adopted none, any
    area stands; otherwise one it has not adopted is refused (it may go among the
    application's own)."""
    chosen = tidy(picked)
    if not adopted:
        return chosen
    by_key = {area.casefold(): area for area in adopted}
    unknown = [area for area in chosen if area.casefold() not in by_key]
    if unknown:
        listed = ", ".join(adopted)
        raise DomainError(
            f"{', '.join(unknown)} is not among the development areas {branch_name} has "
            f"adopted ({listed}); name it under own_development_areas instead",
            nb=f"{', '.join(unknown)} er ikke blant utviklingsområdene {branch_name} har vedtatt "
            f"({listed}); før det heller opp som eget utviklingsområde.",
            nn=f"{', '.join(unknown)} er ikkje blant utviklingsområda {branch_name} har vedteke "
            f"({listed}); før det heller opp som eige utviklingsområde.",
            field="development_areas",
        )
    return [by_key[area.casefold()] for area in chosen]
