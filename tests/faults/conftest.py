"""The faults suite's platform: a private three-node Kafka cluster, a private PostgreSQL, a
private SMTP sink and two processes of each service, started once for the module's passes
(each pass has a round of its own, so its effects are counted apart from the others').

`KS_FAULTS_COMMANDS` (default 2000) is the number of commands per pass, `KS_FAULTS_RATE`
(default 100) how many the stream releases per second (tests/faults/passes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.runtime.catalog import Catalog, find, names
from shared.testing.fixtures import Endpoints
from shared.testing.kafka_broker import BrokerUnavailable, PrivateKafka, missing_prerequisite
from shared.testing.kafka_cluster import KafkaCluster
from shared.testing.postgres import PostgresUnavailable, PrivatePostgres, server_bindir
from tests.faults.passes import REPORT
from tests.faults.platform import KafkaTarget, Platform
from tests.integration.test_notification_mail import SinkProcess

# The round of the boards' interest, then one round per pass.
ROUNDS = {
    "boards": "2030",
    "broker": "2031",
    "services": "2032",
    "postgres": "2033",
    "smtp": "2034",
    "sasl": "2035",
}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("faults: nothing lost, nothing doubled")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KafkaCluster]:
    reason = missing_prerequisite()
    if reason:
        pytest.skip(f"no private Kafka cluster here: {reason}")
    found = KafkaCluster(tmp_path_factory.mktemp("kafka-cluster"))
    try:
        await found.start()
    except BrokerUnavailable as error:
        pytest.skip(str(error))
    try:
        yield found
    finally:
        await found.stop()


@pytest.fixture(scope="module")
async def secured_kafka(
    tmp_path_factory: pytest.TempPathFactory, catalog: Catalog
) -> AsyncIterator[PrivateKafka]:
    """One broker that takes clients only on SASL_SSL (SCRAM-SHA-512) and enforces ACLs, with a
    user for each service and the admin."""
    reason = missing_prerequisite()
    if reason:
        pytest.skip(f"no private Kafka broker here: {reason}")
    broker = PrivateKafka(
        tmp_path_factory.mktemp("secured-kafka"), secure=True, users=names(catalog)
    )
    try:
        await broker.start()
    except BrokerUnavailable as error:
        pytest.skip(str(error))
    try:
        yield broker
    finally:
        await broker.stop()


def secured_target(broker: PrivateKafka, catalog: Catalog) -> KafkaTarget:
    """The secured broker as the platform meets it in production: the admin sets the topics
    and each service's ACLs up, each service logs in as its own user with the CA file, and
    the test's own clients read as the admin."""
    admin = broker.admin
    return KafkaTarget(
        "SASL_SSL broker with ACLs",
        broker.bootstrap,
        client=admin.security_kwargs(),
        admin=admin,
        per_service={
            service: broker.connection(service).as_env(find(catalog, service).env_prefix.upper())
            for service in names(catalog)
        },
        acls=True,
    )


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    if server_bindir() is None:
        pytest.skip("no PostgreSQL server binaries here")
    try:
        server = PrivatePostgres()
    except PostgresUnavailable as error:
        pytest.skip(str(error))
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkProcess]:
    sink = SinkProcess(tmp_path_factory.mktemp("faults-mail"))
    sink.start()
    yield sink
    sink.stop()


@contextlib.asynccontextmanager
async def running_platform(
    workdir: Path,
    target: KafkaTarget,
    postgres: PrivatePostgres,
    smtp: SinkProcess,
    catalog: Catalog,
    rounds: list[str],
) -> AsyncIterator[Platform]:
    """The services (two processes each) on `target`, the private database and mail server,
    the rounds open and every board known; stopped afterwards."""
    endpoints = Endpoints(
        kafka_bootstrap=target.bootstrap,
        pg_superuser_dsn=postgres.superuser_dsn,
        smtp_host="127.0.0.1",
        smtp_port=smtp.smtp_port,
        smtp_web=smtp.web,
    )
    found = Platform(workdir, target, endpoints, smtp.folder, catalog)
    try:
        await asyncio.wait_for(found.start(rounds), 240)
        yield found
    finally:
        await found.stop()


@pytest.fixture(scope="module")
async def platform(
    cluster: KafkaCluster,
    postgres: PrivatePostgres,
    smtp: SinkProcess,
    catalog: Catalog,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Platform]:
    target = KafkaTarget(
        "three-node cluster", cluster.bootstrap, replication_factor=3, min_insync_replicas=2
    )
    async with running_platform(
        tmp_path_factory.mktemp("faults"), target, postgres, smtp, catalog, list(ROUNDS.values())
    ) as found:
        yield found
