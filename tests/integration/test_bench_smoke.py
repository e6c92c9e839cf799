"""The benchmark harness runs end to end on a tiny load and reports figures that add up.

No timing is asserted: the figures' consistency is (every command's events and mails are
counted, percentiles are ordered, a command's mail comes after its event), and that the run
removes the topics and database it made.
"""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from bench.report import cpu_per_command, summary, write_json
from bench.run import Options, Scenario, run
from bench.smtp import find_smtp_sink
from shared.messaging.kafka_admin import topics_with_prefix
from shared.testing.fixtures import Endpoints

pytestmark = pytest.mark.integration

COMMANDS = 20


async def test_a_tiny_burst_is_measured_end_to_end_and_leaves_nothing_behind(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    # Postfix's smtp-sink where installed (make bench installs it); else the stack's sink.
    smtp = None if find_smtp_sink() else (endpoints.smtp_host, endpoints.smtp_port)
    options = Options(
        scenarios=[Scenario("burst", COMMANDS)],
        ceiling_connections=0,
        drain_timeout_s=120,
        smtp=smtp,
        log=lambda _: None,
    )
    report = await run(options, endpoints)

    [scenario] = report["scenarios"]
    figures = scenario["figures"]
    assert scenario["drained"] is True
    assert (figures["commands"], figures["events_published"]) == (COMMANDS, COMMANDS)
    assert figures["mails_sent"] == figures["mails_expected"] == 2 * COMMANDS
    latency = figures["latency_ms"]
    for stage in ("registration_stage", "mail_stage", "end_to_end"):
        d = latency[stage]
        assert 0 < d["p50"] <= d["p95"] <= d["p99"] <= d["max"], (stage, d)
    assert latency["end_to_end"]["count"] == COMMANDS
    assert latency["planning"]["count"] == 2 * COMMANDS  # each mail's planning, after its event
    # Each command's mails are accepted after its event is published.
    assert latency["end_to_end"]["p50"] >= latency["registration_stage"]["p50"]
    assert latency["end_to_end"]["max"] >= latency["registration_stage"]["max"]
    rates = figures["throughput_per_s"]
    assert rates["registration_stage_commands"]["items"] == COMMANDS
    assert rates["mail_stage_mails"]["items"] == 2 * COMMANDS
    assert all(mb > 0 for mb in scenario["peak_rss_mb"].values())
    assert set(scenario["peak_rss_mb"]) == {"registration", "notification"}
    assert scenario["samples"], "no backlog samples were taken"
    cpu = scenario["cpu_percent"]
    # Both services worked, and the machine at least as much as they did together.
    assert cpu["registration"] > 0 and cpu["notification"] > 0, cpu
    assert cpu["machine"] >= cpu["registration"] + cpu["notification"] - 1, cpu
    assert cpu["postgresql"] > 0, cpu  # the services' backends answered them
    assert set(figures["repeated"].values()) == {0}, figures["repeated"]
    if smtp is None:  # smtp-sink counts what it accepts
        assert scenario["smtp_accepted"] == 2 * COMMANDS

    bare = scenario["bare"]
    assert bare["chain_batched"]["messages"] == COMMANDS
    assert bare["chain_per_message"]["messages"] == COMMANDS
    assert bare["chain_with_work"]["messages"] == COMMANDS
    assert bare["sender"]["messages"] == 2 * COMMANDS
    assert bare["chain_batched"]["per_second"] > 0 and bare["sender"]["per_second"] > 0
    assert scenario["ratios"]["registration_vs_bare_batched"] > 0
    assert scenario["ratios"]["registration_vs_bare_with_work"] > 0

    text = summary(report)
    assert f"burst {COMMANDS}" in text and "end to end" in text
    written = write_json(report, tmp_path)
    assert json.loads(written.read_text())["scenarios"][0]["figures"] == figures

    assert await topics_with_prefix(endpoints.kafka_bootstrap, scenario["topic_prefix"]) == []
    conn = await asyncpg.connect(endpoints.pg_superuser_dsn)
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname = $1", scenario["database"]
        )
    finally:
        await conn.close()
    assert left == 0


async def test_one_stage_at_a_time_holds_the_mail_until_registration_and_planning_are_done(
    endpoints: Endpoints,
) -> None:
    smtp = None if find_smtp_sink() else (endpoints.smtp_host, endpoints.smtp_port)
    options = Options(
        scenarios=[Scenario("stages", COMMANDS)],
        bare=False,
        drain_timeout_s=120,
        smtp=smtp,
        log=lambda _: None,
    )
    report = await run(options, endpoints)

    [scenario] = report["scenarios"]
    figures, stages = scenario["figures"], scenario["stages"]
    assert scenario["drained"] is True
    assert figures["mails_sent"] == figures["mails_expected"] == 2 * COMMANDS
    assert stages["registration_commands"]["items"] == COMMANDS
    assert stages["planning_mails"]["items"] == stages["sending_mails"]["items"] == 2 * COMMANDS
    # Held means held: every mail was planned before sending began, and none went before.
    assert stages["planning_started"] < stages["last_planned_at"] < stages["sending_started"]
    assert stages["first_sent_at"] > stages["sending_started"]
    assert "one stage at a time" in summary(report)


async def test_two_replicas_of_each_service_share_the_work_and_repeat_nothing(
    endpoints: Endpoints,
) -> None:
    smtp = None if find_smtp_sink() else (endpoints.smtp_host, endpoints.smtp_port)
    options = Options(
        scenarios=[Scenario("burst", COMMANDS), Scenario("burst", COMMANDS, replicas=2)],
        bare=False,
        drain_timeout_s=120,
        smtp=smtp,
        log=lambda _: None,
    )
    report = await run(options, endpoints)

    one, two = report["scenarios"]
    assert two["drained"] is True
    figures = two["figures"]
    assert figures["mails_sent"] == figures["mails_expected"] == 2 * COMMANDS
    assert set(figures["repeated"].values()) == {0}, figures["repeated"]
    if smtp is None:
        assert two["smtp_accepted"] == 2 * COMMANDS  # no mail went out twice
    assert set(two["peak_rss_mb"]) == {
        "registration",
        "notification",
        "registration#2",
        "notification#2",
    }
    cost = cpu_per_command(two)
    assert cost is not None
    # Each service's cost is its replicas' together.
    cpu, seconds = two["cpu_percent"], two["cpu_percent"]["seconds"]
    both = (cpu["registration"] + cpu["registration#2"]) / 100 * seconds * 1000 / COMMANDS
    assert cost["registration"] == pytest.approx(both)
    text = summary(report)
    assert f"burst {COMMANDS}, 2 replicas beside one replica" in text
    assert "2 replicas / 1:" in text
    assert one["figures"]["mails_sent"] == 2 * COMMANDS
