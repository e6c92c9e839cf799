"""The image's HEALTHCHECK (deploy/healthcheck.py): healthy when the service in process 1
answers /healthz on its port, unhealthy when it does not, and nothing to check for the set-up
or a CLI command. Against a small HTTP server on a free port, standing in for a service."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.testing.fixtures import ROOT, free_port

# A script of the image, not a package: loaded from its file.
_spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "deploy" / "healthcheck.py")
assert _spec and _spec.loader
healthcheck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(healthcheck)
main = healthcheck.main

pytestmark = pytest.mark.integration

SERVICE = ["python", "-m", "services.scheduling"]


class Answers(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def service_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    monkeypatch.setenv("KS_SCHEDULING_HTTP_PORT", str(port))
    yield port
    server.shutdown()
    server.server_close()


def test_a_service_that_answers_healthz_is_healthy(service_port: int) -> None:
    assert main(SERVICE) == 0


def test_a_service_that_answers_with_an_error_is_unhealthy(
    service_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Answers, "status", 503)
    assert main(SERVICE) == 1


def test_a_service_that_does_not_listen_is_unhealthy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KS_SCHEDULING_HTTP_PORT", str(free_port()))
    assert main(SERVICE) == 1


@pytest.mark.parametrize(
    "command",
    [
        ["python", "deploy/setup.py", "--skip-topics"],
        ["/opt/venv/bin/python", "/opt/venv/bin/kulturskole", "dlq", "list", "x"],
        ["python", "-m", "services.catalog"],
    ],
)
def test_the_set_up_and_the_cli_have_nothing_to_check(command: list[str]) -> None:
    assert main(command) == 0
