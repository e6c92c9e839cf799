"""One command followed through the platform by its spans: from the HTTP request at
registration, through its handler and outbox row, registration's relay publishing it, the
notification service handling the event, to the mail's SMTP delivery.

Registration and notification run in-process, through their lifespans, on the real Kafka,
PostgreSQL and SMTP sink, so that both record into one in-memory exporter: services run as
processes would each need an exporter of their own (a collector), and the test would then
read spans back over OTLP instead of asserting on them directly. Across Kafka nothing is
shared but the message's `ce_traceparent` header, as between processes. The OTLP export
itself is shown apart, to a receiver of the test's own on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import ClassVar

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.notification.app import create_app as notification_app
from services.notification.app import local_tokens
from services.notification.settings import NotificationSettings
from services.registration.app import create_app as registration_app
from services.registration.settings import LOCAL_API_TOKENS, RegistrationSettings
from shared.contracts.events.registration import InterestRegistered, RegisterInterest
from shared.contracts.topics import events_topic
from shared.messaging import tracing
from shared.messaging.envelope import TRACEPARENT_HEADER
from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.integration.support import headers_of, read_to_end

pytestmark = pytest.mark.integration

PROGRAMME = {"Authorization": "Bearer local-programme"}
BOARD = {"Authorization": "Bearer local-board-vestland"}


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    found = InMemorySpanExporter()
    tracing.enable(SimpleSpanProcessor(found))
    yield found
    tracing.reset()  # off again for the tests after this one


@pytest.fixture
async def platform(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str, exporter: InMemorySpanExporter
) -> AsyncIterator[httpx.AsyncClient]:
    """Registration and notification, started; a client of registration's API."""
    registration = registration_app(
        RegistrationSettings(
            kafka_bootstrap=endpoints.kafka_bootstrap,
            database_url=database.dsns["registration"],
            topic_prefix=topic_prefix,
            relay_poll_interval_s=0.5,
            api_tokens=json.dumps(LOCAL_API_TOKENS),
        )
    )
    notification = notification_app(
        NotificationSettings(
            kafka_bootstrap=endpoints.kafka_bootstrap,
            database_url=database.dsns["notification"],
            topic_prefix=topic_prefix,
            smtp_host=endpoints.smtp_host,
            smtp_port=endpoints.smtp_port,
            mail_poll_interval_s=0.2,
            reply_to_wait_s=1,
            relay_poll_interval_s=0.5,
            api_tokens=json.dumps(local_tokens()),
        )
    )
    async with (
        registration.router.lifespan_context(registration),
        notification.router.lifespan_context(notification),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=registration), base_url="http://test"
        ) as client,
    ):
        yield client


def tree(spans: Sequence[ReadableSpan]) -> str:
    """The spans of one trace as an indented tree: service, kind and name."""
    children: dict[int | None, list[ReadableSpan]] = {}
    ids = {s.context.span_id for s in spans}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        parent = span.parent.span_id if span.parent and span.parent.span_id in ids else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in children.get(parent, []):
            service = span.resource.attributes.get("service.name")
            took = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
            lines.append(f"{'  ' * depth}{service}: {span.name} [{span.kind.name}] {took:.1f} ms")
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return "\n".join(lines)


