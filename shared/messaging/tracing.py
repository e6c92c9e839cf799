"""Traces with OpenTelemetry: one trace from an HTTP request through its handler, the outbox,
the relay's publish, each consumer's handling, and on to the mail's SMTP delivery.

Across Kafka the W3C trace context travels as the CloudEvents distributed-tracing extension
(`ce_traceparent`, `ce_tracestate`), written into the envelope when the outbox row is made,
so it is stored with the row and the relay's publish continues the handler's trace.

Off unless an OTLP endpoint is configured (`KS_<SERVICE>_OTLP_ENDPOINT`, or the standard
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). While off, `active()`
is false and the code on a message's path does no trace work at all: no span, no context
attached, no header written or parsed.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import asyncpg
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

INSTRUMENTATION = "kulturskole"

_PROPAGATOR = TraceContextTextMapPropagator()
# Every service of the process sends its spans to these (one service per process in a
# deployment; several in a test that runs them in-process).
_processors: list[SpanProcessor] = []
# One provider per service, so each span names its service (`service.name`).
_providers: dict[str, TracerProvider] = {}
_exporting: set[str] = set()


def active() -> bool:
    """Spans are recorded: the one test on the hot path while tracing is off."""
    return bool(_processors)


def enable(processor: SpanProcessor) -> None:
    """Send every service's spans to `processor` from now on."""
    if processor in _processors:
        return
    _processors.append(processor)
    for provider in _providers.values():
        provider.add_span_processor(processor)


def reset() -> None:
    """Off again, the spans recorded so far flushed (tests; a process shutting down)."""
    for provider in _providers.values():
        provider.shutdown()
    _providers.clear()
    _processors.clear()
    _exporting.clear()


def flush() -> None:
    for provider in _providers.values():
        provider.force_flush(timeout_millis=5000)


def otlp_endpoint(configured: str) -> str | None:
    """Where spans go: the service's own setting (a collector's base URL), else the standard
    OpenTelemetry variables; None when none is set, or when `OTEL_SDK_DISABLED` is true."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if configured:
        return configured.rstrip("/") + "/v1/traces"
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return base.rstrip("/") + "/v1/traces" if base else None


def export_to(endpoint: str) -> None:
    """Batch the spans and send them over OTLP/HTTP to `endpoint` (once per process)."""
    if endpoint in _exporting:
        return
    # Imported here: a process that does not export never loads the exporter (nor protobuf).
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    _exporting.add(endpoint)
    enable(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    log.info("traces exported over OTLP", extra={"endpoint": endpoint})


_NOOP = trace.NoOpTracer()


def tracer(service: str) -> Tracer:
    """The tracer of `service`; a no-op one while tracing is off."""
    if not _processors:
        return _NOOP
    provider = _providers.get(service)
    if provider is None:
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        for processor in _processors:
            provider.add_span_processor(processor)
        _providers[service] = provider
    return provider.get_tracer(INSTRUMENTATION)


def context_of(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    """The remote parent a `traceparent` names; None when there is none or it is malformed
    (a malformed one starts a new trace: it is no reason to refuse a message)."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    found = _PROPAGATOR.extract(carrier)
    return found if trace.get_current_span(found).get_span_context().is_valid else None


def current_context_headers() -> tuple[str | None, str | None]:
    """The current span's `traceparent` and `tracestate` (None without a recording span)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent"), carrier.get("tracestate")


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id in a `traceparent` (`00-<trace id>-<parent id>-<flags>`), for logs."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def current_trace_id() -> str | None:
    if not _processors:
        return None
    found = trace.get_current_span().get_span_context()
    return format(found.trace_id, "032x") if found.is_valid else None


@contextlib.contextmanager
def span(
    service: str,
    name: str,
    *,
    parent: Context | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span | None]:
    """A span of `service` around the block, the current one inside it; nothing while off.
    `parent` (a remote context) replaces the current one as the parent."""
    if not _processors:
        yield None
        return
    with tracer(service).start_as_current_span(
        name, context=parent, kind=kind, attributes=dict(attributes or {})
    ) as started:
        yield started


async def inbox_parents(
    db: asyncpg.Pool | asyncpg.Connection, message_ids: Sequence[str]
) -> dict[str, Context]:
    """The trace each of these handled messages came with (from the inbox), for work done
    later because of them: a span of that work joins the message's trace."""
    if not _processors or not message_ids:
        return {}
    rows = await db.fetch(
        "SELECT message_id, traceparent FROM inbox"
        " WHERE message_id = ANY($1::text[]) AND traceparent IS NOT NULL",
        list(set(message_ids)),
    )
    found: dict[str, Context] = {}
    for row in rows:
        parent = context_of(row["traceparent"])
        if parent is not None:
            found[row["message_id"]] = parent
    return found
