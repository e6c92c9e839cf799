"""The CI guard: the committed contracts under contracts/ match the code, and no published
version (`....vN`) is broken by it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from services.catalog import SERVICES
from shared.cli import main
from shared.contracts.events.registration import InterestRegistered
from shared.contracts.schema import (
    TABLES_BEGIN,
    TABLES_END,
    asyncapi_documents,
    asyncapi_path,
    check,
    json_schemas,
    render,
    schema_path,
    write,
)

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
INTEREST = InterestRegistered.TYPE


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A root with a copy of the committed contracts/ and docs/, to edit."""
    shutil.copytree(REPO_ROOT / "contracts", tmp_path / "contracts")
    shutil.copytree(REPO_ROOT / "docs", tmp_path / "docs")
    return tmp_path


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_committed_contracts_match_the_code() -> None:
    """If this fails: a breaking change needs a new .vN type; otherwise regenerate with
    `python -m shared.cli contracts generate` and commit contracts/."""
    assert check(REPO_ROOT, SERVICES) == []


def test_the_committed_files_are_exactly_what_generate_writes(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    guide = REPO_ROOT / "docs" / "events.md"
    # Only the tables are generated: start from a guide whose tables are empty.
    text = guide.read_text(encoding="utf-8")
    start = text.index(TABLES_BEGIN)
    end = text.index(TABLES_END) + len(TABLES_END)
    blank = text[:start] + f"{TABLES_BEGIN}\n{TABLES_END}" + text[end:]
    (tmp_path / "docs" / "events.md").write_text(blank, encoding="utf-8")

    written = write(tmp_path, SERVICES)
    assert tmp_path / "docs" / "events.md" in written
    for path in written:
        committed = REPO_ROOT / path.relative_to(tmp_path)
        assert committed.read_bytes() == path.read_bytes(), committed


def test_generation_is_deterministic() -> None:
    assert render(asyncapi_documents(SERVICES)) == render(asyncapi_documents(SERVICES))
    assert render(json_schemas()) == render(json_schemas())


def test_every_schema_names_its_type_kind_and_service() -> None:
    schema = json_schemas()[INTEREST]
    assert schema["$id"] == INTEREST
    assert schema["title"] == "InterestRegistered"
    assert schema["x-kind"] == "event"
    assert schema["x-service"] == "registration"


def test_code_that_breaks_a_published_schema_is_reported(repo_copy: Path) -> None:
    """Simulate the code dropping a property of a published version: the committed schema
    has a required property that the current model lacks."""
    path = schema_path(repo_copy, INTEREST)
    published = load(path)
    published["properties"]["legacy_code"] = {"type": "string", "title": "Legacy Code"}
    published["required"].append("legacy_code")
    path.write_text(render(published), encoding="utf-8")

    problems = check(repo_copy, SERVICES)

    assert len(problems) == 1, problems
    assert INTEREST in problems[0]
    assert "'legacy_code'" in problems[0]
    assert "removed" in problems[0]
    assert "breaking change" in problems[0]
    assert "new .vN type" in problems[0]


def test_a_compatible_difference_is_out_of_date(repo_copy: Path) -> None:
    path = schema_path(repo_copy, INTEREST)
    published = load(path)
    published["description"] = "An older wording"
    path.write_text(render(published), encoding="utf-8")

    assert check(repo_copy, SERVICES) == [
        f"{INTEREST}: out of date: regenerate (run `kulturskole contracts generate`)"
    ]


def test_a_removed_published_version_is_reported(repo_copy: Path) -> None:
    gone = "no.kulturskoleradet.registration.interest-withdrawn.v1"
    shutil.copy(schema_path(repo_copy, INTEREST), schema_path(repo_copy, gone))

    problems = check(repo_copy, SERVICES)

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{gone}: published version removed")


def test_a_missing_schema_is_not_generated(repo_copy: Path) -> None:
    schema_path(repo_copy, INTEREST).unlink()

    assert check(repo_copy, SERVICES) == [
        f"{INTEREST}: not generated: run `kulturskole contracts generate`"
    ]


def test_a_stale_asyncapi_document_is_out_of_date(repo_copy: Path) -> None:
    path = asyncapi_path(repo_copy, "registration")
    document = load(path)
    document["info"]["version"] = "0.0.1"
    path.write_text(render(document), encoding="utf-8")
    asyncapi_path(repo_copy, "scheduling").unlink()

    assert check(repo_copy, SERVICES) == [
        "asyncapi/registration.json: out of date: regenerate "
        "(run `kulturskole contracts generate`)",
        "asyncapi/scheduling.json: not generated: run `kulturskole contracts generate`",
    ]


def test_an_empty_root_needs_everything_generated(tmp_path: Path) -> None:
    *problems, guide = check(tmp_path, SERVICES)
    assert len(problems) == len(json_schemas()) + len(asyncapi_documents(SERVICES))
    assert all("not generated" in problem for problem in problems)
    # The guide around the generated tables is written by hand: it cannot be generated.
    assert guide == "docs/events.md: missing: the guide for consumers, with generated tables"


def test_cli_check_passes_on_the_repo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "check", "--root", str(REPO_ROOT)]) == 0
    out = capsys.readouterr().out
    assert "no breaking change" in out


def test_cli_generate_refuses_to_overwrite_a_break(
    repo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = schema_path(repo_copy, INTEREST)
    published = load(path)
    published["required"].remove("message")  # the code now requires what was optional
    before = render(published)
    path.write_text(before, encoding="utf-8")
    root = ["--root", str(repo_copy)]

    assert main(["contracts", "check", *root]) == 1
    assert main(["contracts", "generate", *root]) == 1
    assert "'message' is newly required" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == before

    assert main(["contracts", "generate", "--allow-breaking", *root]) == 0
    assert main(["contracts", "check", *root]) == 0
