"""Composition root of the notification service."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.notification.domain.messages import Places
from services.notification.entrypoints.http import router
from services.notification.handlers import Context, make_handlers
from services.notification.mailer import mail_worker
from services.notification.reminders import CONTEXT, reminder_worker
from services.notification.settings import NotificationSettings
from shared.contracts.events.notification import NotificationFailed, NotificationSent
from shared.contracts.events.registration import contacts_topic
from shared.contracts.events.scheduling import guest_contacts_topic
from shared.contracts.topics import TopicSpec, commands_topic, events_topic, service_topics
from shared.reference import REFERENCE_DIR, ReferenceData
from shared.runtime.auth import TOKENS, parse_tokens
from shared.runtime.catalog import LocalInfra, ServiceDeclaration
from shared.runtime.service import build_app
from shared.runtime.spec import Runtime, ServiceSpec

VERSION = "0.2.0"


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
        router=router,
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
