"""Composition root of the scheduling service: settings, the one registry of commands and
followed events, the app.

The calendar of a round per region (county branch): semesters, gatherings of every kind,
invitations that follow registration's events, dialogue meetings on request, supervision
bookings, RSVPs and attendance, date suggestions, iCalendar feeds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI

from services.scheduling.domain.regions import REFERENCE_DIR, Regions
from services.scheduling.domain.suggestions import HolidayWeeks
from services.scheduling.entrypoints import answers, http, interim_work
from services.scheduling.entrypoints.auth import gathering_rule, programme, region_board, tokens
from services.scheduling.handlers.attendance import record_attendance, record_rsvp
from services.scheduling.handlers.context import Context
from services.scheduling.handlers.gatherings import (
    cancel_gathering,
    reschedule_gathering,
    schedule_gathering,
)
from services.scheduling.handlers.interim_work import report_interim_work, set_interim_work
from services.scheduling.handlers.invitations import (
    application_submitted,
    group_member_added,
    group_member_removed,
    interest_registered,
    municipality_admitted,
    municipality_withdrawn,
    person_erased,
)
from services.scheduling.handlers.meetings import (
    book_supervision,
    erase_guest,
    propose_dialogue_meeting,
    request_dialogue_meeting,
    schedule_dialogue_meeting,
)
from services.scheduling.handlers.proposals import propose_delingsarena
from services.scheduling.handlers.rounds import on_round_closed, on_round_opened, plan_semester
from services.scheduling.settings import SchedulingSettings
from shared.contracts.events.base import REGISTRY, Contract, Event
from shared.contracts.events.registration import (
    AdmissionRevoked,
    ApplicationSubmitted,
    GroupMemberAdded,
    GroupMemberRemoved,
    InterestRegistered,
    InterestUpdated,
    MunicipalityAdmitted,
    MunicipalityWithdrawn,
    PersonErased,
    RoundClosed,
    RoundOpened,
)
from shared.contracts.events.scheduling import (
    CONTACTS,
    BookSupervision,
    CancelGathering,
    EraseGuest,
    GuestContact,
    PlanSemester,
    ProposeDelingsarena,
    ProposeDialogueMeeting,
    RecordAttendance,
    RecordRsvp,
    ReportInterimWork,
    RequestDialogueMeeting,
    RescheduleGathering,
    ScheduleDialogueMeeting,
    ScheduleGathering,
    SetInterimWork,
    guest_contacts_topic,
)
from shared.contracts.topics import TopicSpec, commands_topic, events_topic, service_topics
from shared.messaging.bus import Handler
from shared.reference import ReferenceData
from shared.runtime.auth import TOKENS
from shared.runtime.catalog import LocalInfra, ServiceDeclaration
from shared.runtime.commands import CommandEntry, CommandHandler, CommandRegistry, Route
from shared.runtime.service import build_app
from shared.runtime.spec import Runtime, ServiceSpec

VERSION = "0.2.0"
CONTEXT = "context"


# Each command once: contract, handler, who may send it, its route.
COMMANDS = CommandRegistry[Context](
    [
        CommandEntry(
            PlanSemester,
            plan_semester,
            programme,
            Route("/semesters", "Plan a semester of a region's calendar", "calendar"),
        ),
        CommandEntry(
            ScheduleGathering,
            schedule_gathering,
            gathering_rule,
            Route(
                "/gatherings",
                "Schedule a presamling, samling or delingsarena (a board: a delingsarena in its "
                "region)",
                "gatherings",
                201,
            ),
        ),
        CommandEntry(
            ProposeDelingsarena,
            propose_delingsarena,
            region_board,
            Route(
                "/delingsarena-proposals",
                "A county board proposes a delingsarena in its region",
                "gatherings",
                201,
            ),
        ),
        CommandEntry(
            RescheduleGathering,
            reschedule_gathering,
            programme,
            Route("/reschedulings", "Move a gathering (same UID, SEQUENCE + 1)", "gatherings"),
        ),
        CommandEntry(
            CancelGathering,
            cancel_gathering,
            programme,
            Route("/cancellations", "Cancel a gathering; everyone invited is told", "gatherings"),
        ),
        CommandEntry(
            RequestDialogueMeeting,
            request_dialogue_meeting,
            region_board,
            Route(
                "/dialogue-requests", "A county board asks for a dialogue meeting", "dialogue", 201
            ),
        ),
        CommandEntry(
            ScheduleDialogueMeeting,
            schedule_dialogue_meeting,
            programme,
            Route(
                "/dialogue-meetings",
                "Schedule the dialogue meeting a board asked for",
                "dialogue",
                201,
            ),
        ),
        CommandEntry(
            ProposeDialogueMeeting,
            propose_dialogue_meeting,
            programme,
            Route(
                "/dialogue-proposals",
                "Programme management proposes a dialogue meeting itself, without a request",
                "dialogue",
                201,
            ),
        ),
        CommandEntry(
            EraseGuest,
            erase_guest,
            programme,
            Route(
                "/guest-erasures",
                "Erase a guest's name and address; their invitations ahead are withdrawn",
                "dialogue",
            ),
        ),
        CommandEntry(
            BookSupervision,
            book_supervision,
            programme,
            Route(
                "/supervisions",
                "Book a supervisor for one municipality (veiledning)",
                "supervision",
                201,
            ),
        ),
        CommandEntry(
            RecordRsvp,
            record_rsvp,
            region_board,
            Route("/rsvps", "Record an invitee's answer", "attendance"),
        ),
        CommandEntry(
            RecordAttendance,
            record_attendance,
            region_board,
            Route("/attendance", "Record who came to a gathering", "attendance"),
        ),
        CommandEntry(
            SetInterimWork,
            set_interim_work,
            programme,
            Route(
                "/interim-work",
                "Set the mellomarbeid after a samling; the kommunegrupper are told",
                "interim work",
                201,
            ),
        ),
        CommandEntry(
            ReportInterimWork,
            report_interim_work,
            region_board,
            Route(
                "/interim-work-reports",
                "Mark a municipality's mellomarbeid done, with a short report",
                "interim work",
            ),
        ),
    ],
)


# The registration events followed, and the handler of each: the projection invitations need.
FOLLOWS: dict[type[Contract], CommandHandler[Context]] = {
    RoundOpened: on_round_opened,
    RoundClosed: on_round_closed,
    InterestRegistered: interest_registered,
    InterestUpdated: interest_registered,
    ApplicationSubmitted: application_submitted,
    MunicipalityAdmitted: municipality_admitted,
    MunicipalityWithdrawn: municipality_withdrawn,
    AdmissionRevoked: municipality_withdrawn,
    GroupMemberAdded: group_member_added,
    GroupMemberRemoved: group_member_removed,
    PersonErased: person_erased,
}


def make_handlers(ctx: Context) -> dict[str, Handler]:
    """The one table: commands (HTTP and topic) and the registration events followed."""
    events = {contract.TYPE: COMMANDS.bind(handler, ctx) for contract, handler in FOLLOWS.items()}
    return {**COMMANDS.handlers(ctx), **events}


def context_of(runtime: Runtime) -> Context:
    ctx: Context = runtime.extras[CONTEXT]
    return ctx


def make_context(settings: SchedulingSettings) -> Context:
    regions = Regions.load(Path(settings.regions_csv)) if settings.regions_csv else Regions.load()
    weeks = HolidayWeeks.load(
        Path(settings.school_holidays_csv)
        if settings.school_holidays_csv
        else REFERENCE_DIR / "skoleferie-uker.csv"
    )
    names = {n: m.name for n, m in ReferenceData.load().municipalities.items()}
    return Context(
        regions=regions,
        holiday_weeks=weeks,
        topic_prefix=settings.topic_prefix,
        municipality_names=names,
        answer_secret=settings.answer_secret.get_secret_value(),
    )


def router() -> APIRouter:
    combined = APIRouter()
    combined.include_router(COMMANDS.router(context=context_of))
    combined.include_router(http.router)
    combined.include_router(answers.router)
    combined.include_router(interim_work.router)
    return combined


def service_spec(
    settings: SchedulingSettings | None = None, ctx: Context | None = None
) -> ServiceSpec:
    """What this service is; `create_app` runs it, the contracts export documents it."""
    settings = settings or SchedulingSettings()
    ctx = ctx or make_context(settings)
    principals = tokens(settings.api_tokens, ctx)  # a bad token file fails start-up
    prefix = settings.topic_prefix

    async def on_startup(runtime: Runtime) -> None:
        runtime.extras.update({CONTEXT: ctx, TOKENS: principals})

    published = [c for c in REGISTRY.values() if issubclass(c, Event) and c.SERVICE == "scheduling"]
    return ServiceSpec(
        name="scheduling",
        version=VERSION,
        description=(
            "The programme calendar per round and region: semesters, gatherings of every kind, "
            "invitations that follow registration, dialogue meetings, supervision, RSVPs, "
            "attendance, holiday-aware date suggestions and iCalendar feeds."
        ),
        settings=settings,
        handlers=make_handlers(ctx),
        subscribe_to=[commands_topic("scheduling", prefix), events_topic("registration", prefix)],
        publishes={
            events_topic("scheduling", prefix): published,
            guest_contacts_topic(prefix): [GuestContact],
        },
        router=router(),
        migrations=Path(__file__).parent / "migrations",
        on_startup=on_startup,
    )


def create_app(settings: SchedulingSettings | None = None) -> FastAPI:
    return build_app(service_spec(settings))


def topics(prefix: str) -> list[TopicSpec]:
    """Its events, its commands, the compacted contacts topic of invited guests, their DLQs."""
    return service_topics("scheduling", prefix, compacted=[CONTACTS])


def local_tokens() -> dict[str, dict[str, Any]]:
    """Tokens the local stack and the tests use (the same strings as registration's local
    ones); never for a real deployment."""
    return {
        "local-programme": {"name": "Programledelsen", "role": "programme"},
        "local-observer": {"name": "Observatør", "role": "observer"},
        **{
            f"local-board-{region.id}": {
                "name": f"Styret i {region.name}",
                "role": "county_board",
                "branch": region.id,
            }
            for region in Regions.load().by_id.values()
        },
    }


# The local stack's answer-link secret (notification signs with the same); never elsewhere.
LOCAL_ANSWER_SECRET = "local-answer-secret"


def local_env(_: LocalInfra) -> dict[str, str]:
    return SERVICE.env(api_tokens=json.dumps(local_tokens()), answer_secret=LOCAL_ANSWER_SECRET)


SERVICE = ServiceDeclaration(
    name="scheduling",
    module="services.scheduling",
    settings=SchedulingSettings,
    spec=service_spec,
    topics=topics,
    local_env=local_env,
)
