"""Who may send which command: programme management plans; a county board asks for dialogue
meetings and records RSVPs and attendance in its own region; observers only read."""

from __future__ import annotations

from typing import Any

from services.scheduling.handlers.context import Context
from shared.auth import Principal, parse_tokens, require_branch, require_programme


def tokens(raw: str, ctx: Context) -> dict[str, Principal]:
    """The bearer tokens of the settings; a board names its region by id or name."""

    def region_id(name_or_id: str) -> str | None:
        found = ctx.regions.get(name_or_id)
        return found.id if found else None

    return parse_tokens(raw, region_id)


def programme(principal: Principal, command: Any, ctx: Context) -> None:
    require_programme(principal)


def region_board(principal: Principal, command: Any, ctx: Context) -> None:
    """Programme management, or the board of the command's region."""
    require_branch(principal, ctx.region(command.region).id)
