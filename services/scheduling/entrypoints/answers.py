"""An invitee answers their own invitation from the signed link in the invitation mail.

The link is the credential (no bearer token): `GET /answers/{token}` shows the invitation
and a small form and changes nothing; `POST /answers/{token}` (the form: `response=yes|no|
maybe`) records the answer through the same handler as `POST /rsvps`, so capacity and every
other rule hold. The board sees the answers as before, in `GET /gatherings/{id}`.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.scheduling.adapters import queries as repo
from services.scheduling.domain.calendar import OSLO
from services.scheduling.handlers.context import Context
from shared.contracts.events.scheduling import RecordRsvp, Rsvp
from shared.runtime.answer_links import InvalidAnswerLink, verify
from shared.runtime.commands import REFUSALS
from shared.runtime.problems import Problem, texts
from shared.runtime.spec import RuntimeDep

router = APIRouter(responses=REFUSALS)

TEXTS: dict[str, dict[str, str]] = {
    "nb": {
        "title": "Svar på invitasjonen",
        "current": "Svaret ditt nå",
        "none": "ikke svart",
        "yes": "Ja, jeg kommer",
        "no": "Nei, jeg kommer ikke",
        "maybe": "Kanskje",
        "thanks": "Takk! Svaret ditt er registrert",
        "when": "Tid",
        "where": "Sted",
    },
    "nn": {
        "title": "Svar på invitasjonen",
        "current": "Svaret ditt no",
        "none": "ikkje svart",
        "yes": "Ja, eg kjem",
        "no": "Nei, eg kjem ikkje",
        "maybe": "Kanskje",
        "thanks": "Takk! Svaret ditt er registrert",
        "when": "Tid",
        "where": "Stad",
    },
    "en": {
        "title": "Answer the invitation",
        "current": "Your answer now",
        "none": "no answer yet",
        "yes": "Yes, I will come",
        "no": "No, I will not come",
        "maybe": "Maybe",
        "thanks": "Thank you! Your answer is recorded",
        "when": "When",
        "where": "Where",
    },
}
Lang = Annotated[str, Query(pattern="^(nb|nn|en)$")]


def _gone(nb: str, nn: str, en: str) -> Problem:
    return Problem("answer-link-unusable", texts(nb, nn, en), status=404)


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.runtime.extras["context"]
    return ctx


async def _invitation(request: Request, runtime: Any, token: str) -> tuple[Any, Any]:
    """The invitation the link names and its gathering, or a 404 that says why."""
    ctx = _ctx(request)
    try:
        invitation_id = verify(token, ctx.answer_secret, ctx.clock())
    except InvalidAnswerLink as error:
        raise _gone(
            "Denne svarlenken kan ikke brukes.",
            "Denne svarlenkja kan ikkje brukast.",
            f"this answer link cannot be used: {error}",
        ) from error
    invitation = await repo.invitation_by_id(runtime.pool, invitation_id)
    if invitation is None or not invitation["active"]:
        raise _gone(
            "Invitasjonen gjelder ikke lenger.",
            "Invitasjonen gjeld ikkje lenger.",
            "this invitation is no longer open",
        )
    gathering = await repo.get_gathering(runtime.pool, invitation["gathering_id"])
    if gathering is None or gathering["status"] == "cancelled":
        raise _gone("Samlingen er avlyst.", "Samlinga er avlyst.", "the gathering was cancelled")
    return invitation, gathering


def _page(
    token: str, invitation: Any, gathering: Any, lang: str, chosen: str | None, notice: str = ""
) -> HTMLResponse:
    t = TEXTS[lang]
    starts = gathering["starts_at"].astimezone(OSLO).strftime("%d.%m.%Y %H:%M")
    ends = gathering["ends_at"].astimezone(OSLO).strftime("%H:%M")
    venue = repo.venue_of(gathering)
    current = invitation["rsvp"]
    buttons = "".join(
        f'<button type="submit" name="response" value="{r.value}"'
        f"{' autofocus' if r.value == chosen else ''}>{escape(t[r.value])}</button> "
        for r in Rsvp
    )
    body = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(t['title'])}</title></head><body><main>"
        f"<h1>{escape(t['title'])}</h1>"
        + (f'<p role="status"><strong>{escape(notice)}</strong></p>' if notice else "")
        + f"<h2>{escape(gathering['title'])}</h2>"
        f"<p>{escape(t['when'])}: {starts}-{ends}</p>"
        f"<p>{escape(t['where'])}: {escape(str(venue.get('name', '')))}</p>"
        f"<p>{escape(t['current'])}: {escape(t[current] if current else t['none'])}</p>"
        f'<form method="post" action="/answers/{escape(token)}?lang={lang}">{buttons}</form>'
        "</main></body></html>"
    )
    return HTMLResponse(body)


@router.get("/answers/{token}", tags=["attendance"], response_class=HTMLResponse)
async def answer_form(
    token: str,
    request: Request,
    runtime: RuntimeDep,
    response: Annotated[Rsvp | None, Query()] = None,
    lang: Lang = "nb",
) -> HTMLResponse:
    """The invitation and a form to answer it (the signed link is the credential)."""
    invitation, gathering = await _invitation(request, runtime, token)
    return _page(token, invitation, gathering, lang, response.value if response else None)


@router.post("/answers/{token}", tags=["attendance"], response_class=HTMLResponse)
async def answer(
    token: str, request: Request, runtime: RuntimeDep, lang: Lang = "nb"
) -> HTMLResponse:
    """Record the answer of the form (`response=yes|no|maybe`, form-encoded)."""
    invitation, gathering = await _invitation(request, runtime, token)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    raw = (form.get("response") or request.query_params.getlist("response") or [""])[0]
    try:
        chosen = Rsvp(raw)
    except ValueError as error:
        raise Problem(
            "invalid-answer",
            texts(
                "Svaret må være ja, nei eller kanskje.",
                "Svaret må vere ja, nei eller kanskje.",
                "response must be yes, no or maybe",
            ),
            field="response",
        ) from error
    command = RecordRsvp(
        gathering_id=gathering["id"],
        region=gathering["region"],
        person_id=invitation["person_id"],
        municipality_number=None if invitation["person_id"] else invitation["municipality_number"],
        response=chosen,
    )
    # A refusal (a yes beyond capacity) is answered like any command's, in the caller's language.
    await runtime.command(command)
    invitation, gathering = await _invitation(request, runtime, token)
    return _page(token, invitation, gathering, lang, chosen.value, TEXTS[lang]["thanks"])
