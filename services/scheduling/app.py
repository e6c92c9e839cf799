"""Composition root of the scheduling service.

It runs on the shared foundation (migrations, inbox, outbox, dead letters, health) and
follows the registration events; rounds, gatherings and invitations come next.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.scheduling.settings import SchedulingSettings
from shared.service import ServiceSpec, build_app
from shared.topics import commands_topic, events_topic

VERSION = "0.1.0"


def create_app(settings: SchedulingSettings | None = None) -> FastAPI:
    settings = settings or SchedulingSettings()
    prefix = settings.topic_prefix
    return build_app(
        ServiceSpec(
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
    )
