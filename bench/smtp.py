"""Postfix's `smtp-sink`: a C SMTP server that accepts every mail and throws it away.

The benchmark sends its mail there so that the server is not what is measured (the local
aiosmtpd sink keeps and parses every mail). Debian ships it in the `postfix` package; it is
installed when absent, with the mail system left unconfigured so that no MTA starts.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = (Path("/usr/sbin/smtp-sink"), Path("/usr/lib/postfix/sbin/smtp-sink"))
# Debconf answer that installs Postfix's programs without configuring (or starting) an MTA.
NO_MTA = "postfix postfix/main_mailer_type select No configuration\n"


def find_smtp_sink() -> Path | None:
    found = shutil.which("smtp-sink")
    if found:
        return Path(found)
    return next((path for path in CANDIDATES if os.access(path, os.X_OK)), None)


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args], env=env, capture_output=True, text=True, check=False, timeout=600
    )


def ensure_smtp_sink() -> Path:
    """The smtp-sink binary, installing Debian's `postfix` package if it is missing."""
    found = find_smtp_sink()
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise RuntimeError("smtp-sink is missing and there is no apt-get to install postfix")
    subprocess.run(
        ["debconf-set-selections"], input=NO_MTA, text=True, check=False, capture_output=True
    )
    installed = _apt("install", "-y", "-q", "postfix")
    if installed.returncode != 0:
        # A fresh machine may have no package lists yet.
        _apt("update", "-q")
        installed = _apt("install", "-y", "-q", "postfix")
    found = find_smtp_sink()
    if found is None:
        raise RuntimeError(f"installing postfix gave no smtp-sink:\n{installed.stderr[-2000:]}")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ExternalSmtp:
    """An SMTP server that runs already (e.g. the local stack's aiosmtpd sink), to compare."""

    host: str
    port: int

    def start(self) -> None:
        with socket.create_connection((self.host, self.port), timeout=5):
            pass  # it answers

    def stop(self) -> None:
        pass

    def messages(self) -> int | None:
        return None  # not counted: it is not this benchmark's server

    def version(self) -> str:
        return f"the SMTP server at {self.host}:{self.port} (not started by the benchmark)"


@dataclass
class SmtpSink:
    """One smtp-sink process on a free loopback port, for one benchmark run."""

    binary: Path
    host: str = "127.0.0.1"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    counter: Path | None = None  # where `-c` writes its running count of mails

    def start(self, timeout: float = 10.0) -> None:
        self.port = self.port or free_port()
        command = [str(self.binary), "-c"]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # it refuses to run as root without a user to become
        # A backlog of 256: the senders' connections must not queue in the kernel.
        command += [f"{self.host}:{self.port}", "256"]
        fd, name = tempfile.mkstemp(prefix="smtp-sink-", suffix=".count")
        self.counter = Path(name)
        with os.fdopen(fd, "wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"smtp-sink exited with {self.process.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)  # start-up poll with a deadline
        raise TimeoutError(f"smtp-sink did not listen on {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.counter is not None:
            self.counter.unlink(missing_ok=True)

    def messages(self) -> int | None:
        """Mails accepted since the start (`-c` counts each; the last count it wrote)."""
        if self.counter is None:
            return None
        with self.counter.open("rb") as counted:
            counted.seek(max(0, self.counter.stat().st_size - 200))
            counts = re.findall(rb"mesg=(\d+)", counted.read())
        return int(counts[-1]) if counts else 0

    def version(self) -> str:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "postfix"],
            capture_output=True,
            text=True,
            check=False,
        )
        return f"Postfix smtp-sink {done.stdout.strip()}".strip()
