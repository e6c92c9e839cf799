"""One-off set-up of a deployment: Kafka topics, database roles and schemas, migrations.

    python deploy/setup.py                    # everything; safe to run again
    python deploy/setup.py --skip-provision   # roles and schemas are made by a DBA
    python deploy/setup.py --skip-topics      # topics are managed elsewhere

It does what the local stack runner does, but against endpoints from the environment, so a
compose job or a Kubernetes Job can run it before the services start:

- each service's own settings (`KS_<SERVICE>_DATABASE_URL`, `KS_<SERVICE>_KAFKA_BOOTSTRAP`,
  `KS_<SERVICE>_TOPIC_PREFIX`, `KS_<SERVICE>_DB_SCHEMA`), read the way the service reads
  them; the role and password in each DSN are the ones provisioned;
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.catalog import SERVICES  # noqa: E402
from shared.catalog import ServiceDeclaration, find, names, topic_specs  # noqa: E402
from shared.db.migrations import migrate  # noqa: E402
from shared.db.pool import connect  # noqa: E402
from shared.db.provision import provision  # noqa: E402
from shared.kafka_admin import ensure_topics, wait_for_kafka  # noqa: E402
from shared.settings import ServiceSettings  # noqa: E402

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


async def set_up(targets: list[Target], *, topics: bool, roles: bool, timeout: float) -> None:
    if topics:
        for bootstrap, prefix in sorted(
            {(t.settings.kafka_bootstrap, t.settings.topic_prefix) for t in targets}
        ):
            await wait_for_kafka(bootstrap, timeout=timeout)
            specs = topic_specs([t.declaration for t in targets], prefix)
            await ensure_topics(bootstrap, specs)
            log(f"{len(specs)} topics with prefix {prefix!r} in place on {bootstrap}")

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
    args = parser.parse_args()
    timeout = float(os.environ.get("KS_SETUP_TIMEOUT_S", "180"))
    wanted = os.environ.get("KS_SETUP_SERVICES", "") or ",".join(names(SERVICES))
    targets = [target(find(SERVICES, name.strip())) for name in wanted.split(",") if name.strip()]
    asyncio.run(
        set_up(targets, topics=not args.skip_topics, roles=not args.skip_provision, timeout=timeout)
    )
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