async def test_the_spans_of_one_command_reach_from_http_to_the_mail(
    platform: httpx.AsyncClient,
    exporter: InMemorySpanExporter,
    topic_prefix: str,
    endpoints: Endpoints,
) -> None:
    client = platform
    token = uuid.uuid4().hex[:10]
    members = await client.post(
        "/members", json={"municipality_numbers": ["4601"]}, headers=PROGRAMME
    )
    assert members.status_code == 200, members.text
    opened = await client.post("/rounds", json={"round_id": "2030"}, headers=PROGRAMME)
    assert opened.status_code == 201, opened.text
    # The caller's own trace context is continued (a gateway's, say).
    caller_trace = uuid.uuid4().hex
    created = await client.post(
        "/interest-registrations",
        headers={**BOARD, "traceparent": f"00-{caller_trace}-{uuid.uuid4().hex[:16]}-01"},
        json={
            "round_id": "2030",
            "branch": "Vestland",
            "municipality_numbers": ["4601"],
            "contact": {"name": "Kari", "email": f"kari-{token}@example.no"},
        },
    )
    assert created.status_code == 201, created.text

    def of_trace() -> list[ReadableSpan]:
        return [
            s
            for s in exporter.get_finished_spans()
            if format(s.context.trace_id, "032x") == caller_trace
        ]

    async def mail_sent() -> list[ReadableSpan] | None:
        found = of_trace()
        return found if any(s.name == "smtp send" for s in found) else None

    spans = await eventually(mail_sent, timeout=60, what="the mail's SMTP span in the trace")
    print(f"\nthe spans of one interest registration, trace {caller_trace}:\n{tree(spans)}")
    by_id = {s.context.span_id: s for s in spans}

    def one(service: str, name: str) -> ReadableSpan:
        found = [
            s
            for s in spans
            if s.name == name and s.resource.attributes.get("service.name") == service
        ]
        assert found, f"no {service} span {name!r} in\n{tree(spans)}"
        return found[0]

    def parent_of(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None and span.parent.span_id in by_id, span.name
        return by_id[span.parent.span_id]

    events = events_topic("registration", topic_prefix)
    request = one("registration", "POST /interest-registrations")
    assert request.kind is SpanKind.SERVER
    assert request.attributes is not None and request.attributes["http.response.status_code"] == 201
    handler = one("registration", f"handle {RegisterInterest.TYPE}")
    assert parent_of(handler) is request
    created_event = next(
        s
        for s in spans
        if s.name == f"create {events}"
        and s.attributes is not None
        and s.attributes["cloudevents.event_type"] == InterestRegistered.TYPE
    )
    assert created_event.kind is SpanKind.PRODUCER and parent_of(created_event) is handler
    published = [s for s in spans if s.name == f"publish {events}"]
    assert any(parent_of(s) is created_event for s in published), tree(spans)
    consumed = [
        s
        for s in spans
        if s.name == f"process {events}"
        and s.resource.attributes.get("service.name") == "notification"
    ]
    assert [parent_of(s) for s in consumed] == [created_event], tree(spans)
    assert consumed[0].kind is SpanKind.CONSUMER
    mails = [s for s in spans if s.name == "smtp send"]
    assert all(m.kind is SpanKind.CLIENT for m in mails)
    assert created_event in [parent_of(m) for m in mails], tree(spans)

    # Each mail's NotificationSent goes on from that mail's span, also when marks are grouped.
    async def marks_published() -> list[ReadableSpan] | None:
        notified = events_topic("notification", topic_prefix)
        found = [s for s in of_trace() if s.name == f"publish {notified}"]
        return found if len(found) >= len(mails) else None

    marks = await eventually(marks_published, what="the NotificationSent events published")
    for mail in mails:
        assert mail.attributes is not None
        sent_id = str(
            uuid.uuid5(uuid.UUID(str(mail.attributes["kulturskole.delivery_id"])), "sent")
        )
        mark = [
            s for s in marks if s.attributes and s.attributes["cloudevents.event_id"] == sent_id
        ]
        assert [parent_of(s) for s in mark] == [mail], tree(of_trace())

    # The same context is on the wire, as the CloudEvents distributed-tracing extension.
    records = await read_to_end(endpoints.kafka_bootstrap, events)
    sent = [
        headers_of(r) for r in records if headers_of(r).get("ce_type") == InterestRegistered.TYPE
    ]
    assert [h[TRACEPARENT_HEADER].split("-")[1] for h in sent] == [caller_trace]


class Collector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver of the test's own: keeps what is posted to it."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    tracing.reset()


def test_with_an_endpoint_configured_spans_go_out_over_otlp(collector: str) -> None:
    endpoint = tracing.otlp_endpoint(collector)
    assert endpoint == f"{collector}/v1/traces"
    tracing.export_to(endpoint)
    with tracing.span("registration", "handle something"):
        pass
    tracing.flush()
    ((path, content_type, body),) = Collector.received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    request = ExportTraceServiceRequest.FromString(body)
    (resource,) = request.resource_spans
    service = {a.key: a.value.string_value for a in resource.resource.attributes}
    assert service["service.name"] == "registration"
    assert [s.name for scope in resource.scope_spans for s in scope.spans] == ["handle something"]
