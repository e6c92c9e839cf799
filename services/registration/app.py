"""Composition root of the registration service."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI

from services.registration.domain.reference import REFERENCE_DIR, ReferenceData
from services.registration.entrypoints.auth import parse_tokens
from services.registration.entrypoints.http import router
from services.registration.handlers import Context, make_handlers
from services.registration.settings import LOCAL_API_TOKENS, RegistrationSettings
from shared.catalog import LocalInfra, ServiceDeclaration
from shared.events.base import REGISTRY, Event
from shared.events.registration import CONTACTS, ContactDetails, contacts_topic
from shared.service import Runtime, ServiceSpec, build_app
from shared.topics import TopicSpec, commands_topic, events_topic, service_topics

VERSION = "0.1.0"


def service_spec(settings: RegistrationSettings | None = None) -> ServiceSpec:
    """What this service is; `create_app` runs it, the contracts export documents it."""
    settings = settings or RegistrationSettings()
    branches = (
        Path(settings.branches_csv)
        if settings.branches_csv
        else REFERENCE_DIR / "fylkesavdelinger.csv"
    )
    ctx = Context(
        reference=ReferenceData.load(branches_csv=branches), topic_prefix=settings.topic_prefix
    )
    prefix = settings.topic_prefix
    tokens = parse_tokens(settings.api_tokens, ctx.reference)  # a bad token file fails start-up

    async def on_startup(runtime: Runtime) -> None:
        runtime.extras.update(context=ctx, tokens=tokens)

    published = [
        c for c in REGISTRY.values() if issubclass(c, Event) and c.SERVICE == "registration"
    ]
    return ServiceSpec(
        name="registration",
        version=VERSION,
        description="County branches, member municipalities, interest, applications, decisions.",
        settings=settings,
        handlers=make_handlers(ctx),
        subscribe_to=[commands_topic("registration", prefix)],
        publishes={
            events_topic("registration", prefix): published,
            contacts_topic(prefix): [ContactDetails],
        },
        router=router,
        migrations=Path(__file__).parent / "migrations",
        on_startup=on_startup,
    )


def create_app(settings: RegistrationSettings | None = None) -> FastAPI:
    return build_app(service_spec(settings))


def topics(prefix: str) -> list[TopicSpec]:
    """What it owns: its events, its commands, the compacted contacts topic, their DLQs."""
    return service_topics("registration", prefix, compacted=[CONTACTS])


def local_env(_: LocalInfra) -> dict[str, str]:
    """A local or test run accepts the local tokens (never a real deployment's)."""
    return SERVICE.env(api_tokens=json.dumps(LOCAL_API_TOKENS))


SERVICE = ServiceDeclaration(
    name="registration",
    module="services.registration",
    settings=RegistrationSettings,
    spec=service_spec,
    topics=topics,
    local_env=local_env,
)
