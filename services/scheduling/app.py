"""Composition root of the scheduling service.

It runs on the shared foundation (migrations, inbox, outbox, dead letters, health) and
follows the registration events; rounds, gatherings and invitations come next.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.scheduling.settings import SchedulingSettings
from shared.catalog import ServiceDeclaration
from shared.service import ServiceSpec, build_app
from shared.topics import TopicSpec, commands_topic, events_topic, service_topics

VERSION = "0.1.0"


def service_spec(settings: SchedulingSettings | None = None) -> ServiceSpec:
    """What this service is; `create_app` runs it, the contracts export documents it."""
    settings = settings or SchedulingSettings()
    prefix = settings.topic_prefix
    return ServiceSpec(
        name="scheduling",
        version=VERSION,
        description="Programme rounds, semesters and gatherings of every kind.",
        settings=settings,
        handlers={},
        subscribe_to=[commands_topic("scheduling", prefix), events_topic("registration", prefix)],
        publishes={},
        router=APIRouter(),
        migrations=Path(__file__).parent / "migrations",
    )


def create_app(settings: SchedulingSettings | None = None) -> FastAPI:
    return build_app(service_spec(settings))


def topics(prefix: str) -> list[TopicSpec]:
    return service_topics("scheduling", prefix)


SERVICE = ServiceDeclaration(
    name="scheduling",
    module="services.scheduling",
    settings=SchedulingSettings,
    spec=service_spec,
    topics=topics,
)
