"""Composition root of the notification service: settings, the one registry of commands and
followed events, the app."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI

from services.notification.domain.messages import Places
from services.notification.entrypoints import http
from services.notification.entrypoints.auth import programme
from services.notification.entrypoints.mailer import mail_worker
from services.notification.entrypoints.reminders import reminder_worker
from services.notification.handlers import contacts, registration_events, scheduling_events
from services.notification.handlers.context import CONTEXT, Context
from services.notification.handlers.reminders import set_reminders
from services.notification.handlers.supervisors import remove_supervisor, set_supervisor
from services.notification.settings import NotificationSettings
from shared.contracts.events import registration as reg
from shared.contracts.events import scheduling as sched
from shared.contracts.events.base import Contract
from shared.contracts.events.notification import (
    NotificationFailed,
    NotificationSent,
    RemoveSupervisor,
    SetReminders,
    SetSupervisor,
)
from shared.contracts.events.registration import contacts_topic
from shared.contracts.events.scheduling import guest_contacts_topic
from shared.contracts.topics import TopicSpec, commands_topic, events_topic, service_topics
from shared.messaging.bus import Handler, tombstone_handler
from shared.reference import REFERENCE_DIR, ReferenceData
from shared.runtime.auth import TOKENS, parse_tokens
from shared.runtime.catalog import LocalInfra, ServiceDeclaration
from shared.runtime.commands import CommandEntry, CommandHandler, CommandRegistry
from shared.runtime.service import build_app
from shared.runtime.spec import Runtime, ServiceSpec

VERSION = "0.2.0"

# Each command once: contract, handler, who may send it. Over HTTP they keep their own routes
# and answers (entrypoints/http.py): `PUT /persons/{person_id}/reminders`,
# `PUT /supervisors/{supervisor_id}`, `DELETE /supervisors/{supervisor_id}`; any of them
# may also come on the service's command topic.
COMMANDS = CommandRegistry[Context](
    [
        CommandEntry(SetReminders, set_reminders, programme),
        CommandEntry(SetSupervisor, set_supervisor, programme),
        CommandEntry(RemoveSupervisor, remove_supervisor, programme),
    ]
)

# The events followed, each to its handler, which takes the event's typed model.
FOLLOWS: dict[type[Contract], CommandHandler[Context]] = {
    # contacts and erasure
    reg.ContactDetails: contacts.contact_details,
    reg.PersonErased: contacts.person_erased,
    sched.GuestContact: contacts.guest_contact,
    sched.GuestErased: contacts.person_erased,
    # registration
    reg.InterestRegistered: registration_events.interest,
    reg.InterestUpdated: registration_events.interest,
    reg.RoundOpened: registration_events.round_opened,
    reg.RoundClosed: registration_events.round_closed,
    reg.BranchContactSet: registration_events.branch_contact_set,
    reg.ApplicationWindowOpened: registration_events.window_opened,
    reg.DeadlineExtended: registration_events.deadline_extended,
    reg.ApplicationSubmitted: registration_events.application_submitted,
    reg.MunicipalityAdmitted: registration_events.decision,
    reg.MunicipalityWaitlisted: registration_events.decision,
    reg.MunicipalityDeclined: registration_events.decision,
    reg.MunicipalityWithdrawn: registration_events.decision,
    reg.AdmissionRevoked: registration_events.decision,
    reg.GroupMemberAdded: registration_events.member_added,
    reg.GroupMemberRemoved: registration_events.member_removed,
    # scheduling
    sched.GatheringScheduled: scheduling_events.gathering_scheduled,
    sched.GatheringRescheduled: scheduling_events.gathering_rescheduled,
    sched.GatheringCancelled: scheduling_events.gathering_cancelled,
    sched.InvitationIssued: scheduling_events.invitation_issued,
    sched.InvitationWithdrawn: scheduling_events.invitation_withdrawn,
    sched.SupervisionBooked: scheduling_events.supervision_booked,
    sched.DialogueMeetingRequested: scheduling_events.dialogue_requested,
    sched.DelingsarenaProposed: scheduling_events.delingsarena_proposed,
    sched.InterimWorkSet: scheduling_events.interim_work_set,
}


def router() -> APIRouter:
    """The read routes, and the writes made from the registry."""
    combined = APIRouter()
    combined.include_router(http.command_routes(COMMANDS))
    combined.include_router(http.router)
    return combined


def make_handlers(ctx: Context) -> dict[str, Handler]:
    """The one table: commands (HTTP and topic), the events followed, and the tombstones of
    the compacted contact topics (a person's details withdrawn: erased here too)."""
    events = {contract.TYPE: COMMANDS.bind(handler, ctx) for contract, handler in FOLLOWS.items()}
    tombstones = {
        tombstone_handler(topic): COMMANDS.bind(contacts.contact_tombstone, ctx)
        for topic in (ctx.contacts_topic, ctx.guest_contacts_topic)
        if topic
    }
    return {**COMMANDS.handlers(ctx), **events, **tombstones}


def context_of(runtime: Runtime) -> Context:
    ctx: Context = runtime.extras[CONTEXT]
    return ctx


def make_context(settings: NotificationSettings) -> Context:
    branches = (
        Path(settings.branches_csv)
        if settings.branches_csv
        else REFERENCE_DIR / "fylkesavdelinger.csv"
    )
    return Context(
        programme_mailbox=settings.programme_mailbox,
        contacts_topic=contacts_topic(settings.topic_prefix),
        guest_contacts_topic=guest_contacts_topic(settings.topic_prefix),
        places=Places(ReferenceData.load(branches_csv=branches)),
        gathering_reminder_days=tuple(settings.reminder_days_before_gathering),
        deadline_reminder_days=tuple(settings.reminder_days_before_deadline),
        answer_secret=settings.answer_secret.get_secret_value(),
        answer_base_url=settings.answer_base_url.rstrip("/"),
    )


def service_spec(
    settings: NotificationSettings | None = None, ctx: Context | None = None
) -> ServiceSpec:
    """What this service is; `create_app` runs it, the contracts export documents it."""
    settings = settings or NotificationSettings()
    ctx = ctx or make_context(settings)
    reference = ctx.places.reference

    def branch_id(name_or_id: str) -> str | None:
        found = reference.branch(name_or_id)
        return found.id if found else None

    principals = parse_tokens(settings.api_tokens, branch_id)  # a bad token file fails start-up
    prefix = settings.topic_prefix

    async def on_startup(runtime: Runtime) -> None:
        runtime.extras.update({CONTEXT: ctx, TOKENS: principals})

    return ServiceSpec(
        name="notification",
        version=VERSION,
        description=(
            "Tells people what they need to know: e-mail over SMTP in nb, nn and en, with "
            "calendar invitations, reminders, a delivery log and previews."
        ),
        settings=settings,
        handlers=make_handlers(ctx),
        subscribe_to=[
            contacts_topic(prefix),
            guest_contacts_topic(prefix),
            events_topic("registration", prefix),
            events_topic("scheduling", prefix),
            commands_topic("notification", prefix),
        ],
        publishes={events_topic("notification", prefix): [NotificationSent, NotificationFailed]},
        router=router(),
        migrations=Path(__file__).parent / "migrations",
        workers=[mail_worker, reminder_worker],
        on_startup=on_startup,
    )


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    return build_app(service_spec(settings))


def topics(prefix: str) -> list[TopicSpec]:
    return service_topics("notification", prefix)


def local_tokens() -> dict[str, dict[str, Any]]:
    """Tokens the local stack and the tests use (the same as the other services' local ones,
    so compose shares one set); never for a real deployment. Only programme management's
    token opens this service's routes."""
    return {
        "local-programme": {"name": "Programledelsen", "role": "programme"},
        "local-observer": {"name": "Observatør", "role": "observer"},
        **{
            f"local-board-{branch.id}": {
                "name": f"Styret i {branch.name}",
                "role": "county_board",
                "branch": branch.id,
            }
            for branch in ReferenceData.load().branches.values()
        },
    }


def local_env(infra: LocalInfra) -> dict[str, str]:
    """Mail goes to the local SMTP sink, polled often so a person (or a test) waits less."""
    return SERVICE.env(
        smtp_host=infra.smtp_host,
        smtp_port=infra.smtp_port,
        mail_poll_interval_s=0.5,
        api_tokens=json.dumps(local_tokens()),
        # The same secret as scheduling's local one; its address on the local stack.
        answer_secret="local-answer-secret",
        answer_base_url=f"http://127.0.0.1:{os.environ.get('KS_SCHEDULING_PORT', '8002')}",
    )


SERVICE = ServiceDeclaration(
    name="notification",
    module="services.notification",
    settings=NotificationSettings,
    spec=service_spec,
    topics=topics,
    local_env=local_env,
)
