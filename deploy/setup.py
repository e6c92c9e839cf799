"""One-off set-up of a deployment: Kafka topics, database roles and schemas, migrations.

    python deploy/setup.py                    # everything; safe to run again
    python deploy/setup.py --skip-provision   # roles and schemas are made by a DBA
    python deploy/setup.py --skip-topics      # topics are managed elsewhere
    python deploy/setup.py --acls             # also each service's Kafka ACLs

It does what the local stack runner does, but against endpoints from the environment, so a
compose job or a Kubernetes Job can run it before the services start:

- each service's own settings (`KS_<SERVICE>_DATABASE_URL`, `KS_<SERVICE>_KAFKA_BOOTSTRAP`,
  `KS_<SERVICE>_TOPIC_PREFIX`, `KS_<SERVICE>_DB_SCHEMA`), read the way the service reads
  them; the role and password in each DSN are the ones provisioned;
- each service's Kafka connection (`KS_<SERVICE>_KAFKA_SECURITY_PROTOCOL`, `..._SASL_*`,
  `..._SSL_*`, see docs/operations.md) and the replicas of the topics it owns
  (`KS_<SERVICE>_KAFKA_REPLICATION_FACTOR`, `KS_<SERVICE>_KAFKA_MIN_INSYNC_REPLICAS`);
- `KS_SETUP_KAFKA_BOOTSTRAP`, `KS_SETUP_KAFKA_SECURITY_PROTOCOL`, `KS_SETUP_KAFKA_SASL_*`, …:
  the connection of an administrator (topics, configs, ACLs need more than a service may
  do); used when `KS_SETUP_KAFKA_BOOTSTRAP` or `KS_SETUP_KAFKA_SASL_USERNAME` is set,
  otherwise each service's own connection is;
- `--acls`: each service's ACLs (`kulturskole kafka acls`) for `User:<its SASL user name>`;
- `KS_SETUP_PG_SUPERUSER_DSN`: a superuser (or CREATEROLE/CREATEDB) connection, only for
  provisioning;
- `KS_SETUP_SERVICES`: which services to prepare, comma-separated (default: every service
  in `services/catalog.py`);
- `KS_SETUP_TIMEOUT_S`: how long to wait for Kafka and PostgreSQL to answer (default 180).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
from pydantic_settings import SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.catalog import SERVICES  # noqa: E402
from shared.db.migrations import migrate  # noqa: E402
from shared.db.pool import connect  # noqa: E402
from shared.db.provision import provision  # noqa: E402
from shared.messaging.kafka_admin import ensure_topics, wait_for_kafka  # noqa: E402
from shared.messaging.kafka_client import KafkaClientSettings, KafkaConnection  # noqa: E402
from shared.runtime.catalog import ServiceDeclaration, find, names, topic_specs  # noqa: E402
from shared.runtime.kafka_access import create_acls, service_acls  # noqa: E402
from shared.runtime.settings import ServiceSettings  # noqa: E402

# aiokafka logs every refused connection while the broker boots; readiness is polled anyway.
logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def log(message: str) -> None:
    print(f"[setup] {message}", flush=True)


@dataclass(frozen=True)
class Target:
    declaration: ServiceDeclaration[Any]
    settings: ServiceSettings
    migrations: Path

    @property
    def service(self) -> str:
        return self.declaration.name

    @property
    def role(self) -> str:
        return unquote(urlsplit(self.settings.database_url).username or "")

    @property
    def password(self) -> str:
        return unquote(urlsplit(self.settings.database_url).password or "")

    @property
    def database(self) -> str:
        return urlsplit(self.settings.database_url).path.lstrip("/")


def target(declaration: ServiceDeclaration[Any]) -> Target:
    """The service's settings, read from the environment as the service itself reads them."""
    settings = declaration.settings()
    return Target(declaration, settings, declaration.spec(settings).migrations)


async def wait_for_postgres(dsn: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"[setup] PostgreSQL did not answer in {timeout:.0f}s: {error!r}"
                ) from error
            await asyncio.sleep(1)  # polling, bounded by the deadline
            continue
        await conn.close()
        return


class SetupKafkaSettings(KafkaClientSettings):
    """The administrator's Kafka connection: `KS_SETUP_KAFKA_*`."""

    model_config = SettingsConfigDict(env_prefix="KS_SETUP_", extra="ignore")


