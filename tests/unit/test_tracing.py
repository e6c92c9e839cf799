"""The trace context on messages and in logs: the CloudEvents distributed-tracing extension
on the wire, nothing of it while tracing is off, and the fields every log line about a
message carries."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.contracts.events.registration import ContactDetails, Language
from shared.messaging import tracing
from shared.messaging.envelope import (
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    Envelope,
    current_message,
    header_log_fields,
)
from shared.messaging.outbox import OutboxRow
from shared.runtime.logs import MessageFields, json_formatter

pytestmark = pytest.mark.unit

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def contact() -> ContactDetails:
    return ContactDetails(
        person_id=uuid.uuid4(), name="Kari", email="kari@example.no", language=Language("nb")
    )


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    found = InMemorySpanExporter()
    tracing.enable(SimpleSpanProcessor(found))
    yield found
    tracing.reset()


def test_the_trace_context_travels_as_the_cloudevents_extension() -> None:
    envelope = Envelope.wrap(contact(), source="/t", traceparent=TRACEPARENT, tracestate="k=v")
    headers = dict(envelope.headers())
    assert headers[TRACEPARENT_HEADER] == TRACEPARENT.encode()
    assert headers[TRACESTATE_HEADER] == b"k=v"
    back = Envelope.from_kafka(envelope.headers(), envelope.data)
    assert (back.traceparent, back.tracestate) == (TRACEPARENT, "k=v")


def test_while_tracing_is_off_no_trace_header_is_written() -> None:
    assert not tracing.active()
    with tracing.span("unit", "nothing") as span:
        assert span is None
        row = OutboxRow.of("t.registration.contacts", "k", Envelope.wrap(contact(), source="/t"))
    names = [name for name, _ in json.loads(row.headers)]
    assert TRACEPARENT_HEADER not in names and TRACESTATE_HEADER not in names


def test_an_outbox_row_written_in_a_span_carries_its_context(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.span("unit", "handler") as span:
        assert span is not None
        row = OutboxRow.of("t.registration.contacts", "k", Envelope.wrap(contact(), source="/t"))
        here = span.get_span_context()
    headers = dict(json.loads(row.headers))
    # Flags after the last dash (sampled, and random trace id in W3C trace context level 2).
    assert headers[TRACEPARENT_HEADER].startswith(f"00-{here.trace_id:032x}-{here.span_id:016x}-")
    assert [s.name for s in spans.get_finished_spans()] == ["handler"]
    assert spans.get_finished_spans()[0].resource.attributes["service.name"] == "unit"


def test_a_malformed_traceparent_starts_a_new_trace_rather_than_failing() -> None:
    assert tracing.context_of("00-not-a-trace-01") is None
    assert tracing.context_of("") is None
    assert tracing.context_of(TRACEPARENT) is not None
    envelope = Envelope.from_kafka(
        [*Envelope.wrap(contact(), source="/t").headers(), (TRACEPARENT_HEADER, b"garbage")],
        b"{}",
    )
    assert envelope.traceparent == "garbage"
    assert envelope.log_fields()["trace_id"] is None


def test_the_endpoint_is_the_services_own_setting_or_the_standard_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SDK_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    assert tracing.otlp_endpoint("") is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert tracing.otlp_endpoint("") == "http://collector:4318/v1/traces"
    assert tracing.otlp_endpoint("http://mine:4318") == "http://mine:4318/v1/traces"
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.otlp_endpoint("http://mine:4318") is None


def test_a_line_written_while_a_handler_runs_names_its_message() -> None:
    envelope = Envelope.wrap(contact(), source="/t", traceparent=TRACEPARENT)
    record = logging.LogRecord("h", logging.INFO, __file__, 1, "saved", None, None)
    token = current_message.set(envelope)
    try:
        assert MessageFields().filter(record)
    finally:
        current_message.reset(token)
    written = json.loads(json_formatter("unit").format(record))
    assert written["ce_id"] == envelope.id
    assert written["ce_type"] == ContactDetails.TYPE
    assert written["correlation_id"] == envelope.id  # it started its conversation
    assert written["trace_id"] == TRACE


def test_a_record_that_does_not_decode_is_named_by_what_its_headers_say() -> None:
    caused = Envelope.wrap(contact(), source="/t")
    envelope = Envelope.wrap(contact(), source="/t", caused_by=caused, traceparent=TRACEPARENT)
    found = header_log_fields([*envelope.headers(), ("ce_time", b"\xff")])
    assert found == {
        "ce_id": envelope.id,
        "ce_type": ContactDetails.TYPE,
        "correlation_id": caused.id,
        "trace_id": TRACE,
    }
    assert header_log_fields(None) == {
        "ce_id": None,
        "ce_type": None,
        "correlation_id": None,
        "trace_id": None,
    }
