"""docs/events.md, the guide for downstream consumers: its tables of types, topics, keys and
retention are generated from the contracts, and `contracts check` keeps them current."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.catalog import SERVICES
from shared.contracts.events.registration import InterestRegistered, MembershipChanged
from shared.contracts.schema import (
    TABLES_BEGIN,
    TABLES_END,
    check,
    events_doc_path,
    events_doc_tables,
    registered_contracts,
    write,
)

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT_OF_DATE = (
    "docs/events.md: tables out of date: regenerate (run `kulturskole contracts generate`)"
)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "contracts", tmp_path / "contracts")
    shutil.copytree(REPO_ROOT / "docs", tmp_path / "docs")
    return tmp_path


def test_the_committed_guide_has_the_current_tables() -> None:
    text = events_doc_path(REPO_ROOT).read_text(encoding="utf-8")
    assert events_doc_tables() in text


def test_every_type_is_in_the_table_with_its_topic_and_key() -> None:
    tables = events_doc_tables()
    for model in registered_contracts():
        assert f"[`{model.TYPE}`]" in tables
    # A branch's interest events (its contact, its areas) are in order with each other.
    assert (
        f"| `kulturskole.registration.events` | `{InterestRegistered.KEY}` "
        "| `registration.branch-contact-set.v1`, `registration.development-areas-set.v1`, "
        "`registration.interest-registered.v1`, `registration.interest-updated.v1` |"
    ) in tables
    assert f'`"{MembershipChanged.FIXED_KEY}"` (always)' in tables


def test_retention_is_stated_per_kind_of_topic() -> None:
    tables = events_doc_tables()
    assert "| events | `<prefix>.<service>.events` |" in tables
    assert "| for ever | `cleanup.policy=delete`, `retention.ms=-1`" in tables
    assert "| 7 days |" in tables and "| 90 days |" in tables
    assert "a tombstone 1 day" in tables


def test_an_edited_table_is_out_of_date_and_generate_restores_it(repo_copy: Path) -> None:
    doc = events_doc_path(repo_copy)
    committed = doc.read_text(encoding="utf-8")
    doc.write_text(committed.replace("| 90 days |", "| 30 days |"), encoding="utf-8")

    assert check(repo_copy, SERVICES) == [OUT_OF_DATE]

    write(repo_copy, SERVICES)
    assert doc.read_text(encoding="utf-8") == committed
    assert check(repo_copy, SERVICES) == []


def test_the_text_around_the_tables_is_kept(repo_copy: Path) -> None:
    doc = events_doc_path(repo_copy)
    text = doc.read_text(encoding="utf-8")
    edited = text.replace("# Events for downstream consumers", "# Events, for consumers")
    doc.write_text(edited, encoding="utf-8")

    assert check(repo_copy, SERVICES) == []
    write(repo_copy, SERVICES)
    assert doc.read_text(encoding="utf-8") == edited


def test_a_guide_without_its_generated_part_is_reported(repo_copy: Path) -> None:
    doc = events_doc_path(repo_copy)
    text = doc.read_text(encoding="utf-8")
    start, end = text.index(TABLES_BEGIN), text.index(TABLES_END) + len(TABLES_END)
    doc.write_text(text[:start] + text[end:], encoding="utf-8")

    (problem,) = check(repo_copy, SERVICES)
    assert problem.startswith("docs/events.md: no generated part")

    doc.unlink()
    assert check(repo_copy, SERVICES) == [
        "docs/events.md: missing: the guide for consumers, with generated tables"
    ]
