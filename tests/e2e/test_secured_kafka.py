"""The platform against a secured broker: SASL_SSL with SCRAM-SHA-512, ACLs enforced.

A private broker of the same jars (shared/testing/kafka_broker.py) takes clients only on
SASL_SSL, each service logs in as its own user with the CA file, and the ACLs come from
`kulturskole kafka acls --apply`, as an operator would create them. PostgreSQL and the SMTP
sink are the shared ones.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shared.contracts.topics import events_topic
from shared.messaging.kafka_admin import ensure_topics, topic_configs
from shared.runtime.catalog import Catalog, find, names, topic_specs
from shared.runtime.kafka_access import Operation, create_acls, describe_acls, service_acls
from shared.testing.fixtures import (
    ROOT,
    Endpoints,
    ServiceProcesses,
    SinkClient,
    TestDatabase,
    eventually,
    free_port,
)
from shared.testing.kafka_broker import PrivateKafka, missing_prerequisite
from tests.e2e.conftest import PROGRAMME, prepare, rounds_known_to_notification
from tests.e2e.test_interest_flow import interest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(missing_prerequisite() is not None, reason=str(missing_prerequisite())),
]


@pytest.fixture(scope="module")
async def secured(
    tmp_path_factory: pytest.TempPathFactory, catalog: Catalog
) -> AsyncIterator[PrivateKafka]:
    broker = PrivateKafka(
        tmp_path_factory.mktemp("secured-kafka"), secure=True, users=names(catalog)
    )
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


def kulturskole(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command line, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def processes(
    endpoints: Endpoints,
    database: TestDatabase,
    prefix: str,
    logs: Path,
    catalog: Catalog,
    broker: PrivateKafka,
    **users: str,
) -> ServiceProcesses:
    """The services against `broker`, each as its own user (or as `users[service]`)."""
    overrides = {
        service: broker.connection(users.get(service, service)).as_env(
            find(catalog, service).env_prefix.upper()
        )
        for service in names(catalog)
    }
    return ServiceProcesses(endpoints, database, prefix, logs, catalog, overrides=overrides)


def command_lines() -> list[str]:
    """The argument lists of every process now running, as /proc shows them to anyone."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            found.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue  # ended meanwhile
    return found


def exits_quickly(procs: ServiceProcesses, service: str, timeout: float = 60) -> tuple[int, str]:
    """Start `service`, wait for its process to end; its exit code and its log."""
    procs.ports[service] = free_port()
    log = procs.logs / f"{service}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", find(procs.catalog, service).module],
            env=procs.env(service),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    procs.procs[service] = proc
    started = time.monotonic()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"{service} still runs after {timeout}s; see {log}") from None
    assert time.monotonic() - started < timeout
    return code, log.read_text()


async def test_the_services_work_as_their_own_users_with_the_acls_the_cli_creates(
    secured: PrivateKafka,
    endpoints: Endpoints,
    database: TestDatabase,
    logs_dir: Path,
    catalog: Catalog,
    sink: SinkClient,
) -> None:
    prefix = f"s{uuid.uuid4().hex[:10]}"
    await ensure_topics(secured.admin, topic_specs(catalog, prefix))
    applied = kulturskole(
        "kafka", "acls", "--apply", "--prefix", prefix, env=secured.admin.as_env("KS_")
    )
    assert applied.returncode == 0, applied.stderr
    wanted = {acl for service in catalog for acl in service_acls(service, prefix)}
    assert len(applied.stdout.splitlines()) == len(wanted)
    assert wanted <= set(await describe_acls(secured.admin))

    procs = processes(endpoints, database, prefix, logs_dir, catalog, secured)
    try:
        procs.start()
        prepare(procs.url("registration"))
        await rounds_known_to_notification(database.dsns["notification"])
        token = uuid.uuid4().hex[:10]
        async with httpx.AsyncClient(
            base_url=procs.url("registration"), headers=PROGRAMME
        ) as client:
            response = await client.post("/interest-registrations", json=interest(token))
        assert response.status_code == 201, response.text

        async def receipt() -> list[dict[str, object]]:
            found = await sink.messages(containing=token)
            return [m for m in found if m["envelope_to"] == [f"kari-{token}@example.no"]]

        mails = await eventually(receipt, timeout=60, what="the receipt mail")
        assert "Vestland" in str(mails[0]["subject"])
        # No password on any command line of this machine (the broker's among them).
        assert secured.secured is not None
        passwords = [secured.secured.password(user) for user in secured.secured.users]
        assert not [line for line in command_lines() if any(p in line for p in passwords)]
    finally:
        procs.stop_all()
    for service in names(catalog):
        text = (logs_dir / f"{service}.log").read_text()
        assert secured.secured is not None
        assert secured.secured.password(service) not in text


