"""A private PostgreSQL cluster for tests that stop and start the database under load.

The shared cluster of the local stack serves every test at once, so a test that takes the
database away needs one of its own: Debian's server binaries (as `deploy/local/stack.py`
uses them), `initdb` into a folder of its own, a free loopback port, password login for the
superuser. PostgreSQL refuses to run as root, so as root it runs as the unprivileged
`postgres` user, in a folder that user owns. `stop()` and `start()` again keep the data, as
an operator's restart (or, with `mode="immediate"`, a crash and its recovery) would.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from shared.testing.fixtures import free_port


class PostgresUnavailable(RuntimeError):
    """No server binaries here: a test should skip, not fail."""


def server_bindir() -> Path | None:
    """The newest installed server's bin folder (Debian's layout), or None."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), reverse=True)
    return candidates[0].parent if candidates else None


class PrivatePostgres:
    """One PostgreSQL cluster on 127.0.0.1, its data in a folder of its own."""

    def __init__(self) -> None:
        bindir = server_bindir()
        if bindir is None:
            raise PostgresUnavailable("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bindir = bindir
        self.port = free_port()
        self.password = secrets.token_hex(12)
        # Not under pytest's tmp folders: those are private to root, out of `postgres`'s reach.
        self.workdir = Path(tempfile.mkdtemp(prefix="ks-postgres-"))
        os.chmod(self.workdir, 0o755)
        self.data = self.workdir / "data"
        self.sockets = self.workdir / "sockets"
        self.logfile = self.workdir / "postgres.log"
        self._owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None

    @property
    def superuser_dsn(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if self._owner else argv

    def _own(self, path: Path) -> None:
        if self._owner:
            os.chown(path, self._owner.pw_uid, self._owner.pw_gid)

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(
            self._as_owner(argv), capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")

    def init(self) -> None:
        for folder in (self.data, self.sockets):
            folder.mkdir(parents=True, exist_ok=True)
            self._own(folder)
        self.logfile.touch()
        self._own(self.logfile)
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        self._own(pwfile)
        try:
            self._run(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",  # a test cluster; the server itself still runs with fsync
                ]
            )
        finally:
            pwfile.unlink()

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def start(self) -> None:
        """Start the server (initialising the cluster the first time); return once it takes
        connections (`pg_ctl -w`)."""
        if not (self.data / "PG_VERSION").exists():
            self.init()
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.logfile),
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {self.port} "
                f"-c unix_socket_directories={self.sockets} -c max_connections=200 "
                "-c shared_buffers=64MB",
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are ended and the server shuts down cleanly; `immediate`: it
        stops at once and recovers from its WAL on the next start, as after a crash."""
        if not self.running:
            return
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private cluster for the block; stopped and removed afterwards."""
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()
