"""HTTP routes of the notification service, for programme management (bearer tokens):
the delivery log, template previews in each language, opt-out of reminders, supervisors.

The writes are commands of the registry in `services.notification.app` (one entry each),
run through the message bus in a unit of work, with `Idempotency-Key`; they answer as they
always have (the body says what was set), not with the registry's `Accepted`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from services.notification.adapters import repository as repo
from services.notification.entrypoints.auth import Programme
from services.notification.handlers.context import CONTEXT, Context
from services.notification.templates import LANGUAGES, Templates
from shared.contracts.events.base import Contract
from shared.contracts.events.notification import (
    RemoveSupervisor,
    SetReminders,
    SetSupervisor,
    SupervisorId,
)
from shared.messaging.bus import Outcome
from shared.runtime.auth import Principal
from shared.runtime.commands import (
    READ_REFUSALS,
    REFUSALS,
    REPLAYED,
    CommandRegistry,
    IdempotencyKey,
)
from shared.runtime.idempotency import REPLAYED_HEADER, Answer, IdempotentRequest, run_once
from shared.runtime.spec import Runtime, RuntimeDep

TEMPLATES = Templates()

# Every route may refuse a caller, a path or a parameter: say so in the OpenAPI document.
router = APIRouter(tags=["notification"], responses=READ_REFUSALS)
# A write may also refuse a body that is not JSON, and replays an earlier answer.
BODY: dict[int | str, dict[str, Any]] = {400: REFUSALS[400]}

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


# --- opt-outs and supervisors: commands -----------------------------------------------------


async def _command(
    commands: CommandRegistry[Context],
    runtime: Runtime,
    principal: Principal,
    command: Contract,
    *,
    key: str | None,
    route: str,
    answer: Callable[[Outcome], Answer],
) -> Response:
    """Authorize by the registry's rule, then run once (per Idempotency-Key, when given)
    through the bus, answering with `answer` of the outcome."""
    ctx: Context = runtime.extras[CONTEXT]
    commands.authorize(principal, command, ctx)
    if key is None:
        first = answer(await runtime.command(command))
        return _response(first, replayed=False)
    request = IdempotentRequest.of(caller=principal.caller, route=route, key=key, body=command)
    done = await run_once(runtime, command, request, answer)
    if done.status_code != 204:
        return done
    return _response(Answer(204, None), replayed=REPLAYED_HEADER in done.headers)


def _response(answer: Answer, *, replayed: bool) -> Response:
    """The answer as sent; a 204 has no body (not even JSON's `null`)."""
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    if answer.status_code == 204:
        return Response(status_code=204, headers=headers)
    return JSONResponse(answer.body, status_code=answer.status_code, headers=headers)


class OptOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reminders: bool = Field(
        description="false: no reminders for this person; true: reminders again"
    )


class RemindersSet(BaseModel):
    person_id: UUID
    reminders: bool


class Supervisor(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: EmailStr
    language: Annotated[str, StringConstraints(pattern="^(nb|nn|en)$")] = "nb"


class SupervisorSet(BaseModel):
    supervisor_id: str


def command_routes(commands: CommandRegistry[Context]) -> APIRouter:
    """The writes whose HTTP shape is not the registry's `POST` of the contract (a `PUT` and a
    `DELETE` on a resource's path); each runs through `commands` (its rule, idempotency,
    refusals) like every other command. The composition root hands the registry in."""
    routes = APIRouter(tags=["notification"], responses=READ_REFUSALS)

    @routes.put(
        "/persons/{person_id}/reminders",
        status_code=200,
        response_model=RemindersSet,
        responses={200: REPLAYED, **BODY},
    )
    async def set_reminders(
        person_id: UUID,
        body: OptOut,
        runtime: RuntimeDep,
        principal: Programme,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """Opt a person out of reminders (or back in). Mandatory messages (decisions, invitations,
        changes, cancellations) are sent regardless."""
        command = SetReminders(person_id=person_id, reminders=body.reminders)
        said = RemindersSet(person_id=person_id, reminders=body.reminders).model_dump(mode="json")
        return await _command(
            commands,
            runtime,
            principal,
            command,
            key=idempotency_key,
            route="PUT /persons/{person_id}/reminders",
            answer=lambda _: Answer(200, said),
        )

    @routes.put(
        "/supervisors/{supervisor_id}",
        response_model=SupervisorSet,
        responses={200: REPLAYED, **BODY},
    )
    async def put_supervisor(
        supervisor_id: SupervisorId,
        body: Supervisor,
        runtime: RuntimeDep,
        principal: Programme,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """A supervisor's contact, under the id scheduling's bookings use; mails that waited for
        it go now."""
        command = SetSupervisor(supervisor_id=supervisor_id, **body.model_dump())
        return await _command(
            commands,
            runtime,
            principal,
            command,
            key=idempotency_key,
            route="PUT /supervisors/{supervisor_id}",
            answer=lambda _: Answer(200, {"supervisor_id": supervisor_id}),
        )

    @routes.delete("/supervisors/{supervisor_id}", status_code=204, responses={204: REPLAYED})
    async def delete_supervisor(
        supervisor_id: SupervisorId,
        runtime: RuntimeDep,
        principal: Programme,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """Forget a supervisor's contact; mails still waiting for them are cancelled (404 if
        there is no such supervisor)."""
        return await _command(
            commands,
            runtime,
            principal,
            RemoveSupervisor(supervisor_id=supervisor_id),
            key=idempotency_key,
            route="DELETE /supervisors/{supervisor_id}",
            answer=lambda _: Answer(204, None),
        )

    return routes