async def test_a_service_without_one_acl_stops_at_start_naming_the_topic(
    secured: PrivateKafka,
    endpoints: Endpoints,
    database: TestDatabase,
    logs_dir: Path,
    catalog: Catalog,
) -> None:
    prefix = f"s{uuid.uuid4().hex[:10]}"
    await ensure_topics(secured.admin, topic_specs(catalog, prefix))
    events = events_topic("registration", prefix)
    registration = find(catalog, "registration")
    # Every ACL the registration service needs but WRITE on its own events topic.
    acls = service_acls(registration, prefix)
    allowed = [
        acl
        for acl in acls
        if not (acl.resource_name == events and acl.operation is Operation.WRITE)
    ]
    assert len(allowed) == len(acls) - 1
    await create_acls(secured.admin, allowed)

    procs = processes(endpoints, database, prefix, logs_dir, catalog, secured)
    code, log = exits_quickly(procs, "registration")
    assert code == 3  # uvicorn's start-up failure
    assert f"topic {events}: not authorized to WRITE" in log
    assert "User:registration" in log


async def test_a_wrong_password_is_refused_at_start_without_showing_it(
    secured: PrivateKafka,
    endpoints: Endpoints,
    database: TestDatabase,
    logs_dir: Path,
    catalog: Catalog,
    tmp_path: Path,
) -> None:
    prefix = f"s{uuid.uuid4().hex[:10]}"
    await ensure_topics(secured.admin, topic_specs(catalog, prefix))
    wrong = "not-" + uuid.uuid4().hex
    procs = processes(endpoints, database, prefix, logs_dir, catalog, secured)
    settings = find(catalog, "registration").env_prefix.upper()
    password_file = tmp_path / "wrong.password"
    password_file.write_text(wrong + "\n")
    procs.overrides["registration"][f"{settings}KAFKA_SASL_PASSWORD_FILE"] = str(password_file)

    code, log = exits_quickly(procs, "registration")
    assert code == 3  # uvicorn's start-up failure
    assert "refused the login of User:registration" in log
    assert "SaslAuthenticationFailed" in log
    assert wrong not in log


async def test_the_set_up_job_makes_topics_and_acls_as_the_administrator(
    secured: PrivateKafka,
    endpoints: Endpoints,
    database: TestDatabase,
    logs_dir: Path,
    catalog: Catalog,
) -> None:
    prefix = f"s{uuid.uuid4().hex[:10]}"
    procs = processes(endpoints, database, prefix, logs_dir, catalog, secured)
    env = secured.admin.as_env("KS_SETUP_")
    for service in names(catalog):
        procs.ports[service] = free_port()
        own = find(catalog, service).env_prefix.upper()
        env |= {k: v for k, v in procs.env(service).items() if k.startswith(own)}
        env[f"{own}KAFKA_MIN_INSYNC_REPLICAS"] = "1"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "deploy/setup.py", "--skip-provision", "--acls"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    configs = await topic_configs(secured.admin, [t.name for t in topic_specs(catalog, prefix)])
    assert {c["min.insync.replicas"] for c in configs.values()} == {"1"}
    held = set(await describe_acls(secured.admin))
    for service in catalog:
        assert set(service_acls(service, prefix)) <= held
    assert "ACLs in place for User:registration" in done.stdout
