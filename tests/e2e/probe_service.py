"""A minimal service on the shared runtime, run as a process by the no-skip test.

It consumes `<prefix>.probe.commands` through the real FastStream subscriber, the processor,
the inbox and the dead letters, exactly as the real services do. Its handler records an
effect per message; a message whose gate is closed fails as a database outage would
(transient), until the test opens the gate. `KS_PROBE_HANDLER_DELAY_S` makes every message
take that long inside its transaction (`pg_sleep`, so a test sees it running in
`pg_stat_activity`). Run: `python -m tests.e2e.probe_service`.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import ClassVar

from fastapi import APIRouter, FastAPI
from pydantic_settings import SettingsConfigDict

from shared.contracts.events.base import Command
from shared.messaging.bus import UnitOfWork
from shared.runtime.service import build_app, run
from shared.runtime.settings import ServiceSettings
from shared.runtime.spec import ServiceSpec

PROBE_TYPE = "no.kulturskoleradet.probe.probe.v1"
MIGRATIONS = Path(__file__).parent / "probe_migrations"


class Probe(Command):
    TYPE: ClassVar[str] = PROBE_TYPE
    SERVICE: ClassVar[str] = "probe"

    KEY: ClassVar[str] = "seq"

    seq: int


class ProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KS_PROBE_", extra="ignore")
    SERVICE: ClassVar[str] = "probe"

    handler_delay_s: float = 0.0


async def handle_probe(command: Probe, uow: UnitOfWork, *, delay: float = 0.0) -> None:
    if delay > 0:
        await uow.conn.execute("SELECT pg_sleep($1)", delay)
    gate = await uow.conn.fetchval("SELECT open FROM probe_gate WHERE seq = $1", command.seq)
    if gate is False:
        await uow.conn.fetchval("SELECT nextval('probe_gate_attempts')")
        raise ConnectionRefusedError(f"probe {command.seq}: the gate is closed")
    await uow.conn.execute(
        "INSERT INTO probe_effects (seq, pid) VALUES ($1, $2)", command.seq, os.getpid()
    )


def create_app() -> FastAPI:
    settings = ProbeSettings()
    return build_app(
        ServiceSpec(
            name="probe",
            version="0",
            description="Test probe",
            settings=settings,
            handlers={PROBE_TYPE: partial(handle_probe, delay=settings.handler_delay_s)},
            subscribe_to=[f"{settings.topic_prefix}.probe.commands"],
            publishes={},
            router=APIRouter(),
            migrations=MIGRATIONS,
        )
    )


if __name__ == "__main__":
    run(create_app, ProbeSettings())
