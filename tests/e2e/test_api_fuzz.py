"""Every service's HTTP API does what its OpenAPI document says, fuzzed with schemathesis.

Each service of the catalog runs as a process on the real stack; every operation of the
document it serves gets generated requests, valid and invalid, as programme management (who
may send all of them). No answer may be a server error or take longer than a request may,
and every status code and content type must be one the document lists. Examples per
operation are bounded so that the three services take well under three minutes on two cores.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.catalog import SERVICES as SERVICES_OF_THE_CATALOG
from shared.runtime.catalog import Catalog
from shared.runtime.problems import PROBLEM_JSON
from shared.testing.fixtures import Endpoints, ServiceProcesses, TestDatabase
from tests.e2e.conftest import PROGRAMME

pytestmark = pytest.mark.e2e

EXAMPLES = 8  # per operation and mode: ~30 operations (registration) x 2 modes x 8 requests
TIMEOUT = 10  # seconds an answer may take; longer counts as a hang
SCENARIOS, STEPS = 6, 4  # stateful: scenarios per service, calls per scenario
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


SERVICES = [service.name for service in SERVICES_OF_THE_CATALOG]
# Routes of each service that take free text in the query or the path.
TEXT_INPUTS = {
    "registration": ["/rounds/2030/applications?branch={}", "/rounds/{}/status"],
    "scheduling": ["/rounds/2030/attendance?region={}", "/rounds/{}/dialogue-requests"],
    "notification": ["/deliveries?event_id={}", "/deliveries?template={}"],
}


@dataclass(frozen=True)
class Running:
    name: str
    url: str


@pytest.fixture(params=SERVICES)
def service(
    request: pytest.FixtureRequest,
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    logs_dir: Path,
    catalog: Catalog,
) -> Iterator[Running]:
    """One service as a process, on this test's topics and database."""
    procs = ServiceProcesses(endpoints, database, topic_prefix, logs_dir, catalog)
    try:
        procs.start(request.param)
        yield Running(request.param, procs.url(request.param))
    finally:
        procs.stop_all()


@pytest.mark.timeout(300)
def test_the_api_answers_as_its_openapi_document_says(service: Running) -> None:
    # One process per service for all three checks: starting one takes longer than a check.
    failures = {
        **fuzzed(service.url),
        **chained(service.url),
        **nul_in_a_query(service),
        **methods_not_taken(service.url),
    }
    assert not failures, "\n\n".join(failures.values())


def fuzzed(url: str) -> dict[tuple[str, str], str]:
    """Generated requests for every operation; one failure of each kind per operation."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: dict[tuple[str, str], str] = {}
    tried = operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if "operations" in (operation.tags or []):
            continue  # health, metrics, AsyncAPI: the runtime's, not this API's
        operations += 1
        for mode in MODES:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,  # each request has its own timeout below
                database=None,
                derandomize=True,  # the same requests every run: a failure comes again
                phases=[Phase.explicit, Phase.generate],  # no shrinking: every case is kept
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                nonlocal tried
                tried += 1
                label = case.operation.label
                try:
                    response = case.call(base_url=url, headers=PROGRAMME, timeout=TIMEOUT)
                except OSError as error:  # requests' timeouts and connection errors are
                    failures.setdefault((label, "no answer"), f"{label}: no answer: {error}")
                    return
                try:
                    case.validate_response(response, checks=CHECKS)
                except BaseException as error:  # schemathesis raises a group of failures
                    kinds = [str(e).split("\n", 1)[0] for e in getattr(error, "exceptions", [])]
                    kind = ", ".join(kinds) or type(error).__name__
                    failures.setdefault(
                        (label, f"{response.status_code} {kind}"),
                        f"{label}: [{response.status_code}] {kind}: {response.text[:300]}\n"
                        f"  {case.as_curl_command(headers=PROGRAMME)[:1000]}",
                    )

            try:
                run()
            except (schemathesis.errors.SerializationNotPossible, Unsatisfiable):
                # A media type schemathesis cannot write (the CSV route has its own test), or
                # nothing to make invalid (an operation without parameters).
                pass
    assert operations >= 5 and tried >= 4 * operations, (operations, tried)
    return failures


def chained(url: str) -> dict[tuple[str, str], str]:
    """Stateful: operations chained by the links schemathesis infers from the document (the
    id a POST answers with, in the path of a GET), a few short scenarios. Cheap, and shallow:
    most generated POST bodies are refused, so few chains reach a resource they made."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: dict[tuple[str, str], str] = {}

    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": url, "headers": PROGRAMME, "timeout": TIMEOUT}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            label = case.operation.label
            try:
                case.validate_response(response, checks=CHECKS)
            except BaseException as error:  # schemathesis raises a group of failures
                failures.setdefault(
                    (label, f"stateful {response.status_code}"),
                    f"{label} (in a chain): [{response.status_code}] {error}"[:1500],
                )

    try:
        Scenario.run(
            settings=settings(
                max_examples=SCENARIOS,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
        )
    except OSError as error:  # requests' timeouts and connection errors are
        failures[("stateful", "no answer")] = f"a chained request had no answer: {error}"
    return failures


def nul_in_a_query(service: Running) -> dict[tuple[str, str], str]:
    """A NUL in a query or a path is the request's fault (PostgreSQL text cannot hold it)."""
    failures = {}
    for template in TEXT_INPUTS[service.name]:
        for text in ("20%0030", "%00"):
            path = template.format(text)
            response = httpx.get(f"{service.url}{path}", headers=PROGRAMME, timeout=TIMEOUT)
            problem = response.headers.get("content-type") == PROBLEM_JSON
            if not (400 <= response.status_code < 500 and problem):
                failures[(path, "nul")] = f"GET {path}: [{response.status_code}] {response.text}"
    return failures


def methods_not_taken(url: str) -> dict[tuple[str, str], str]:
    """A method a path does not take is 405, with the methods it does."""
    failures = {}
    document = httpx.get(f"{url}/openapi.json", timeout=30).json()
    for path, operations in document["paths"].items():
        documented = {m.upper() for m in operations if m.upper() in METHODS}
        concrete = re.sub(r"\{[^}]+\}", "2030", path)  # path parameters: some valid value
        for method in sorted(METHODS - documented):
            response = httpx.request(method, f"{url}{concrete}", headers=PROGRAMME)
            allowed = set(response.headers.get("allow", "").split(", "))
            if response.status_code != 405 or allowed != documented:
                failures[(path, method)] = (
                    f"{method} {path}: [{response.status_code}] allow {sorted(allowed)}, "
                    f"documented {sorted(documented)}"
                )
    return failures
