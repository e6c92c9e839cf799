"""What a service declares (`ServiceSpec`) and what its lifespan builds from it (`Runtime`).

Workers, routes and the command registry reach the running parts through `Runtime`; the
composition root that builds it is `shared.runtime.service.build_app`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, Request
from faststream.kafka import KafkaBroker

from shared.contracts.events.base import Contract
from shared.messaging.bus import BeforeCommit, Handler, MessageBus, Origin, Outcome
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import OutboxRelay
from shared.runtime.settings import ServiceSettings


@dataclass
class Runtime:
    """What the lifespan built; routes and workers reach it through `app.state.runtime`."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    bus: MessageBus
    broker: KafkaBroker
    producer: AIOKafkaProducer
    relay: OutboxRelay
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    async def command(
        self,
        contract: Contract,
        *,
        message_id: str | None = None,
        before_commit: BeforeCommit | None = None,
    ) -> Outcome:
        """Run an HTTP command through the same handler as Kafka; 4xx on rejection.

        `before_commit` runs in the command's transaction with its result (see
        `shared.runtime.idempotency`, which keeps the HTTP answer there)."""
        envelope = Envelope.wrap(contract, source="/http", event_id=message_id)
        return await self.bus.handle(
            envelope, contract, Origin(topic="http"), before_commit=before_commit
        )


# A coroutine function: each worker runs as its own `asyncio.Task`.
Worker = Callable[[Runtime], Coroutine[Any, Any, None]]


@dataclass
class ServiceSpec:
    name: str
    version: str
    description: str
    settings: ServiceSettings
    handlers: Mapping[str, Handler]
    subscribe_to: Sequence[str]
    publishes: Mapping[str, Sequence[type[Contract]]]
    router: APIRouter
    migrations: Path
    workers: Sequence[Worker] = ()
    on_startup: Callable[[Runtime], Awaitable[None]] | None = None


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
