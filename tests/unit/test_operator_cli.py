"""The operator's tools where no broker or database is needed: which letters a filter takes,
migration checksums and states, the CLI's exit codes, its question before --all."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared import cli
from shared.db.migrations import MigrationState, checksum
from shared.messaging.dead_letters import DeadLetter, LetterFilter
from shared.messaging.outbox import ParkedFilter

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def letter(**given: object) -> DeadLetter:
    values: dict[str, object] = {
        "partition": 0,
        "offset": 0,
        "original_topic": "t.registration.commands",
        "original_partition": 0,
        "original_offset": 7,
        "reason": "",
        "failed_at": NOON.isoformat(),
        "consumer_group": "t.registration",
        "ce_type": "a.v1",
        "ce_id": "1",
        "key": b"branch-1",
        "value": b"{}",
        "headers": (),
    }
    return DeadLetter(**(values | given))  # type: ignore[arg-type]


def test_a_letter_filter_takes_types_a_key_and_a_half_open_time_range() -> None:
    assert not LetterFilter().narrows
    assert LetterFilter().matches(letter(failed_at="not a time", key=None))
    by_type = LetterFilter(types=frozenset({"a.v1", "b.v1"}))
    assert by_type.narrows
    assert by_type.matches(letter()) and not by_type.matches(letter(ce_type="c.v1"))
    by_key = LetterFilter(key="branch-1")
    assert by_key.matches(letter()) and not by_key.matches(letter(key=b"branch-2"))
    assert not by_key.matches(letter(key=None))
    window = LetterFilter(since=NOON, until=datetime(2026, 11, 20, 13, 0, tzinfo=UTC))
    assert window.matches(letter())  # since is inclusive
    assert not window.matches(letter(failed_at="2026-11-20T13:00:00+00:00"))  # until is not
    assert not window.matches(letter(failed_at="2026-11-20T11:59:59+00:00"))
    assert not window.matches(letter(failed_at="garbled"))  # no known time, no match


def test_a_redriven_copy_names_its_letter_once() -> None:
    again = letter(
        partition=1,
        offset=5,
        topic="t.registration.commands.dlq",
        headers=(
            ("ce_id", b"1"),
            ("ks_redriven_from", b"t.registration.commands.dlq:0:2"),
            ("dlq_reason", b"x"),
        ),
    )
    assert again.redriven_from == "t.registration.commands.dlq:0:2"
    assert again.redrive_headers == [
        ("ce_id", b"1"),
        ("ks_redriven_from", b"t.registration.commands.dlq:1:5"),
    ]


def test_a_parked_filter_passes_none_for_what_it_does_not_narrow() -> None:
    assert ParkedFilter().args() == (None, None, None, None)
    assert not ParkedFilter().narrows
    chosen = ParkedFilter(types=frozenset({"b", "a"}), key="k", since=NOON)
    assert chosen.narrows and chosen.args() == (["a", "b"], "k", NOON, None)


def test_a_checksum_changes_with_any_byte_but_not_with_crlf(tmp_path: Path) -> None:
    path = tmp_path / "0001.sql"
    path.write_bytes(b"CREATE TABLE t (id int);\nCREATE INDEX ON t (id);\n")
    first = checksum(path)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    path.write_bytes(b"CREATE TABLE t (id int);\r\nCREATE INDEX ON t (id);\r\n")
    assert checksum(path) == first
    path.write_bytes(b"CREATE TABLE t (id bigint);\nCREATE INDEX ON t (id);\n")
    assert checksum(path) != first


def test_a_migration_state_says_what_the_next_start_does() -> None:
    here = Path("0001.sql")
    assert MigrationState("v", here, None, None, "a").state == "pending"
    assert MigrationState("v", here, NOON, "a", "a").state == "applied"
    assert MigrationState("v", here, NOON, "a", "b").state == "changed"
    assert MigrationState("v", here, NOON, None, "a").state == "unrecorded"
    assert MigrationState("v", None, NOON, "a", None).state == "unknown"


@pytest.mark.parametrize(
    "command",
    [
        ["dlq", "redrive"],
        ["dlq", "list"],
        ["outbox", "retry"],
        ["outbox", "parked"],
        ["migrations", "status"],
        [],
    ],
)
def test_the_exit_codes_are_in_the_help(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([*command, "--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    for code in range(4):
        assert re.search(rf"^  {code}  \S", shown, re.MULTILINE), (code, shown)


def test_the_runbook_lists_the_same_exit_codes() -> None:
    runbook = (ROOT / "docs" / "operations.md").read_text()
    codes = {int(c) for c in re.findall(r"^  (\d)  ", cli.EXIT_CODES, re.MULTILINE)}
    assert codes == {0, 1, 2, 3}
    for code in codes:
        assert re.search(rf"^\| `{code}` \|", runbook, re.MULTILINE), code


def test_filters_narrow_all_and_are_refused_with_named_items(
    capsys: pytest.CaptureFixture[str],
) -> None:
    where = ["--dsn", "postgresql://nobody@127.0.0.1:1/none", "--schema", "registration"]
    assert cli.main(["dlq", "redrive", "t", "--offset", "0:1", "--key", "k", *where]) == 2
    assert "narrow --all" in capsys.readouterr().err
    assert cli.main(["outbox", "retry", "--id", "4", "--type", "x.v1", *where]) == 2
    assert "narrow --all" in capsys.readouterr().err
    since, until = "2026-11-21T00:00:00Z", "2026-11-20T00:00:00Z"
    assert cli.main(["outbox", "retry", "--all", "--since", since, "--until", until, *where]) == 2
    assert "--since must be before --until" in capsys.readouterr().err


def test_a_command_on_a_service_needs_the_service_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KS_REGISTRATION_DATABASE_URL", raising=False)
    monkeypatch.setenv("KS_DATABASE_URL", "postgresql://somebody@127.0.0.1:1/db")
    assert cli.main(["outbox", "retry", "--all", "--yes"]) == 2
    said = capsys.readouterr().err
    assert "KS_DATABASE_URL is not read" in said and "--service NAME" in said
    assert cli.main(["outbox", "parked", "--service", "registration"]) == 2
    assert "KS_REGISTRATION_DATABASE_URL is not set" in capsys.readouterr().err
    assert cli.main(["outbox", "parked", "--service", "nosuch"]) == 2
    assert "no service 'nosuch'" in capsys.readouterr().err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stdin", "answer"),
    [
        (io.StringIO("y\n"), False),  # a pipe cannot say yes
        (Terminal("\n"), False),  # the default is no
        (Terminal("n\n"), False),
        (Terminal("y\n"), True),
        (Terminal("ja\n"), True),
    ],
)
def test_all_is_done_only_when_someone_says_yes(
    stdin: io.StringIO,
    answer: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", stdin)
    assert cli._confirmed("dlq", "Re-drive 3?", yes=False) is answer
    said = capsys.readouterr().err
    assert ("nothing done" in said) is not answer
    assert cli._confirmed("dlq", "Re-drive 3?", yes=True) is True


def test_progress_shows_tenths_of_long_work_only(capsys: pytest.CaptureFixture[str]) -> None:
    progress = cli._Progress("dlq")
    for done in range(1, 11):
        progress("sent", done, 10)  # short: nothing
    for done in range(1, 101):
        progress("sent", done, 100)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"dlq: sent {n}/100" for n in range(10, 101, 10)]


def test_service_settings_come_from_the_services_own_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("KS_KAFKA_BOOTSTRAP", "KS_DATABASE_URL", "KS_REGISTRATION_DB_SCHEMA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KS_KAFKA_BOOTSTRAP", "generic:9092")
    monkeypatch.setenv("KS_REGISTRATION_DATABASE_URL", "postgresql://registration@db/ks")
    monkeypatch.setenv("KS_REGISTRATION_KAFKA_BOOTSTRAP", "kafka-0:9093")
    monkeypatch.setenv("KS_REGISTRATION_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KS_REGISTRATION_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KS_REGISTRATION_KAFKA_SASL_USERNAME", "registration")
    monkeypatch.setenv("KS_REGISTRATION_KAFKA_SASL_PASSWORD", "s3cret")

    def target(*argv: str) -> cli._Target | None:
        args = cli._parser().parse_args(["dlq", "redrive", "t.x.commands", "--all", *argv])
        return cli._target(args, database=True)

    found = target("--service", "registration")
    assert found is not None
    assert (found.dsn, found.schema) == ("postgresql://registration@db/ks", "registration")
    assert found.kafka.bootstrap == "kafka-0:9093"
    assert (found.kafka.sasl_username, found.kafka.password()) == ("registration", "s3cret")
    # Options win over the variables.
    found = target("--service", "registration", "--schema", "reg2", "--bootstrap", "k:1")
    assert found is not None and (found.schema, found.kafka.bootstrap) == ("reg2", "k:1")
    # Without --service nothing comes from the environment: not even KS_KAFKA_BOOTSTRAP.
    found = target("--dsn", "postgresql://x@db/ks", "--schema", "registration")
    assert found is not None and found.kafka.bootstrap == "127.0.0.1:19092"
    assert found.kafka.security_protocol == "PLAINTEXT"
