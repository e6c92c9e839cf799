"""HTTP routes of the notification service, for programme management (bearer tokens):
the delivery log, template previews in each language, opt-out of reminders, supervisors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from services.notification.adapters import repository as repo
from services.notification.templates import LANGUAGES, Templates
from shared.runtime.auth import Principal, PrincipalDep, require_programme
from shared.runtime.commands import READ_REFUSALS, REFUSALS
from shared.runtime.spec import RuntimeDep

TEMPLATES = Templates()


def programme(principal: PrincipalDep) -> Principal:
    """Programme management only: the log names who was told what."""
    require_programme(principal)
    return principal


Programme = Annotated[Principal, Depends(programme)]
# Every route may refuse a caller, a path or a parameter: say so in the OpenAPI document.
router = APIRouter(tags=["notification"], responses=READ_REFUSALS)
BODY: dict[int | str, dict[str, Any]] = {400: REFUSALS[400]}  # a body that is not JSON

Status = Annotated[str, StringConstraints(pattern="^(pending|sending|sent|failed|cancelled)$")]


@router.get("/deliveries")
async def list_deliveries(
    runtime: RuntimeDep,
    _: Programme,
    status: Status | None = None,
    template: str | None = Query(default=None, max_length=100),
    person_id: UUID | None = None,
    event_id: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """The delivery log, newest first, filtered; no addresses (a mailbox shows as its kind,
    error texts are redacted)."""
    return await repo.delivery_log(
        runtime.pool,
        status=status,
        template=template,
        person_id=person_id,
        event_id=event_id,
        limit=limit,
    )


# --- previews ---------------------------------------------------------------------------------

_NOW = datetime(2025, 9, 1, 10, 0, tzinfo=UTC)
SAMPLE: dict[str, Any] = {
    "recipient_name": "Kari Nordmann",
    "contact_name": "Kari Nordmann",
    "branch_name": "Vestland",
    "round_id": "2025",
    "municipality_numbers": ["4601", "4621"],
    "municipalities": ["Bergen", "Voss"],
    "county_numbers": ["46"],
    "counties": ["Vestland"],
    "message": "Vi gleder oss til samarbeidet.",
    "registered_at": _NOW.isoformat(),
    "registration_id": "00000000-0000-4000-8000-000000000001",
    "county_name": "Vestland",
    "opens_on": "2025-10-15",
    "deadline": "2025-11-15",
    "closes_at": "2025-11-15T22:59:00+00:00",
    "kind": "samling",
    "previous_deadline": "2025-11-01",
    "new_deadline": "2025-11-15",
    "municipality_number": "4601",
    "municipality_name": "Bergen",
    "development_areas": ["Inkludering", "Samskaping"],
    "own_development_areas": ["Lokal kulturarv"],
    "themes": ["medvirkning", "bærekraft"],
    "group_size": 4,
    "submitted_at": _NOW.isoformat(),
    "decided_at": _NOW.isoformat(),
    "to_board": True,
    "position": 2,
    "reason": "Regionen har ikke flere plasser i denne runden.",
    "role": "kulturskole",
    "gathering_id": "00000000-0000-4000-8000-000000000002",
    "region_name": "Vestland",
    "title": "Samling 1",
    "starts_at": (_NOW + timedelta(days=30)).isoformat(),
    "ends_at": (_NOW + timedelta(days=30, hours=6)).isoformat(),
    "previous_starts_at": (_NOW + timedelta(days=23)).isoformat(),
    "venue_name": "Grieghallen",
    "venue_address": "Edvard Griegs plass 1, Bergen",
    "digital_link": "",
    "on_behalf_of": "",
    "days_before": 7,
    "topic": "Hvordan kommunene i regionen kan dele erfaringer",
    "wished_dates": ["2025-10-07", "2025-10-09"],
    "requested_at": _NOW.isoformat(),
    "request_id": "00000000-0000-4000-8000-000000000003",
    "guest": False,
    "description": "Kulturskolene i Nordhordland viser fram arbeidet med medvirkning.",
    "proposed_at": _NOW.isoformat(),
    "proposal_id": "00000000-0000-4000-8000-000000000004",
    "programme_mailbox": "post@kulturskoleradet.no",
    "programme_subject": "Fremtidens kulturskole, Regionale program",
    "due_on": (_NOW + timedelta(days=28)).date().isoformat(),
    "interim_work_due": [
        {
            "title": "Kartlegging av samarbeidsparter",
            "due_on": (_NOW + timedelta(days=28)).date().isoformat(),
        }
    ],
    "answer_links": {
        r: f"https://planlegging.example.no/answers/eksempel?response={r}"
        for r in ("yes", "no", "maybe")
    },
}


class Preview(BaseModel):
    template: str
    language: str
    subject: str
    text: str
    html: str


@router.get("/previews")
async def list_previews(_: Programme) -> dict[str, list[str]]:
    """Every message there is, and the languages each can be previewed in."""
    return {"templates": TEMPLATES.names(), "languages": list(LANGUAGES)}


@router.get("/previews/{template}", response_model=Preview)
async def preview(
    template: str,
    _: Programme,
    language: str = Query(default="nb", pattern="^(nb|nn|en)$"),
    format: str = Query(default="json", pattern="^(json|html|text)$"),
) -> Any:
    """A message as it would read, with example facts: JSON (subject, text, HTML), or the
    HTML or text part alone to look at."""
    if template not in TEMPLATES.names():
        raise HTTPException(404, f"no message {template!r}; GET /previews lists them")
    rendered = TEMPLATES.render_mail(template, language, SAMPLE)
    if format == "html":
        return HTMLResponse(rendered.html)
    if format == "text":
        return Response(f"Subject: {rendered.subject}\n\n{rendered.text}", media_type="text/plain")
    return Preview(
        template=template,
        language=language,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
    )


# --- opt-outs and supervisors -------------------------------------------------------------------


class OptOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reminders: bool = Field(
        description="true: no reminders for this person; false: reminders again"
    )


@router.put("/persons/{person_id}/reminders", status_code=200, responses=BODY)
async def set_reminders(
    person_id: UUID, body: OptOut, runtime: RuntimeDep, _: Programme
) -> dict[str, Any]:
    """Opt a person out of reminders (or back in). Mandatory messages (decisions, invitations,
    changes, cancellations) are sent regardless."""
    await repo.set_opt_out(runtime.pool, person_id, not body.reminders)
    return {"person_id": person_id, "reminders": body.reminders}


class Supervisor(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: EmailStr
    language: Annotated[str, StringConstraints(pattern="^(nb|nn|en)$")] = "nb"


SupervisorId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,100}$")]


@router.put("/supervisors/{supervisor_id}", responses=BODY)
async def put_supervisor(
    supervisor_id: SupervisorId, body: Supervisor, runtime: RuntimeDep, _: Programme
) -> dict[str, str]:
    """A supervisor's contact, under the id scheduling's bookings use; mails that waited for
    it go now."""
    await repo.save_supervisor(
        runtime.pool, supervisor_id, name=body.name, email=str(body.email), language=body.language
    )
    return {"supervisor_id": supervisor_id}


@router.delete("/supervisors/{supervisor_id}", status_code=204)
async def delete_supervisor(
    supervisor_id: SupervisorId, runtime: RuntimeDep, _: Programme
) -> Response:
    """Forget a supervisor's contact; mails still waiting for them are cancelled."""
    if not await repo.delete_supervisor(runtime.pool, supervisor_id):
        raise HTTPException(404, f"no supervisor {supervisor_id!r}")
    return Response(status_code=204)