def admin_connection(t: Target, setup: SetupKafkaSettings | None) -> KafkaConnection:
    return setup.kafka if setup is not None else t.settings.kafka


def setup_kafka(targets: list[Target]) -> SetupKafkaSettings | None:
    """The administrator's settings, when `KS_SETUP_KAFKA_BOOTSTRAP` or
    `KS_SETUP_KAFKA_SASL_USERNAME` is set (the bootstrap then defaults to the services')."""
    if not (
        os.environ.get("KS_SETUP_KAFKA_BOOTSTRAP") or os.environ.get("KS_SETUP_KAFKA_SASL_USERNAME")
    ):
        return None
    if os.environ.get("KS_SETUP_KAFKA_BOOTSTRAP") or not targets:
        return SetupKafkaSettings()
    return SetupKafkaSettings(kafka_bootstrap=targets[0].settings.kafka_bootstrap)


async def set_up(
    targets: list[Target],
    *,
    topics: bool,
    roles: bool,
    timeout: float,
    acls: bool = False,
    admin: SetupKafkaSettings | None = None,
) -> None:
    if topics or acls:
        for kafka in {
            admin_connection(t, admin).bootstrap: admin_connection(t, admin) for t in targets
        }.values():
            await wait_for_kafka(kafka, timeout=timeout)
    if topics:
        for t in targets:
            # Each service's own topics, with the replicas its settings ask for.
            kafka = admin_connection(t, admin)
            specs = topic_specs([t.declaration], t.settings.topic_prefix)
            await ensure_topics(
                kafka,
                specs,
                replication_factor=t.settings.kafka_replication_factor,
                min_insync_replicas=t.settings.kafka_min_insync_replicas,
            )
            log(
                f"{t.service}: {len(specs)} topics with prefix {t.settings.topic_prefix!r} in "
                f"place on {kafka.bootstrap} (replication factor "
                f"{t.settings.kafka_replication_factor}, min.insync.replicas "
                f"{t.settings.kafka_min_insync_replicas})"
            )
    if acls:
        for t in targets:
            principal = f"User:{t.settings.kafka_sasl_username or t.service}"
            rules = service_acls(t.declaration, t.settings.topic_prefix, principal=principal)
            await create_acls(admin_connection(t, admin), rules)
            log(f"{t.service}: {len(rules)} ACLs in place for {principal}")

    if roles:
        superuser = os.environ.get("KS_SETUP_PG_SUPERUSER_DSN", "")
        if not superuser:
            raise SystemExit("[setup] KS_SETUP_PG_SUPERUSER_DSN is not set (or --skip-provision)")
        databases = {t.database for t in targets}
        if len(databases) != 1:
            raise SystemExit(f"[setup] the services name different databases: {databases}")
        await wait_for_postgres(superuser, timeout)
        await provision(
            superuser,
            databases.pop(),
            passwords={t.role: t.password for t in targets},
            schemas={t.role: t.settings.schema for t in targets},
        )
        log("roles and schemas in place: " + ", ".join(f"{t.role}" for t in targets))

    for t in targets:
        # As the service's own role, so that it owns what the migrations create.
        await wait_for_postgres(t.settings.database_url, timeout)
        conn = await connect(t.settings.database_url, t.settings.schema, name=f"{t.service}-setup")
        try:
            applied = await migrate(conn, t.settings.schema, t.migrations)
        finally:
            await conn.close()
        log(f"{t.service}: migrations applied now: {applied or 'none (up to date)'}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-topics", action="store_true", help="leave Kafka topics alone")
    parser.add_argument(
        "--skip-provision", action="store_true", help="roles and schemas exist already"
    )
    parser.add_argument(
        "--acls", action="store_true", help="create each service's Kafka ACLs (as KS_SETUP_KAFKA_*)"
    )
    args = parser.parse_args()
    timeout = float(os.environ.get("KS_SETUP_TIMEOUT_S", "180"))
    wanted = os.environ.get("KS_SETUP_SERVICES", "") or ",".join(names(SERVICES))
    targets = [target(find(SERVICES, name.strip())) for name in wanted.split(",") if name.strip()]
    asyncio.run(
        set_up(
            targets,
            topics=not args.skip_topics,
            roles=not args.skip_provision,
            timeout=timeout,
            acls=args.acls,
            admin=setup_kafka(targets),
        )
    )
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
