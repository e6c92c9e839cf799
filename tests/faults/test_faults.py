"""Nothing lost, nothing doubled: a stream of commands across the three services, with a fault
in the middle of it, one pass per fault (see passes.py for what a pass does and checks).

The first four passes share one platform on a three-node cluster (conftest.py), each with a
round of its own. The fifth runs a platform of its own against a SASL_SSL broker with ACLs:
a pass against another Kafka is another `KafkaTarget` given to `running_platform`, then
`run_pass` with one of the faults.
"""

from __future__ import annotations

import pytest

from shared.runtime.catalog import Catalog
from shared.testing.fixtures import SinkClient
from shared.testing.kafka_broker import PrivateKafka
from shared.testing.kafka_cluster import KafkaCluster
from shared.testing.postgres import PrivatePostgres
from tests.faults.conftest import ROUNDS, running_platform, secured_target
from tests.faults.passes import (
    kill_each_service,
    kill_leading_broker,
    run_pass,
    stop_postgres,
    stop_smtp,
    stored,
)
from tests.faults.platform import Platform
from tests.integration.test_notification_mail import SinkProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]


async def test_killing_the_leading_broker_loses_and_doubles_nothing(
    platform: Platform, cluster: KafkaCluster, request: pytest.FixtureRequest
) -> None:
    await run_pass(platform, "broker", ROUNDS["broker"], kill_leading_broker(cluster), request)


async def test_killing_each_service_in_turn_loses_and_doubles_nothing(
    platform: Platform, request: pytest.FixtureRequest
) -> None:
    await run_pass(platform, "services", ROUNDS["services"], kill_each_service, request)


async def test_stopping_postgres_loses_and_doubles_nothing(
    platform: Platform, postgres: PrivatePostgres, request: pytest.FixtureRequest
) -> None:
    await run_pass(platform, "postgres", ROUNDS["postgres"], stop_postgres(postgres), request)


async def test_stopping_the_smtp_server_loses_and_doubles_nothing(
    platform: Platform, smtp: SinkProcess, request: pytest.FixtureRequest
) -> None:
    kept: dict[str, set[str]] = {}
    await run_pass(platform, "smtp", ROUNDS["smtp"], stop_smtp(smtp, kept), request)
    # The restarted sink serves what it took before it stopped, from its store.
    assert kept
    for address, ids in kept.items():
        assert ids <= await stored(SinkClient(smtp.web), address), address


async def test_on_a_secured_broker_with_acls_killing_each_service_loses_and_doubles_nothing(
    secured_kafka: PrivateKafka,
    postgres: PrivatePostgres,
    smtp: SinkProcess,
    catalog: Catalog,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> None:
    """The fifth pass: the services log in to a SASL_SSL broker as their own users, allowed
    only what their ACLs give them, and one process of each is killed in turn (a rebalance
    that logs in again); nothing lost, nothing doubled there either."""
    target = secured_target(secured_kafka, catalog)
    async with running_platform(
        tmp_path_factory.mktemp("faults-sasl"),
        target,
        postgres,
        smtp,
        catalog,
        [ROUNDS["boards"], ROUNDS["sasl"]],
    ) as secured:
        await run_pass(secured, "sasl", ROUNDS["sasl"], kill_each_service, request)


async def test_no_personal_data_on_the_public_topics(platform: Platform) -> None:
    """Every event the passes published on the public event topics, searched for the names,
    e-mail addresses and phone numbers of everyone in the stream: they belong on the
    restricted contacts topic only (where the same search finds them)."""
    assert platform.events and platform.contacts
    await platform.events.catch_up()
    await platform.contacts.catch_up()
    people = platform.people
    assert len(people.made) >= 50, "the passes ran first and named their people"
    public = [value.decode(errors="replace") for _, value in platform.events.raw]
    assert len(public) > 1000
    found = people.found_in("\n".join(public))
    assert not found, f"personal data on public topics: {sorted(found)[:10]}"
    # The same search finds them where they belong.
    restricted = people.found_in("\n".join(v.decode() for _, v in platform.contacts.raw))
    everyone = {n.lower() for p in people.made for n in p.needles}
    assert len(restricted) > len(everyone) // 2 and restricted <= everyone
