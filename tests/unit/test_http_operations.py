"""What every service adds to HTTP: /docs without internet, an access log line that names
the route but no token and no full client address, and the request metric."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from services.registration.app import create_app
from services.registration.settings import LOCAL_API_TOKENS, RegistrationSettings
from shared.runtime.http_telemetry import HttpTelemetry
from shared.runtime.logs import json_formatter

pytestmark = pytest.mark.unit


def registration() -> FastAPI:
    # Built, not started: nothing connects before the lifespan runs.
    settings = RegistrationSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        api_tokens=json.dumps(LOCAL_API_TOKENS),
    )
    return create_app(settings)


def client(app: FastAPI, address: str = "203.0.113.77") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 51234))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_nothing_from_another_host(page: str) -> None:
    async with client(registration()) as http:
        answer = await http.get(page)
        assert answer.status_code == 200
        assert "SwaggerUIBundle" in answer.text or "redoc" in answer.text
        urls = re.findall(r"""(?:src|href|url|spec-url)\s*[:=]\s*['"]([^'"]+)['"]""", answer.text)
        assert len(urls) >= 3, answer.text  # the script, the style or icon, the document
        assert not re.search(r"(https?:)?//[a-z0-9]", answer.text), "another host in the page"
        # What it references is served, as the browser will ask for it.
        for url in urls:
            assert (await http.get(url)).status_code == 200, url


async def test_only_the_docs_files_are_served_as_assets() -> None:
    async with client(registration()) as http:
        script = await http.get("/docs/assets/swagger-ui-bundle.js")
        assert script.status_code == 200 and b"SwaggerUIBundle" in script.content
        # Swagger UI 5: it reads the OpenAPI 3.1 documents FastAPI writes (4 cannot).
        assert re.search(rb'"5\.\d+\.\d+"', script.content)
        assert (await http.get("/docs/assets/..%2F..%2Fsettings.py")).status_code == 404
        assert (await http.get("/docs/assets/core.py")).status_code == 404


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_request_leaves_an_access_line_and_a_metric_sample(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    app.add_middleware(HttpTelemetry, service="unit-http")

    @app.get("/feeds/{token}.ics")
    async def feed(token: str) -> dict[str, str]:
        return {"ok": token[:1]}

    labels = {"service": "unit-http", "method": "GET", "route": "/feeds/{token}.ics"}
    before = sample("ks_http_request_seconds_count", {**labels, "status": "200"})
    caplog.set_level(logging.INFO, logger="kulturskole.access")
    async with client(app) as http:
        response = await http.get(
            "/feeds/hemmelig-nokkel.ics?token=hemmelig-nokkel",
            headers={"Authorization": "Bearer local-programme"},
        )
        assert response.status_code == 200
        assert (await http.get("/nowhere")).status_code == 404
        await http.request("BREW", "/feeds/x.ics")

    assert sample("ks_http_request_seconds_count", {**labels, "status": "200"}) == before + 1
    assert (
        sample(
            "ks_http_request_seconds_count",
            {"service": "unit-http", "method": "GET", "route": "(unmatched)", "status": "404"},
        )
        >= 1
    )
    # Neither a path without a route nor a made-up method makes a series of its own.
    assert (
        sample(
            "ks_http_request_seconds_count",
            {**labels, "method": "OTHER", "status": "405"},
        )
        >= 1
    )
    lines = [r for r in caplog.records if r.name == "kulturskole.access"]
    assert len(lines) == 3
    written = json.loads(json_formatter("unit-http").format(lines[0]))
    assert written["message"] == "http request"
    assert written["method"] == "GET" and written["status"] == 200
    assert written["route"] == "/feeds/{token}.ics"
    assert written["client"] == "203.0.113.0"
    assert isinstance(written["duration_ms"], float)
    text = json.dumps(written)
    assert "hemmelig" not in text and "local-programme" not in text and ".77" not in text


async def test_an_ipv6_client_is_logged_by_its_network(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    app.add_middleware(HttpTelemetry, service="unit-http")
    caplog.set_level(logging.INFO, logger="kulturskole.access")
    async with client(app, "2001:db8:1234:5678::99") as http:
        await http.get("/")
    (line,) = [r for r in caplog.records if r.name == "kulturskole.access"]
    assert line.__dict__["client"] == "2001:db8:1234::"
