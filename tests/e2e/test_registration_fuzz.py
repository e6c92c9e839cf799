"""The registration API does what its OpenAPI document says, fuzzed with schemathesis.

The service runs as a process on the real stack; every operation of the document it serves
gets generated requests, valid and invalid, as programme management (who may send all of
them). No answer may be a server error, and every status code and content type must be one
the document lists. Examples per operation are bounded so that the run takes well under a
few minutes on two cores.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

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

from shared.catalog import Catalog
from shared.testing.fixtures import Endpoints, ServiceProcesses, TestDatabase
from tests.e2e.conftest import PROGRAMME

pytestmark = pytest.mark.e2e

EXAMPLES = 12  # per operation and mode: ~30 operations x 2 modes x 12 requests
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@pytest.fixture
def registration(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    logs_dir: Path,
    catalog: Catalog,
) -> Iterator[str]:
    procs = ServiceProcesses(endpoints, database, topic_prefix, logs_dir, catalog)
    try:
        procs.start("registration")
        yield procs.url("registration")
    finally:
        procs.stop_all()


@pytest.mark.timeout(600)
def test_the_api_answers_as_its_openapi_document_says(registration: str) -> None:
    schema = schemathesis.openapi.from_url(f"{registration}/openapi.json")
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if "operations" in (operation.tags or []):
            continue  # health, metrics, AsyncAPI: the runtime's, not this API's
        for mode in MODES:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,  # the same requests every run: a failure comes again
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                nonlocal tried
                tried += 1
                response = case.call(base_url=registration, headers=PROGRAMME, timeout=30)
                try:
                    case.validate_response(response, checks=CHECKS)
                except Exception as error:  # schemathesis raises a group of failures
                    failures.append(f"{case.operation.label}: {error}"[:3000])
                    raise

            try:
                run()
            except (schemathesis.errors.SerializationNotPossible, Unsatisfiable):
                # A media type schemathesis cannot write (the CSV route has its own test), or
                # nothing to make invalid (an operation without parameters).
                pass
            except Exception:
                if not failures:
                    raise
                # recorded: every operation is tried before the test fails
    assert tried > 100, tried
    assert not failures, "\n\n".join(failures)


def test_a_method_a_path_does_not_take_is_405_with_the_methods_it_does(registration: str) -> None:
    document = httpx.get(f"{registration}/openapi.json", timeout=30).json()
    for path, operations in document["paths"].items():
        documented = {m.upper() for m in operations if m.upper() in METHODS}
        concrete = re.sub(r"\{[^}]+\}", "2030", path)  # path parameters: some valid value
        for method in sorted(METHODS - documented):
            response = httpx.request(method, f"{registration}{concrete}", headers=PROGRAMME)
            assert response.status_code == 405, (method, path, response.status_code)
            assert set(response.headers["allow"].split(", ")) == documented, (method, path)
