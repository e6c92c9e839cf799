"""What every service process is: FastAPI over HTTP, FastStream subscribers on Kafka, one pool.

A service describes itself with a `ServiceSpec` (its handlers, the topics it reads, its
routes and what it publishes); `build_app` is the one composition root that turns that into
a running process. Nothing connects at import time: the lifespan builds the pool, the broker,
the relay and the workers, and closes them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.contracts.schema import asyncapi_document
from shared.contracts.topics import dlq_topic
from shared.db.migrations import migrate
from shared.db.pool import connect, create_pool
from shared.messaging import tracing
from shared.messaging.bus import (
    DeadLetters,
    KafkaMessageProcessor,
    MessageBus,
)
from shared.messaging.consuming import Escapes, consume_batches
from shared.messaging.kafka_client import KafkaAccessError
from shared.messaging.outbox import OutboxRelay, kafka_producer, outbox_counts
from shared.runtime import problems
from shared.runtime.housekeeping import housekeeping_worker
from shared.runtime.http_telemetry import HttpTelemetry
from shared.runtime.kafka_access import check_access
from shared.runtime.lag import consumer_lag_worker
from shared.runtime.logs import configure_logging
from shared.runtime.readiness import kafka_problem
from shared.runtime.settings import ServiceSettings
from shared.runtime.spec import Runtime, ServiceSpec, get_runtime

log = logging.getLogger(__name__)

# Swagger UI's and ReDoc's files, served by the service itself: /docs and /redoc need no
# CDN, so no internet. The package is found, not imported: only its files are used.
_STATIC = Path(str(importlib.util.find_spec("fastapi_offline").origin)).parent / "static"  # type: ignore[union-attr]
DOCS_ASSETS = {
    name: _STATIC / name
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
}


def bootstrap_servers(bootstrap: str) -> list[str]:
    """`host:port,host:port` as a list: FastStream takes a string for one server only (it
    would look up the whole list as one host name), where aiokafka splits it itself."""
    return [server.strip() for server in bootstrap.split(",") if server.strip()]


def build_broker(spec: ServiceSpec, processor_ref: dict[str, KafkaMessageProcessor]) -> KafkaBroker:
    settings = spec.settings
    # On shutdown the broker waits this long for the batch in hand to be handled and
    # committed (FastStream's default, said here because shutdown relies on it).
    kafka = settings.kafka
    broker = KafkaBroker(
        bootstrap_servers(kafka.bootstrap),
        security=kafka.faststream_security(),
        # Topics are the set-up job's (with their retention and replicas); a service's
        # principal has no CREATE, and a typo in a topic name must not make a new one.
        allow_auto_create_topics=False,
        client_id=f"{spec.name}",
        logger=log,
        graceful_timeout=15.0,
    )
    escapes: Escapes = {}

    for topic in spec.subscribe_to:
        # MANUAL: the offsets are committed only after the transaction (and the dead letters).
        # A batch is what one fetch brings, up to `consume_batch_size` records; handled in one
        # transaction, it saves a round trip per message to the database and to the broker.
        subscriber = broker.subscriber(
            topic,
            batch=True,
            max_records=settings.consume_batch_size,
            batch_timeout_ms=settings.consume_poll_timeout_ms,
            group_id=settings.group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            # Our processor decodes (and dead-letters what it cannot): FastStream must not
            # parse the body first, or a broken one fails before our code sees it.
            decoder=_raw_body,
        )
        subscriber(_consumer(subscriber, settings, processor_ref, escapes))

    return broker


def _consumer(
    subscriber: Any,
    settings: ServiceSettings,
    processor_ref: dict[str, KafkaMessageProcessor],
    escapes: Escapes,
) -> Callable[[KafkaMessage], Awaitable[None]]:
    """The subscriber's handler: it keeps the consumer while the subscriber runs (see
    shared/messaging/consuming.py), fetching ahead and committing behind."""

    async def consume(msg: KafkaMessage) -> None:
        raw = msg.raw_message
        await consume_batches(
            processor_ref["processor"],
            msg.consumer,
            list(raw) if isinstance(raw, tuple) else [raw],
            escapes,
            running=lambda: bool(subscriber.running),
            max_records=settings.consume_batch_size,
            poll_timeout_ms=settings.consume_poll_timeout_ms,
            linger_ms=settings.consume_linger_ms,
        )

    return consume


async def _raw_body(message: StreamMessage[Any]) -> bytes:
    return message.body


async def check_service_access(spec: ServiceSpec) -> None:
    """What the service reads, writes and consumes as, checked against its principal's rights:
    `KafkaAccessError` names each topic (or the group) it may not use as it needs to."""
    settings = spec.settings
    await check_access(
        settings.kafka,
        reads=spec.subscribe_to,
        writes=[*spec.publishes, *(dlq_topic(topic) for topic in spec.subscribe_to)],
        group=settings.group_id if spec.subscribe_to else None,
    )


def asyncapi_for(spec: ServiceSpec) -> dict[str, Any]:
    """The service's AsyncAPI document, as committed under contracts/ (for its own prefix).

    Generated from the spec, not by FastStream: messages are published from the outbox, not
    through broker publishers, and subscribers take raw bytes (see `asyncapi_document`)."""

    return asyncapi_document(spec)


def build_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        endpoint = tracing.otlp_endpoint(settings.otlp_endpoint)
        if endpoint is not None:
            tracing.export_to(endpoint)
        # A principal without the ACLs it needs (or a refused login) stops the start here,
        # naming what is missing, instead of retrying what no retry will change.
        try:
            await _retrying(f"{spec.name}: kafka access", lambda: check_service_access(spec))
        except KafkaAccessError as error:
            log.error("cannot start: %s", error, extra={"kafka": settings.kafka.describe()})
            raise
        conn = await connect(settings.database_url, settings.schema, name=f"{spec.name}-migrate")
        try:
            applied = await migrate(conn, settings.schema, spec.migrations)
        finally:
            await conn.close()
        log.info("migrations checked", extra={"applied": applied})
        pool = await create_pool(
            settings.database_url, settings.schema, max_size=settings.db_pool_size, name=spec.name
        )
        processor_ref: dict[str, KafkaMessageProcessor] = {}
        broker = build_broker(spec, processor_ref)
        producer = kafka_producer(settings.kafka)
        bus = MessageBus(pool, spec.handlers, service=spec.name, lanes=settings.consume_lanes)
        relay = OutboxRelay(
            dsn=settings.database_url,
            schema=settings.schema,
            bootstrap=settings.kafka,
            service=spec.name,  # the relay keeps the ks_outbox_* gauges under this label
            poll_interval=settings.relay_poll_interval_s,
            linger=settings.relay_linger_ms / 1000,
        )
        runtime = Runtime(settings, pool, bus, broker, producer, relay)
        processor_ref["processor"] = KafkaMessageProcessor(
            bus,
            DeadLetters(producer, group=settings.group_id),
            max_attempts=settings.handler_max_attempts,
        )
        app.state.runtime = runtime
        await _retrying(f"{spec.name}: kafka producer", producer.start)
        if spec.on_startup is not None:
            await spec.on_startup(runtime)
        runtime.tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
        # Every service purges its old rows and reports its consumer lag.
        workers = [housekeeping_worker, consumer_lag_worker(spec.subscribe_to), *spec.workers]
        runtime.tasks += [asyncio.create_task(w(runtime), name=w.__name__) for w in workers]
        await _retrying(f"{spec.name}: kafka subscribers", broker.start)
        # What start-up made (modules, FastAPI's and pydantic's schemas, the reference data) lives
        # as long as the process: out of the collector's sight, a full collection walks only what
        # came since, and its pauses of the loop stay short (docs/performance.md, eighth round).
        gc.freeze()
        app.state.ready = True
        log.info("service started", extra={"port": settings.http_port})
        try:
            yield
        finally:
            app.state.ready = False
            await broker.stop()
            for task in runtime.tasks:
                task.cancel()
            await asyncio.gather(*runtime.tasks, return_exceptions=True)
            await producer.stop()
            await pool.close()
            tracing.flush()

    app = FastAPI(
        title=f"kulturskole {spec.name}",
        version=spec.version,
        description=spec.description,
        lifespan=lifespan,
        # Served below from the service's own files instead of a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(HttpTelemetry, service=spec.name)
    app.state.ready = False
    app.state.asyncapi = asyncapi_for(spec)

    # Every error as an RFC 9457 problem document, in the caller's language.
    problems.install(app)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/docs/assets/favicon.png",
            # No badge from validator.swagger.io: nothing leaves the page.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}/docs/assets/redoc.standalone.js",
            redoc_favicon_url=f"{root}/docs/assets/favicon.png",
            with_google_fonts=False,
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def docs_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        path = DOCS_ASSETS.get(name)
        if path is None:
            raise HTTPException(status_code=404)
        return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> JSONResponse:
        """Started, the database answers, and each Kafka consumer has its partitions and
        is fetching from the broker."""
        if not request.app.state.ready:
            return JSONResponse(status_code=503, content={"status": "starting"})
        runtime = get_runtime(request)
        problem = kafka_problem(runtime.broker, within_s=settings.ready_fetch_within_s)
        if problem is not None:
            return JSONResponse(
                status_code=503, content={"status": "kafka unavailable", "error": problem}
            )
        try:
            async with runtime.pool.acquire(timeout=2) as conn:
                counts = await outbox_counts(conn)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            return JSONResponse(
                status_code=503, content={"status": "database unavailable", "error": repr(error)}
            )
        return JSONResponse(
            {
                "status": "ready",
                "outbox_unpublished": counts.unpublished,
                "outbox_parked": counts.parked,
            }
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus metrics"}},
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.json", tags=["operations"])
    async def asyncapi_json(request: Request) -> JSONResponse:
        """The AsyncAPI 3.0 document of this service's Kafka channels."""
        return JSONResponse(request.app.state.asyncapi)

    @app.get("/asyncapi", tags=["operations"], include_in_schema=False)
    async def asyncapi_page() -> RedirectResponse:
        # Only the JSON is served: an HTML viewer would load its scripts from a CDN, which
        # a service must not depend on. Open the JSON in AsyncAPI Studio or any viewer.
        return RedirectResponse("/asyncapi.json")

    app.include_router(spec.router)
    return app


async def _retrying(what: str, start: Callable[[], Awaitable[Any]], timeout: float = 120.0) -> None:
    """Start a Kafka client, waiting (with a deadline) for the broker to answer."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        try:
            await start()
            return
        except KafkaAccessError:
            raise
        except Exception as error:
            if time.monotonic() > deadline:
                raise
            log.warning("waiting for kafka", extra={"what": what, "error": repr(error)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5)


def run(app_factory: Callable[[], FastAPI], settings: ServiceSettings) -> None:
    """The process entry point: JSON logs for the whole process, then the app under uvicorn."""
    import uvicorn

    configure_logging(settings.SERVICE, settings.log_level)

    uvicorn.run(
        app_factory(),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        loop=settings.event_loop,
    )
