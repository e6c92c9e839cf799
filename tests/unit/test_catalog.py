"""Each service declares itself; the shared library names none of them."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from services.catalog import SERVICES
from shared.runtime.catalog import LocalInfra, find, load, names
from shared.runtime.settings import ServiceSettings

pytestmark = pytest.mark.unit

SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_the_catalog_lists_each_service_once_with_its_own_settings() -> None:
    assert load("services.catalog") == SERVICES
    assert len(set(names(SERVICES))) == len(SERVICES)
    for service in SERVICES:
        assert issubclass(service.settings, ServiceSettings)
        assert service.settings.SERVICE == service.name
        assert service.env_prefix == f"KS_{service.name.upper()}_"
        assert service.module == f"services.{service.name}"
        spec = service.spec(service.default_settings())
        assert spec.name == service.name


def test_settings_become_environment_variables_under_the_service_prefix() -> None:
    registration = find(SERVICES, "registration")
    assert registration.env(http_port=9001, topic_prefix="t1") == {
        "KS_REGISTRATION_HTTP_PORT": "9001",
        "KS_REGISTRATION_TOPIC_PREFIX": "t1",
    }
    with pytest.raises(ValueError, match="no such settings"):
        registration.env(smtp_port=25)


def test_a_local_run_gives_each_service_what_it_needs() -> None:
    infra = LocalInfra(smtp_host="127.0.0.1", smtp_port=2599)
    registration = find(SERVICES, "registration").local_env(infra)
    assert json.loads(registration["KS_REGISTRATION_API_TOKENS"])["local-programme"]["role"] == (
        "programme"
    )
    notification = find(SERVICES, "notification").local_env(infra)
    assert notification["KS_NOTIFICATION_SMTP_HOST"] == "127.0.0.1"
    assert notification["KS_NOTIFICATION_SMTP_PORT"] == "2599"
    # Settings read their own variables: what the catalog exports is what a service sees.
    for service in SERVICES:
        env = service.local_env(infra)
        assert all(key.startswith(service.env_prefix) for key in env), env


def test_a_service_needs_its_database_dsn_said() -> None:
    for service in SERVICES:
        assert service.settings.model_fields["database_url"].is_required()


def test_an_unknown_service_is_named_in_the_error() -> None:
    with pytest.raises(LookupError, match="'billing'"):
        find(SERVICES, "billing")


def _mentions(path: Path, service_names: list[str]) -> list[str]:
    """Imports of `services` and code strings naming a service (docstrings and texts with an
    example, marked `e.g.`, aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skip.add(id(body[0].value))  # a docstring
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                modules.append(node.module or "")
            found += [
                f"{path}:{node.lineno} imports {m}" for m in modules if m.startswith("services")
            ]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and "e.g." not in node.value
        ):
            found += [
                f"{path}:{node.lineno} names {name}: {node.value!r}"
                for name in service_names
                if name in node.value
            ]
    return found


def test_the_shared_library_names_no_service() -> None:
    # The published contracts in shared/contracts/events are the exception: their types name their
    # service (`no.kulturskoleradet.<service>.…`), as downstream consumers read them.
    paths = [
        path for path in SHARED.rglob("*.py") if "events" not in path.relative_to(SHARED).parts
    ]
    assert paths
    found = [hit for path in sorted(paths) for hit in _mentions(path, names(SERVICES))]
    assert found == []
