"""Mail texts from Jinja2 templates: bokmål by default, nynorsk and English where written."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

OSLO = ZoneInfo("Europe/Oslo")
DEFAULT_LANGUAGE = "nb"
LANGUAGES = ("nb", "nn", "en")


def oslo_time(value: str | datetime) -> str:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(OSLO).strftime("%d.%m.%Y kl. %H:%M")


class Templates:
    def __init__(self, folder: Path = Path(__file__).parent / "templates") -> None:
        self.env = Environment(
            loader=FileSystemLoader(folder),
            undefined=StrictUndefined,  # a missing value is a bug, not an empty gap in a letter
            autoescape=False,
            keep_trailing_newline=True,
        )
        self.env.filters["oslo_time"] = oslo_time

    def render(self, template: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
        """Subject and plain-text body; falls back to bokmål where a language lacks it."""
        for lang in (language, DEFAULT_LANGUAGE):
            try:
                subject = self.env.get_template(f"{lang}/{template}.subject.j2").render(context)
                body = self.env.get_template(f"{lang}/{template}.txt.j2").render(context)
            except TemplateNotFound:
                continue
            return subject.strip(), body
        raise LookupError(f"no template {template!r} in {language!r} or {DEFAULT_LANGUAGE!r}")
