"""Every metric a service exposes on /metrics has its row in docs/operations.md, so an
operator can look up what it says and what to alert on."""

from __future__ import annotations

import importlib
import re

import pytest
from prometheus_client import REGISTRY

from services.catalog import SERVICES
from shared.testing.fixtures import ROOT

pytestmark = pytest.mark.unit


def registered_metrics() -> set[str]:
    """The names the services' metrics are scraped under (a counter's with `_total`)."""
    # A service's composition root imports everything it runs, and so registers its metrics.
    for service in SERVICES:
        importlib.import_module(f"services.{service.name}.app")
    importlib.import_module("shared.runtime.service")
    found = set()
    for family in REGISTRY.collect():
        if family.name.startswith("ks_"):
            found.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return found


def documented_metrics() -> set[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    return set(re.findall(r"^\| `(ks_[a-z_]+)[{`]", text, flags=re.MULTILINE))


def test_every_metric_has_a_row_in_the_runbook() -> None:
    registered = registered_metrics()
    # What the platform is known to expose (the test must not pass on an empty registry).
    assert {"ks_messages_total", "ks_mails_total", "ks_http_request_seconds"} <= registered
    missing = registered - documented_metrics()
    assert not missing, f"metrics without a row in docs/operations.md: {sorted(missing)}"


def test_every_row_names_a_metric_that_exists() -> None:
    stale = documented_metrics() - registered_metrics()
    assert not stale, f"rows in docs/operations.md for no metric: {sorted(stale)}"
