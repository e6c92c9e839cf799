"""Composition root of the notification service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.notification.entrypoints.http import router
from services.notification.handlers import Context, make_handlers
from services.notification.mailer import mail_worker
from services.notification.settings import NotificationSettings
from shared.service import ServiceSpec, build_app
from shared.topics import commands_topic, contacts_topic, events_topic

VERSION = "0.1.0"


def service_spec(settings: NotificationSettings | None = None) -> ServiceSpec:
    """What this service is; `create_app` runs it, the contracts export documents it."""
    settings = settings or NotificationSettings()
    prefix = settings.topic_prefix
    return ServiceSpec(
        name="notification",
        version=VERSION,
        description="Tells people what they need to know: e-mail over SMTP in nb, nn and en.",
        settings=settings,
        handlers=make_handlers(Context(programme_mailbox=settings.programme_mailbox)),
        subscribe_to=[
            contacts_topic(prefix),
            events_topic("registration", prefix),
            commands_topic("notification", prefix),
        ],
        publishes={},
        router=router,
        migrations=Path(__file__).parent / "migrations",
        workers=[mail_worker],
    )


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    return build_app(service_spec(settings))
