"""What an operator alerts on, read from each running service's `/metrics` as Prometheus would.

All three services run as processes. A county board registers interest over HTTP (one event
published by registration, consumed by scheduling and notification, two mails sent); a county
system puts a message that is no CloudEvent and a command the domain refuses on
registration's command topic (both dead-lettered). Every metric of the runbook then shows it:
messages per topic and outcome, handler latency, consumer lag per partition back at zero,
events published per topic, the outbox empty with nothing parked, mails sent.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from shared.contracts.events.registration import RegisterInterest
from shared.contracts.topics import commands_topic, events_topic
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import Endpoints, ServiceProcesses, eventually
from tests.e2e.conftest import PROGRAMME
from tests.e2e.scrape import Scrape
from tests.e2e.test_interest_flow import interest, send_commands

pytestmark = pytest.mark.e2e

SERVICES = ("registration", "scheduling", "notification")
PARTITIONS = 3  # of every topic (shared/contracts/topics.py)


async def test_every_service_reports_what_an_operator_alerts_on(
    services: ServiceProcesses, endpoints: Endpoints, topic_prefix: str
) -> None:
    token = uuid.uuid4().hex[:10]
    events = events_topic("registration", topic_prefix)
    commands = commands_topic("registration", topic_prefix)

    async with httpx.AsyncClient(
        base_url=services.url("registration"), headers=PROGRAMME, timeout=30
    ) as client:
        response = await client.post("/interest-registrations", json=interest(token))
    assert response.status_code == 201, response.text
    refused = Envelope.wrap(
        RegisterInterest.model_validate(interest(token, municipalities=["9998"])),
        source="/test/county-system",
    )
    await send_commands(
        endpoints.kafka_bootstrap,
        commands,
        [([("ce_specversion", b"1.0")], b"{not json"), (refused.headers(), refused.data)],
    )

    async def scrape(service: str) -> Scrape:
        return await Scrape.of(services.url(service))

    # Registration: its event published to its events topic, its outbox empty, nothing
    # parked; both bad commands dead-lettered, counted on the command topic.
    async def registration_settled() -> Scrape | None:
        metrics = await scrape("registration")
        published = metrics.total("ks_outbox_published_total", service="registration", topic=events)
        failed = metrics.total("ks_messages_total", service="registration", topic=commands)
        backlog = metrics.select("ks_outbox_unpublished", service="registration")
        done = published >= 1 and failed >= 2 and backlog and backlog[0].value == 0
        return metrics if done else None

    registration = await eventually(registration_settled, timeout=60, what="registration's metrics")
    outcomes = {
        (sample.labels["type"], sample.labels["outcome"]): sample.value
        for sample in registration.select(
            "ks_messages_total", service="registration", topic=commands
        )
        if sample.value
    }
    # The broken message, of no known type, is dead-lettered; the refused command is too
    # (counted as refused, or as dead-lettered), under its type. Nothing else came.
    refused = {
        (RegisterInterest.TYPE, "rejected"),
        (RegisterInterest.TYPE, "dead-lettered"),
    }
    assert outcomes.pop(("unknown", "dead-lettered"), 0) == 1, outcomes
    assert len(outcomes) == 1 and set(outcomes) <= refused and sum(outcomes.values()) == 1, outcomes

    # Notification: the event handled (and timed), mails sent, none failed.
    async def notification_settled() -> Scrape | None:
        metrics = await scrape("notification")
        handled = metrics.total(
            "ks_messages_total", service="notification", topic=events, outcome="handled"
        )
        sent = metrics.total("ks_mails_total", outcome="sent")
        return metrics if handled >= 1 and sent >= 2 else None

    notification = await eventually(notification_settled, timeout=60, what="mails counted")
    assert notification.total("ks_mails_total", outcome="failed") == 0
    timed = notification.select("ks_handler_seconds_count", service="notification")
    assert sum(s.value for s in timed) >= 1, "handler latency not recorded"
    assert {s.labels["type"] for s in timed} >= {
        "no.kulturskoleradet.registration.interest-registered.v1"
    }
    for sample in timed:  # every observation falls in the last bucket
        top = notification.select(
            "ks_handler_seconds_bucket",
            service="notification",
            type=sample.labels["type"],
            le="+Inf",
        )
        assert [b.value for b in top] == [sample.value], sample
    assert notification.total("ks_handler_seconds_sum", service="notification") > 0

    # Consumer lag: every partition each service reads is reported, and all of it is back
    # at zero once everything written has been handled and committed.
    reads = {
        "registration": [commands],
        "scheduling": [events],
        "notification": [events],
    }

    async def caught_up() -> dict[str, dict[tuple[str, str], float]] | None:
        found = {}
        for service, topics in reads.items():
            metrics = await scrape(service)
            found[service] = {
                (s.labels["topic"], s.labels["partition"]): s.value
                for s in metrics.select("ks_consumer_lag", service=service)
                if s.labels["topic"] in topics
            }
        complete = all(
            {(t, str(p)) for t in reads[service] for p in range(PARTITIONS)} <= set(lags)
            and not any(lags.values())
            for service, lags in found.items()
        )
        return found if complete else None

    await eventually(caught_up, timeout=60, what="every consumer group's lag back at zero")

    # Every service keeps its outbox gauges, and nothing is parked anywhere.
    for service in SERVICES:
        metrics = await scrape(service)
        assert metrics.select("ks_outbox_unpublished", service=service), service
        assert metrics.total("ks_outbox_parked", service=service) == 0, service
