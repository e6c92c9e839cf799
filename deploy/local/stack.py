"""Local stack without Docker: Apache Kafka (KRaft), PostgreSQL, an SMTP sink, the services.

    python deploy/local/stack.py up        # infrastructure + services (+ demo data with --demo)
    python deploy/local/stack.py infra     # infrastructure only (what the test suite needs)
    python deploy/local/stack.py down      # stop everything this runner started
    python deploy/local/stack.py status    # what runs, and where
    python deploy/local/stack.py env       # shell exports for reaching the stack

With `--secure` (`up --secure`, `infra --secure`, `down --secure`, …) the same commands run a
broker that takes clients only on SASL_SSL with SCRAM-SHA-512 and enforces ACLs, on ports
(KS_KAFKA_SECURE_PORT, KS_KAFKA_SECURE_CONTROLLER_PORT) and in a state folder of its own
(`<state>-secure`): a CA and broker certificate are made there, a password per service and
for `admin`, and each service's ACLs are created with `kulturskole kafka acls --apply`; the
services then connect with their own user and the CA file.

Every step is idempotent: a running piece is left alone, a missing one is installed or started.
State (data folders, logs, pid files) lives in one folder, `KS_STACK_DIR` or a folder under
/var/tmp named after this checkout, so two checkouts never share a broker by accident.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.contracts.topics import DEFAULT_PREFIX  # noqa: E402
from shared.db.provision import provision  # noqa: E402
from shared.devtools import kafka_broker as broker_config  # noqa: E402
from shared.messaging.kafka_admin import ensure_topics, wait_for_kafka  # noqa: E402
from shared.messaging.kafka_client import KafkaConnection  # noqa: E402
from shared.runtime.catalog import Catalog, LocalInfra, ServiceDeclaration, find, names, topic_specs  # noqa: E402

KAFKA_DIR = ROOT / "deploy" / "local" / "kafka"
PYTHON = sys.executable
# aiokafka logs every refused connection while the broker boots; readiness is polled anyway.
logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def _default_state_dir() -> Path:
    digest = hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
    return Path(os.environ.get("KS_STACK_DIR", f"/var/tmp/kulturskole-stack-{digest}"))


@dataclass(frozen=True)
class Ports:
    kafka: int = int(os.environ.get("KS_KAFKA_PORT", "19092"))
    kafka_controller: int = int(os.environ.get("KS_KAFKA_CONTROLLER_PORT", "19093"))
    kafka_secure: int = int(os.environ.get("KS_KAFKA_SECURE_PORT", "19094"))
    kafka_secure_controller: int = int(os.environ.get("KS_KAFKA_SECURE_CONTROLLER_PORT", "19095"))
    postgres: int = int(os.environ.get("KS_PG_PORT", "15432"))
    smtp: int = int(os.environ.get("KS_SMTP_PORT", "2525"))
    smtp_web: int = int(os.environ.get("KS_SMTP_WEB_PORT", "8025"))

    @staticmethod
    def service(declaration: ServiceDeclaration[Any]) -> int:
        """`KS_<NAME>_PORT`, else the port its settings default to."""
        default = declaration.default("http_port")
        return int(os.environ.get(f"KS_{declaration.name.upper()}_PORT", default))


PORTS = Ports()
STATE = _default_state_dir()
# Set by `--secure`: the SASL_SSL broker with ACLs, its own ports and state folder.
SECURE = False
# Replicas of the topics the stack creates: one broker here, so 1 and 1 unless told.
REPLICATION_FACTOR = int(os.environ.get("KS_KAFKA_REPLICATION_FACTOR", "1"))
MIN_INSYNC_REPLICAS = int(os.environ.get("KS_KAFKA_MIN_INSYNC_REPLICAS", "1"))


def use_secure_broker() -> None:
    global SECURE, STATE
    SECURE = True
    STATE = STATE.with_name(STATE.name + "-secure")


def kafka_port() -> int:
    return PORTS.kafka_secure if SECURE else PORTS.kafka


def kafka_controller_port() -> int:
    return PORTS.kafka_secure_controller if SECURE else PORTS.kafka_controller


PG_SUPERUSER_PASSWORD = "kulturskole-local"
DATABASE = "kulturskole"
# The local stack's person-token secret (the compose file's default too); never elsewhere.
LOCAL_PERSON_TOKEN_SECRET = "local-person-token-secret"


def catalog() -> Catalog:
    """The services, imported when needed: `env` must work even while one does not import."""
    from services.catalog import SERVICES

    return SERVICES


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    """Poll `check` until it holds; fail loudly with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
    raise SystemExit(f"[stack] timed out after {timeout:.0f}s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid_path: Path) -> bool:
    """Whether the pid on the first line of `pid_path` is a running process."""
    try:
        pid = int(pid_path.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def ours(name: str) -> bool:
    """Whether this checkout's stack (plain or secure) runs `name`: its pid file, or for
    PostgreSQL the postmaster's, names a live process in one of this checkout's state folders."""
    base = _default_state_dir()
    for state in (base, base.with_name(base.name + "-secure")):
        path = (
            state / "postgres" / "postmaster.pid"
            if name == "postgres"
            else state / "run" / f"{name}.pid"
        )
        if _alive(path):
            return True
    return False


def already_running(name: str, port: int, setting: str) -> bool:
    """True when this checkout's `name` answers on `port`; False when nothing does. Something
    else answering there (another checkout's stack, or another program) is refused loudly:
    joining it would mix two stacks' topics, databases, consumer groups and mails."""
    if not port_open(port):
        return False
    if ours(name):
        return True
    raise SystemExit(
        f"[stack] 127.0.0.1:{port} answers, but not with this checkout's {name} (its state "
        f"folder is {_default_state_dir()}): another checkout's stack or another program holds "
        f"the port. Stop that one first, or run this checkout on other ports, for example "
        f"{setting}={port + 100} (README: Running two checkouts)."
    )


# --- process bookkeeping ----------------------------------------------------------------


def pid_file(name: str) -> Path:
    return STATE / "run" / f"{name}.pid"


def running_pid(name: str) -> int | None:
    path = pid_file(name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def spawn(name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    (STATE / "run").mkdir(parents=True, exist_ok=True)
    (STATE / "logs").mkdir(parents=True, exist_ok=True)
    logfile = open(STATE / "logs" / f"{name}.log", "ab")
    proc = subprocess.Popen(
        argv,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        start_new_session=True,  # survives the runner; `down` stops it by pid
    )
    pid_file(name).write_text(str(proc.pid))
    return proc.pid


def stop(name: str, timeout: float = 20.0) -> None:
    pid = running_pid(name)
    if pid is None:
        pid_file(name).unlink(missing_ok=True)
        return
    os.killpg(pid, signal.SIGTERM)
    try:
        wait_until(f"{name} to stop", lambda: running_pid(name) is None, timeout)
    except SystemExit:
        os.killpg(pid, signal.SIGKILL)
    pid_file(name).unlink(missing_ok=True)
    log(f"stopped {name}")


# --- PostgreSQL ---------------------------------------------------------------------------


def pg_bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), reverse=True)
    if candidates:
        return candidates[0].parent
    if os.geteuid() != 0:
        raise SystemExit(
            "[stack] PostgreSQL server binaries are missing: apt-get install postgresql"
        )
    log("installing the PostgreSQL server from Debian's packages")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "postgresql", "postgresql-contrib"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return pg_bindir()


def as_pg_user(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: run it as Debian's unprivileged `postgres` user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def pg_owner() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def superuser_dsn(database: str = "postgres") -> str:
    return f"postgresql://postgres:{PG_SUPERUSER_PASSWORD}@127.0.0.1:{PORTS.postgres}/{database}"


def start_postgres() -> None:
    if already_running("postgres", PORTS.postgres, "KS_PG_PORT"):
        log(f"postgres already answers on 127.0.0.1:{PORTS.postgres}")
        return
    bindir = pg_bindir()
    data = STATE / "postgres"
    owner = pg_owner()
    STATE.mkdir(parents=True, exist_ok=True)
    os.chmod(STATE, 0o755)
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if owner:
            os.chown(data, *owner)
        pwfile = STATE / "pgpass.tmp"
        pwfile.write_text(PG_SUPERUSER_PASSWORD + "\n")
        if owner:
            os.chown(pwfile, *owner)
        subprocess.run(
            as_pg_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        pwfile.unlink()
    sockdir = STATE / "pgsock"
    sockdir.mkdir(exist_ok=True)
    if owner:
        os.chown(sockdir, *owner)
    (STATE / "logs").mkdir(parents=True, exist_ok=True)
    logpath = STATE / "logs" / "postgres.log"
    logpath.touch()
    if owner:
        os.chown(logpath, *owner)
    subprocess.run(
        as_pg_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(logpath),
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {PORTS.postgres} "
                f"-c unix_socket_directories={sockdir} -c max_connections=300 "
                "-c fsync=on -c shared_buffers=256MB",
                "-w",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wait_until("postgres", lambda: port_open(PORTS.postgres), 60)
    log(f"postgres started on 127.0.0.1:{PORTS.postgres} (data in {data})")


def stop_postgres() -> None:
    data = STATE / "postgres"
    if not (data / "postmaster.pid").exists():
        return
    subprocess.run(
        as_pg_user([str(pg_bindir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )
    log("stopped postgres")


# --- Kafka --------------------------------------------------------------------------------


def kafka_classpath() -> Path:
    """Fetch the broker jars with Maven once; later runs reuse them (and ~/.m2)."""
    lib = KAFKA_DIR / "target" / "lib"
    stamp = KAFKA_DIR / "target" / "pom.sha1"
    pom_hash = hashlib.sha1((KAFKA_DIR / "pom.xml").read_bytes()).hexdigest()
    if lib.is_dir() and stamp.exists() and stamp.read_text() == pom_hash:
        return lib
    log("fetching the Apache Kafka broker from Maven Central (first run only)")
    subprocess.run(["mvn", "-q", "-B", "-f", str(KAFKA_DIR / "pom.xml"), "package"], check=True)
    stamp.write_text(pom_hash)
    return lib


def secured() -> broker_config.Secured | None:
    """The TLS material and SCRAM users of the secure broker (made on first use)."""
    if not SECURE:
        return None
    folder = STATE / "secure"
    return broker_config.Secured(
        tls=broker_config.make_tls(folder / "tls"),
        users=broker_config.make_users(folder / "users", names(catalog())),
    )


def kafka_connection(user: str = broker_config.ADMIN) -> KafkaConnection:
    """How `user` (a service's name, or the admin) reaches the stack's broker."""
    security = secured()
    if security is None:
        return KafkaConnection(bootstrap=bootstrap())
    return KafkaConnection(
        bootstrap=bootstrap(),
        security_protocol="SASL_SSL",
        sasl_mechanism=broker_config.SCRAM_MECHANISM,
        sasl_username=user,
        sasl_password_file=security.users[user],
        ssl_ca_file=security.tls.ca_file,
    )


def start_kafka() -> None:
    if already_running(
        "kafka", kafka_port(), "KS_KAFKA_SECURE_PORT" if SECURE else "KS_KAFKA_PORT"
    ):
        log(f"kafka already answers on 127.0.0.1:{kafka_port()}")
        return
    already_running(
        "kafka",
        kafka_controller_port(),
        "KS_KAFKA_SECURE_CONTROLLER_PORT" if SECURE else "KS_KAFKA_CONTROLLER_PORT",
    )
    lib = kafka_classpath()
    data = STATE / "kafka"
    data.mkdir(parents=True, exist_ok=True)
    props = STATE / "kafka-server.properties"
    security = secured()
    props.write_text(
        broker_config.properties(
            port=kafka_port(),
            controller_port=kafka_controller_port(),
            data=data,
            offsets_partitions=10,
            secured=security,
            extra=["log.retention.hours=168"],
        )
    )
    props.chmod(0o600)  # the secure broker's holds its own password
    java = [
        "java",
        "-Xms256m",
        "-Xmx768m",
        "-cp",
        f"{lib}/*",
        f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
    ]
    if not (data / "meta.properties").exists():
        cluster_id = (
            subprocess.run(
                [*java, "kafka.tools.StorageTool", "random-uuid"],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        # Formats the storage, and adds the SCRAM users from a file: no password in argv.
        argfile = broker_config.format_argfile(
            STATE / "kafka-format.args",
            cluster_id=cluster_id,
            properties_file=props,
            secured=security,
        )
        try:
            subprocess.run([*java, f"@{argfile}"], check=True, stdout=subprocess.DEVNULL)
        finally:
            argfile.unlink(missing_ok=True)
    spawn("kafka", [*java, "kafka.Kafka", str(props)])
    asyncio.run(wait_for_kafka(kafka_connection(), timeout=180))
    kind = "SASL_SSL, SCRAM-SHA-512, ACLs" if SECURE else "PLAINTEXT"
    log(f"kafka started on 127.0.0.1:{kafka_port()} ({kind}; KRaft, data in {data})")


def bootstrap() -> str:
    return f"127.0.0.1:{kafka_port()}"


# --- SMTP sink ----------------------------------------------------------------------------


def start_smtp_sink() -> None:
    if already_running("smtp-sink", PORTS.smtp, "KS_SMTP_PORT"):
        log(f"smtp sink already answers on 127.0.0.1:{PORTS.smtp}")
        return
    already_running("smtp-sink", PORTS.smtp_web, "KS_SMTP_WEB_PORT")  # its web view's port
    spawn(
        "smtp-sink",
        [
            PYTHON,
            "-m",
            "shared.devtools.smtp_sink",
            "--smtp-port",
            str(PORTS.smtp),
            "--web-port",
            str(PORTS.smtp_web),
            "--store",
            str(STATE / "mail"),
        ],
    )
    wait_until("smtp sink", lambda: port_open(PORTS.smtp) and port_open(PORTS.smtp_web), 30)
    log(f"smtp sink on 127.0.0.1:{PORTS.smtp}, mail at http://127.0.0.1:{PORTS.smtp_web}/")


# --- services -----------------------------------------------------------------------------


def service_env() -> dict[str, str]:
    infra = LocalInfra(smtp_host="127.0.0.1", smtp_port=PORTS.smtp)
    env: dict[str, str] = {}
    for service in catalog():
        env |= kafka_connection(service.name).as_env(service.env_prefix.upper())
        env |= service.env(
            database_url=(
                f"postgresql://{service.name}:{service.name}-local"
                f"@127.0.0.1:{PORTS.postgres}/{DATABASE}"
            ),
            http_port=PORTS.service(service),
            # A sign-in front on this machine signs person tokens with it (as compose's).
            person_token_secret=LOCAL_PERSON_TOKEN_SECRET,
        )
        env |= service.local_env(infra)
    return env


def healthy(port: int, path: str = "/readyz") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start_services() -> None:
    env = service_env()
    for service in catalog():
        port = PORTS.service(service)
        setting = f"KS_{service.name.upper()}_PORT"
        if already_running(service.name, port, setting) and healthy(port, "/healthz"):
            log(f"{service.name} already runs on http://127.0.0.1:{port}")
            continue
        spawn(service.name, [PYTHON, "-m", service.module], env)
    for service in catalog():
        port = PORTS.service(service)
        wait_until(f"{service.name} to be ready", lambda port=port: healthy(port), 90)


WEB_PORT = int(os.environ.get("KS_WEB_PORT", "8004"))


def web_url() -> str:
    return f"http://127.0.0.1:{WEB_PORT}"


def start_web() -> None:
    """The web front (services/web): not a Kafka service, it only calls the others' APIs."""
    from services.web.local import local_env

    if not (ROOT / "services" / "web" / "node_modules").is_dir():
        # Designsystemet's CSS (`make up` installs it; a direct stack.py run may not have).
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=ROOT / "services" / "web",
            check=True,
        )
    if already_running("web", WEB_PORT, "KS_WEB_PORT") and healthy(WEB_PORT, "/healthz"):
        log(f"web already runs on {web_url()}")
        return
    port = {s.name: PORTS.service(s) for s in catalog()}
    env = local_env(
        port=WEB_PORT,
        registration=f"http://127.0.0.1:{port['registration']}",
        scheduling=f"http://127.0.0.1:{port['scheduling']}",
        notification=f"http://127.0.0.1:{port['notification']}",
        smtp_host="127.0.0.1",
        smtp_port=PORTS.smtp,
        # The services take person tokens signed with it: a decision records who made it.
        person_token_secret=LOCAL_PERSON_TOKEN_SECRET,
    )
    spawn("web", [PYTHON, "-m", "services.web"], env)
    wait_until("web to be ready", lambda: healthy(WEB_PORT), 60)


def print_web_links() -> None:
    """The web front's address and sign-in links for the demo's people."""
    from services.web.local import LOCAL_STAFF, sign_in_links
    from services.web.settings import WebSettings

    ttl = int(WebSettings.model_fields["sign_in_link_ttl_s"].default)
    people = [*LOCAL_STAFF, "leder.vestland@example.no", "leder.trondelag@example.no"]
    print()
    print(f"web front: {web_url()}/  (sign in with one of these addresses; the link is mailed)")
    print(f"sign-in links, each valid once for {ttl // 60} minutes:")
    for email, link in sign_in_links(web_url(), people, ttl).items():
        print(f"  {email:<42} {link}")


def load_demo_data() -> None:
    subprocess.run(
        [
            PYTHON,
            str(ROOT / "deploy" / "local" / "demo.py"),
            "--registration",
            f"http://127.0.0.1:{PORTS.service(find(catalog(), 'registration'))}",
            "--mail",
            f"http://127.0.0.1:{PORTS.smtp_web}",
        ],
        check=True,
    )


# --- commands -----------------------------------------------------------------------------


def check_ports() -> None:
    """Before anything starts: every port this stack uses is free or answers for this
    checkout (`already_running` refuses what answers for another)."""
    kafka_setting = "KS_KAFKA_SECURE" if SECURE else "KS_KAFKA"
    already_running("postgres", PORTS.postgres, "KS_PG_PORT")
    already_running("kafka", kafka_port(), f"{kafka_setting}_PORT")
    already_running("kafka", kafka_controller_port(), f"{kafka_setting}_CONTROLLER_PORT")
    already_running("smtp-sink", PORTS.smtp, "KS_SMTP_PORT")
    already_running("smtp-sink", PORTS.smtp_web, "KS_SMTP_WEB_PORT")


def infra() -> None:
    check_ports()
    STATE.mkdir(parents=True, exist_ok=True)
    start_postgres()
    start_kafka()
    start_smtp_sink()
    asyncio.run(
        ensure_topics(
            kafka_connection(),
            topic_specs(catalog()),
            replication_factor=REPLICATION_FACTOR,
            min_insync_replicas=MIN_INSYNC_REPLICAS,
        )
    )
    if SECURE:
        # Each service's ACLs, as an operator would create them.
        subprocess.run(
            [PYTHON, "-m", "shared.cli", "kafka", "acls", "--apply", "--prefix", DEFAULT_PREFIX],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, **kafka_connection().as_env("KS_")},
            cwd=ROOT,
        )
    passwords = {name: f"{name}-local" for name in names(catalog())}
    asyncio.run(provision(superuser_dsn(), DATABASE, passwords=passwords))
    log("topics, database roles and schemas are in place")


def print_env() -> None:
    if SECURE:
        # The admin's connection, for `kulturskole` (dlq, replay, kafka acls).
        for name, value in kafka_connection().as_env("KS_").items():
            print(f"export {name}={value}")
    else:
        # The test suite's clients speak PLAINTEXT; its secured tests start brokers of their own.
        print(f"export KS_TEST_KAFKA_BOOTSTRAP={bootstrap()}")
    print(f"export KS_TEST_PG_SUPERUSER_DSN={superuser_dsn()}")
    print(f"export KS_TEST_SMTP=127.0.0.1:{PORTS.smtp}")
    print(f"export KS_TEST_SMTP_WEB=http://127.0.0.1:{PORTS.smtp_web}")


def status(*, services: bool = True) -> int:
    """Print what runs; exit 0 when what was asked for (infra, or infra and services) is up."""
    rows = [
        (
            "kafka",
            f"127.0.0.1:{kafka_port()}" + (" (SASL_SSL, ACLs)" if SECURE else ""),
            port_open(kafka_port()),
        ),
        ("postgres", f"127.0.0.1:{PORTS.postgres}", port_open(PORTS.postgres)),
        (
            "smtp sink",
            f"127.0.0.1:{PORTS.smtp}, web http://127.0.0.1:{PORTS.smtp_web}/",
            port_open(PORTS.smtp),
        ),
    ]
    required = len(rows) if not services else len(rows) + len(catalog())
    for service in catalog():
        port = PORTS.service(service)
        rows.append(
            (service.name, f"http://127.0.0.1:{port} (docs /docs, /asyncapi)", healthy(port))
        )
    if services:
        rows.append(("web", f"{web_url()}/ (sign in: {web_url()}/sign-in)", healthy(WEB_PORT)))
    for name, where, up in rows:
        print(f"{name:<13} {'up  ' if up else 'down'}  {where}")
    print(f"state and logs: {STATE}")
    return 0 if all(up for _, _, up in rows[:required]) else 3


def down() -> None:
    stop("web")
    for name in names(catalog()):
        stop(name)
    stop("smtp-sink")
    stop("kafka", timeout=60)
    stop_postgres()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["up", "infra", "down", "status", "env"])
    parser.add_argument("--demo", action="store_true", help="with up: load demo data")
    parser.add_argument(
        "--secure", action="store_true", help="the SASL_SSL broker with ACLs (own ports, state)"
    )
    args = parser.parse_args()
    if args.secure:
        use_secure_broker()
    if args.command == "env":
        print_env()
        return 0
    if args.command == "status":
        return status()
    if args.command == "down":
        down()
        return 0
    infra()
    if args.command == "up":
        start_services()
        start_web()
        if args.demo:
            load_demo_data()
    print()
    code = status(services=args.command == "up")
    if args.command == "up":
        print_web_links()
    return code


if __name__ == "__main__":
    sys.exit(main())
