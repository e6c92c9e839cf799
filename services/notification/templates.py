"""Mail texts from Jinja2 templates in bokmål (the default), nynorsk and English.

Each mail is one template per language, `<lang>/<name>.j2`, rendered once for its subject
(`part == "subject"`) and once for its body. The body is plain text written in paragraphs
(a blank line between them, `- ` before list items); the HTML part is that same text laid
out by `_layout.html.j2`, with every value escaped. So the two parts never say different
things, and a template author writes the letter once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound

OSLO = ZoneInfo("Europe/Oslo")
DEFAULT_LANGUAGE = "nb"
LANGUAGES = ("nb", "nn", "en")
EN_DASH = "\u2013"
FOLDER = Path(__file__).parent / "templates"


def oslo_time(value: str | datetime) -> str:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(OSLO).strftime("%d.%m.%Y kl. %H:%M")


def oslo_clock(value: str | datetime) -> str:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(OSLO).strftime("%H:%M")


def day(value: str | date | datetime) -> str:
    """A date as Norwegians write it: 15.09.2025 (a datetime: its day in Oslo)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(OSLO).date()
    return value.strftime("%d.%m.%Y")


MONTHS = {
    "nb": "januar februar mars april mai juni juli august september oktober november desember",
    "en": "January February March April May June July August September October November December",
}
MONTHS["nn"] = MONTHS["nb"]  # the same names in nynorsk


def long_day(value: str | date | datetime, language: str = DEFAULT_LANGUAGE) -> str:
    """A deadline as a letter says it: '1. desember 2027' (nb, nn), '1 December 2027' (en).

    A deadline is its last day (Europe/Oslo): a date is written as it is; an instant is the
    moment it closes (midnight after the last day), so the day that ends there."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = (value.astimezone(OSLO) - timedelta(microseconds=1)).date()
    month = MONTHS.get(language, MONTHS[DEFAULT_LANGUAGE]).split()[value.month - 1]
    if language == "en":
        return f"{value.day} {month} {value.year}"
    return f"{value.day}. {month} {value.year}"


def span(starts: str | datetime, ends: str | datetime) -> str:
    """'01.10.2025 kl. 10:00-15:00' (with an en dash), or both days in full when it lasts
    past midnight."""
    if day(starts) == day(ends):
        return f"{oslo_time(starts)}{EN_DASH}{oslo_clock(ends)}"
    return f"{oslo_time(starts)} {EN_DASH} {oslo_time(ends)}"


KIND_NAMES = {
    "nb": {
        "presamling": "Presamling",
        "samling": "Samling",
        "dialogmote": "Dialogmøte",
        "veiledning": "Veiledning",
        "delingsarena": "Delingsarena",
    },
    "nn": {
        "presamling": "Presamling",
        "samling": "Samling",
        "dialogmote": "Dialogmøte",
        "veiledning": "Rettleiing",
        "delingsarena": "Delingsarena",
    },
    "en": {
        "presamling": "Pre-gathering",
        "samling": "Gathering",
        "dialogmote": "Dialogue meeting",
        "veiledning": "Supervision",
        "delingsarena": "Sharing arena",
    },
}


def kind_name(kind: str, language: str) -> str:
    return KIND_NAMES.get(language, KIND_NAMES[DEFAULT_LANGUAGE]).get(kind, kind)


def listing(values: list[str], last: str = "og") -> str:
    """ "Bergen, Voss og Odda": the way a letter lists names."""
    items = [str(v) for v in values]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Block:
    """A paragraph (its lines) or a list (its items) of a plain-text body."""

    kind: str  # "p" or "ul"
    lines: tuple[str, ...]


def blocks(text: str) -> list[Block]:
    found = []
    for chunk in text.strip("\n").split("\n\n"):
        lines = [line for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        if all(line.startswith("- ") for line in lines):
            found.append(Block("ul", tuple(line[2:] for line in lines)))
        else:
            found.append(Block("p", tuple(lines)))
    return found


def _body_and_subject(template: Template, values: dict[str, Any]) -> tuple[str, str]:
    """The letter's body, then its subject block in the same context: one context and one
    pass through the layouts instead of a `render` for each (about 20 µs a mail of 45;
    docs/performance.md, thirteenth round). As `Template.render` does, an error is raised
    with the template's own lines in its traceback."""
    context = template.new_context({**values, "part": "body"})
    try:
        body = "".join(template.root_render_func(context))
        subject = "".join(context.blocks["subject"][0](context))
    except Exception:
        template.environment.handle_exception()
    return body, subject


class Templates:
    def __init__(self, folder: Path = FOLDER) -> None:
        self.env = Environment(
            loader=FileSystemLoader(folder),
            undefined=StrictUndefined,  # a missing value is a bug, not an empty gap in a letter
            autoescape=False,  # plain text; the HTML layout escapes for itself
            keep_trailing_newline=True,
            # Templates ship with the code: no stat() of the file on every mail.
            auto_reload=False,
        )
        self.html_env = Environment(
            loader=FileSystemLoader(folder),
            undefined=StrictUndefined,
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        for env in (self.env, self.html_env):
            env.filters.update(
                oslo_time=oslo_time,
                oslo_clock=oslo_clock,
                day=day,
                long_day=long_day,
                span=span,
                listing=listing,
                kind_name=kind_name,
            )
        self.folder = folder

    def names(self) -> list[str]:
        """Every mail there is a bokmål template for."""
        return sorted(
            p.name.removesuffix(".j2")
            for p in (self.folder / DEFAULT_LANGUAGE).glob("*.j2")
            if not p.name.startswith("_")
        )

    def render_mail(self, template: str, language: str, context: dict[str, Any]) -> Rendered:
        """Subject, plain text and HTML; bokmål where a language lacks the template."""
        lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
        for candidate in (lang, DEFAULT_LANGUAGE):
            try:
                found = self.env.get_template(f"{candidate}/{template}.j2")
            except TemplateNotFound:
                continue
            body, subject = _body_and_subject(found, {**context, "language": candidate})
            # Optional lines leave blank runs behind: one blank line between paragraphs.
            text = _BLANK_RUNS.sub("\n\n", body.strip("\n")) + "\n"
            html = self.html_env.get_template("_layout.html.j2").render(
                language=candidate, subject=subject.strip(), blocks=blocks(text)
            )
            return Rendered(" ".join(subject.split()), text, html)
        raise LookupError(f"no template {template!r} in {language!r} or {DEFAULT_LANGUAGE!r}")

    def render(self, template: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
        """Subject and plain-text body."""
        found = self.render_mail(template, language, context)
        return found.subject, found.text
