"""Composition root of the notification service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.notification.entrypoints.http import router
from services.notification.handlers import Context, make_handlers
from services.notification.mailer import mail_worker
from services.notification.settings import NotificationSettings
from shared.catalog import LocalInfra, ServiceDeclaration
from shared.events.registration import contacts_topic
from shared.service import ServiceSpec, build_app
from shared.topics import TopicSpec, commands_topic, events_topic, service_topics

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
        handlers=make_handlers(
            Context(
                programme_mailbox=settings.programme_mailbox, contacts_topic=contacts_topic(prefix)
            )
        ),
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


def topics(prefix: str) -> list[TopicSpec]:
    return service_topics("notification", prefix)


def local_env(infra: LocalInfra) -> dict[str, str]:
    """Mail goes to the local SMTP sink, polled often so a person (or a test) waits less."""
    return SERVICE.env(
        smtp_host=infra.smtp_host, smtp_port=infra.smtp_port, mail_poll_interval_s=0.5
    )


SERVICE = ServiceDeclaration(
    name="notification",
    module="services.notification",
    settings=NotificationSettings,
    spec=service_spec,
    topics=topics,
    local_env=local_env,
)
