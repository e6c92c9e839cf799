"""The local stack runner refuses ports that answer for someone else.

A second checkout's `make up` used to join whatever answered on the default ports: another
checkout's Kafka and PostgreSQL, whose notification then took its mails. Now a port that
answers without this checkout's process behind it stops the runner with a clear line.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def foreign_listener() -> Iterator[int]:
    """A port on loopback that answers, held by this test (not by any stack)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def run_stack(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "local" / "stack.py"), command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


SETTINGS = (
    "KS_PG_PORT",
    "KS_KAFKA_PORT",
    "KS_KAFKA_CONTROLLER_PORT",
    "KS_SMTP_PORT",
    "KS_SMTP_WEB_PORT",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("setting", SETTINGS)
def test_infra_refuses_a_port_that_answers_for_another(
    setting: str, foreign_listener: int, tmp_path: Path
) -> None:
    # Every other port is free; the runner checks them all before it starts anything.
    free = {name: str(free_port()) for name in SETTINGS}
    state = tmp_path / "state"
    ran = run_stack("infra", {**free, setting: str(foreign_listener), "KS_STACK_DIR": str(state)})

    assert ran.returncode != 0
    said = ran.stdout + ran.stderr
    assert f"127.0.0.1:{foreign_listener} answers, but not with this checkout's" in said
    assert f"{setting}=" in said  # how to run beside it
    assert not state.exists()  # refused before anything was made or started
