"""The `kulturskole` command line.

kulturskole contracts generate|check [--root DIR] [--catalog MODULE]
kulturskole dlq list TOPIC [--service NAME] [KAFKA OPTIONS] [--limit N] [--json]
kulturskole dlq redrive TOPIC --service NAME (--all [FILTERS] [--yes] | --offset P:O ...)
                        [--dry-run] [KAFKA OPTIONS]
kulturskole outbox parked --service NAME [FILTERS] [--json]
kulturskole outbox retry --service NAME (--all [FILTERS] [--yes] | --id N ...) [--dry-run]
kulturskole outbox discard --service NAME --id N --reason TEXT
kulturskole replay --service NAME --topic T [--since ISO] [--types TYPE ...]
                   [--to TOPIC] [KAFKA OPTIONS] [--dry-run]
kulturskole migrations status [--service NAME ...] [--json]
kulturskole kafka acls [--prefix P] [--principal 'User:{service}'] [--service NAME ...]
                       [--apply] [KAFKA OPTIONS]

--service NAME reads that service's own settings, as the service does: the database from
KS_<NAME>_DATABASE_URL (schema KS_<NAME>_DB_SCHEMA, else NAME), Kafka from KS_<NAME>_KAFKA_*.
--dsn, --schema and the KAFKA OPTIONS override them (without --service they are all there
is). FILTERS narrow --all: --type TYPE (repeatable), --key KEY, --since ISO, --until ISO.

KAFKA OPTIONS: --bootstrap, --security-protocol, --sasl-mechanism, --sasl-username,
--sasl-password-file, --ssl-ca-file, --ssl-cert-file, --ssl-key-file. A password is taken
only from KS_<NAME>_KAFKA_SASL_PASSWORD or a file, never from the command line. `kafka acls`
acts as the cluster's administrator, not as a service: its defaults are KS_KAFKA_*.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.messaging.kafka_client import KafkaClientSettings, KafkaConnection

if TYPE_CHECKING:
    import asyncpg

    from shared.messaging.dead_letters import DeadLetter, RedrivePlan
    from shared.messaging.outbox import ParkedFilter, ParkedRow

EXIT_CODES = """\
exit codes:
  0  done; with --dry-run: reported what would be done, did nothing
  1  the work failed: a broker or database that cannot be reached or refuses, a letter or
     row named that is not there, an applied migration that changed (migrations status)
  2  wrong usage: an unknown option, a missing or invalid setting (e.g. no --service)
  3  not confirmed: --all was answered no, or ran without a terminal and without --yes;
     nothing was done
"""
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_CONFIRMED = 0, 1, 2, 3

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BOOTSTRAP = "127.0.0.1:19092"
# The module whose `SERVICES` lists the service declarations to document.
DEFAULT_CATALOG = "services.catalog"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "contracts":
        if args.action == "generate":
            return _generate(args.root, args.catalog, allow_breaking=args.allow_breaking)
        return _check(args.root, args.catalog)
    if args.command == "dlq":
        return _dlq(args)
    if args.command == "outbox":
        return _outbox(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "migrations":
        return _migrations_status(args)
    if args.command == "kafka":
        return _kafka_acls(args)
    raise AssertionError(f"unhandled command: {args.command}")  # argparse requires one


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kulturskole",
        description=__doc__,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keep the usage lines above
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    contracts = commands.add_parser(
        "contracts", help="the published contracts: JSON Schema per type, AsyncAPI per service"
    )
    actions = contracts.add_subparsers(dest="action", required=True, metavar="ACTION")
    generate = actions.add_parser(
        "generate", help="write contracts/jsonschema/*.json and contracts/asyncapi/*.json"
    )
    generate.add_argument(
        "--allow-breaking",
        action="store_true",
        help="overwrite committed schemas even where the code breaks a published version",
    )
    check = actions.add_parser(
        "check", help="fail on a breaking change to a published version or stale files (CI)"
    )
    for sub in (generate, check):
        sub.add_argument(
            "--root",
            type=Path,
            default=REPO_ROOT,
            help="repository root holding contracts/ (default: %(default)s)",
        )
        sub.add_argument(
            "--catalog",
            default=DEFAULT_CATALOG,
            metavar="MODULE",
            help="module whose SERVICES lists the services to describe (default: %(default)s)",
        )
    _add_dlq_commands(commands)
    _add_outbox_commands(commands)
    _add_replay_command(commands)
    _add_migrations_commands(commands)
    _add_kafka_commands(commands)
    return parser


def _add_dlq_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = commands.add_parser(
        "dlq", help="dead letters: list what lies on a <topic>.dlq, re-drive it to <topic>"
    )
    actions = dlq.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        help="one line per dead letter: where, from where, ce_type, reason (re-driven when)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    redrive = actions.add_parser(
        "redrive",
        help="publish dead letters to their original topic again (dlq_* headers removed)",
        description=(
            "Publish dead letters to their original topic again, as first sent (dlq_* headers"
            " removed, ks_redriven_from added), and record each in the service's schema"
            " (dlq_redriven), so that the next --all passes it over. --all asks first on a"
            " terminal; give --yes where nobody can answer (a script), or --dry-run to see"
            " what would be sent."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for sub in (listing, redrive):
        sub.add_argument(
            "topic",
            metavar="TOPIC",
            help="the topic or its DLQ, e.g. kulturskole.registration.commands[.dlq]",
        )
        _add_service_options(sub, database=True)
        _add_kafka_options(sub)
    listing.add_argument(
        "--limit",
        type=_positive_int,
        default=100,
        metavar="N",
        help="show at most N letters, oldest first (default: %(default)s)",
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    chosen = redrive.add_mutually_exclusive_group(required=True)
    chosen.add_argument(
        "--all",
        action="store_true",
        help="every letter on the DLQ now that was not re-driven before (narrowed by FILTERS)",
    )
    chosen.add_argument(
        "--offset",
        type=_place,
        action="append",
        metavar="P:O",
        help="the letter at DLQ partition P, offset O (as `dlq list` shows); repeatable",
    )
    _add_filters(redrive, when="dead-lettered")
    _add_confirmation(redrive, "send nothing: list the letters that would be re-driven")


def _add_filters(sub: argparse.ArgumentParser, *, when: str) -> None:
    group = sub.add_argument_group("filters (narrow --all)")
    group.add_argument(
        "--type", action="append", metavar="TYPE", help="only this ce_type; repeatable"
    )
    group.add_argument("--key", help="only messages with this key")
    group.add_argument(
        "--since", type=_timestamp, metavar="ISO", help=f"only those {when} at or after this time"
    )
    group.add_argument(
        "--until", type=_timestamp, metavar="ISO", help=f"only those {when} before this time"
    )


def _add_confirmation(sub: argparse.ArgumentParser, dry_run: str) -> None:
    sub.add_argument("--dry-run", action="store_true", help=dry_run)
    sub.add_argument(
        "--yes",
        action="store_true",
        help="do --all without asking (for scripts; without a terminal --all needs it)",
    )


def _add_service_options(sub: argparse.ArgumentParser, *, database: bool) -> None:
    group = sub.add_argument_group("the service (its own settings, as it reads them)")
    group.add_argument(
        "--service",
        metavar="NAME",
        help="read KS_<NAME>_DATABASE_URL, KS_<NAME>_DB_SCHEMA and KS_<NAME>_KAFKA_*",
    )
    if database:
        group.add_argument(
            "--schema", help="the service's schema (default: KS_<NAME>_DB_SCHEMA, else NAME)"
        )
        group.add_argument(
            "--dsn",
            help="PostgreSQL DSN of a role with rights on the schema (default: "
            "$KS_<NAME>_DATABASE_URL)",
        )


def _filters_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, name) is not None for name in ("type", "key", "since", "until"))


def _check_selection(args: argparse.Namespace, name: str) -> bool:
    """Filters narrow --all only; say so when given with a list of letters or rows."""
    if _filters_given(args) and not args.all:
        print(
            f"{args.command}: --type, --key, --since and --until narrow --all; {name} names"
            " the items themselves",
            file=sys.stderr,
        )
        return False
    if args.since is not None and args.until is not None and args.since >= args.until:
        print(f"{args.command}: --since must be before --until", file=sys.stderr)
        return False
    return True


class _Progress:
    """Long work says how far it has come on stderr: at each tenth and at least every few
    seconds, when there are enough items for it to take a while."""

    def __init__(self, command: str, *, at_least: int = 50, every_s: float = 5.0) -> None:
        self.command = command
        self.at_least = at_least
        self.every_s = every_s
        self.shown: dict[str, tuple[int, float]] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        if total < self.at_least:
            return
        tenth, at = self.shown.get(what, (0, time.monotonic()))
        now_tenth = done * 10 // total
        if now_tenth > tenth or time.monotonic() - at >= self.every_s:
            self.shown[what] = (now_tenth, time.monotonic())
            print(f"{self.command}: {what} {done}/{total}", file=sys.stderr, flush=True)


def _confirmed(command: str, question: str, *, yes: bool) -> bool:
    """Ask on a terminal; a script must say --yes. False: say nothing was done."""
    if yes:
        return True
    if not sys.stdin.isatty():
        print(
            f"{command}: --all asks first, and there is no terminal to ask on; add --yes to"
            " go ahead (or --dry-run to look); nothing done",
            file=sys.stderr,
        )
        return False
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer in {"y", "yes", "j", "ja"}:
        return True
    print(f"{command}: not confirmed; nothing done", file=sys.stderr)
    return False


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value


def _place(text: str) -> tuple[int, int]:
    partition, sep, offset = text.partition(":")
    try:
        place = (int(partition), int(offset))
    except ValueError:
        place = (-1, -1)
    if not sep or min(place) < 0:
        raise argparse.ArgumentTypeError(f"expected PARTITION:OFFSET such as 0:42, got {text!r}")
    return place


def _generate(root: Path, catalog: str, *, allow_breaking: bool) -> int:
    from shared.contracts import schema as contracts
    from shared.runtime.catalog import load

    breaks = [problem for problem in contracts.published_breaks(root) if "breaking" in problem]
    if breaks and not allow_breaking:
        # Regenerating would hide the break from `check`: say so instead of writing.
        for problem in breaks:
            print(problem, file=sys.stderr)
        print(
            "contracts: nothing written; give the change a new .vN type "
            "(or pass --allow-breaking if this version was never published)",
            file=sys.stderr,
        )
        return 1
    written = contracts.write(root, load(catalog))
    schemas = sum(1 for path in written if path.parent.name == contracts.JSONSCHEMA_DIR)
    print(
        f"contracts: wrote {schemas} schemas and "
        f"{sum(1 for path in written if path.parent.name == contracts.ASYNCAPI_DIR)} AsyncAPI "
        "documents "
        f"under {root / contracts.CONTRACTS_DIR}"
    )
    return 0


def _check(root: Path, catalog: str) -> int:
    from shared.contracts import schema as contracts
    from shared.runtime.catalog import load

    services = load(catalog)
    problems = contracts.check(root, services)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"contracts: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(
        f"contracts: {len(contracts.json_schemas())} schemas, "
        f"{len(contracts.asyncapi_documents(services))} AsyncAPI documents, no breaking change"
    )
    return 0


def _dlq(args: argparse.Namespace) -> int:
    target = _target(args, database=args.action == "redrive")
    if target is None:
        return EXIT_USAGE
    if args.action == "list":
        return _dlq_list(args, target)
    if not _check_selection(args, "--offset"):
        return EXIT_USAGE
    return _dlq_redrive(args, target)


def _dlq_list(args: argparse.Namespace, target: _Target) -> int:
    from shared.messaging.dead_letters import as_dlq_topic, list_dead_letters, redriven_marks
    from shared.messaging.dead_letters import was_redriven as redriven_at

    dlq = as_dlq_topic(args.topic)
    limit: int = args.limit

    async def run() -> tuple[list[DeadLetter], dict[tuple[int, int], Any]]:
        # One more than shown, to tell whether there are more.
        found = await list_dead_letters(target.kafka, dlq, limit=limit + 1)
        if target.dsn is None:
            return found, {}  # without the service's schema, nothing is known re-driven
        conn = await target.connect()
        try:
            return found, await redriven_marks(conn, dlq)
        finally:
            await conn.close()

    result = _run("dlq", run())
    if result is None:
        return EXIT_FAILED
    found, marks = result
    for letter in found[:limit]:
        when = redriven_at(letter, marks)
        if args.json:
            shown = letter.to_json() | {"redriven_at": when.isoformat() if when else None}
            print(json.dumps(shown, ensure_ascii=False))
            continue
        origin = f"{letter.original_topic}@{_or_dash(letter.original_partition)}"
        origin += f":{_or_dash(letter.original_offset)}"
        reason = " ".join(letter.reason.split()) or "-"  # one line per letter
        line = f"{letter.partition}/{letter.offset}  {origin}  {letter.ce_type or '-'}  {reason}"
        if when is not None:
            line += f"  (re-driven {when.isoformat(timespec='seconds')})"
        print(line)
    if len(found) > limit:
        print(f"dlq: showing the first {limit} letters on {dlq}; use --limit", file=sys.stderr)
    elif not found:
        print(f"dlq: no dead letters on {dlq}", file=sys.stderr)
    return EXIT_OK


def _dlq_redrive(args: argparse.Namespace, target: _Target) -> int:
    from shared.messaging.dead_letters import LetterFilter, as_dlq_topic, carry_out, plan_redrive

    dlq = as_dlq_topic(args.topic)
    progress = _Progress("dlq")
    filters = LetterFilter(
        types=frozenset(args.type or ()), key=args.key, since=args.since, until=args.until
    )

    async def plan() -> RedrivePlan:
        conn = await target.connect()
        try:
            return await plan_redrive(
                target.kafka,
                dlq,
                conn,
                offsets=set(args.offset) if args.offset else None,
                all_=args.all,
                filters=filters,
                progress=progress,
            )
        finally:
            await conn.close()

    found = _run("dlq", plan())
    if found is None:
        return EXIT_FAILED
    passed = [
        f"{len(found.already)} re-driven before",
        f"{len(found.incomplete)} without their original value",
    ]
    if filters.narrows:
        passed.append(f"{found.unmatched} not matching the filters")
    # Where they go, once there are any: their original topics.
    towards = f" to {', '.join(found.targets)}" if found.targets else ""
    summary = f"{len(found.chosen)} dead letter(s) from {dlq}{towards}" + (
        f" (passed over: {', '.join(passed)})" if args.all else ""
    )
    if args.dry_run:
        for letter in found.chosen:
            print(
                f"{letter.partition}/{letter.offset}  {letter.original_topic}"
                f"  {letter.ce_type or '-'}  {letter.ce_id or '-'}"
            )
        print(f"dlq: would re-drive {summary}; nothing sent (--dry-run)", file=sys.stderr)
        return EXIT_OK
    if not found.chosen:
        print(f"dlq: re-drove {summary}")
        return EXIT_OK
    if args.all and not _confirmed("dlq", f"Re-drive {summary}?", yes=args.yes):
        return EXIT_NOT_CONFIRMED

    async def send() -> int:
        conn = await target.connect()
        try:
            return await carry_out(target.kafka, found, conn, progress=progress)
        finally:
            await conn.close()

    count = _run("dlq", send())
    if count is None:
        return EXIT_FAILED
    print(f"dlq: re-drove {count} dead letter(s) from {dlq}; recorded in {target.schema}")
    return EXIT_OK


T = TypeVar("T")


def _run(command: str, work: Coroutine[Any, Any, T]) -> T | None:
    """Run `work`; an operator's mistake or an unreachable broker or database is a message,
    not a trace."""
    import asyncpg
    from aiokafka.errors import KafkaError

    from shared.messaging.dead_letters import DeadLetterError

    try:
        return asyncio.run(work)
    except asyncpg.UndefinedTableError as error:
        print(
            f"{command}: {error} (the service's schema predates this command: start the"
            " service once, or run the set-up, to apply its migrations)",
            file=sys.stderr,
        )
    except (DeadLetterError, KafkaError, OSError, TimeoutError) as error:
        print(f"{command}: {error}", file=sys.stderr)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        print(f"{command}: {type(error).__name__}: {error}", file=sys.stderr)
    return None


@dataclass(frozen=True)
class _Target:
    """Where a command works: the service's database (if it needs one) and Kafka."""

    kafka: KafkaConnection
    dsn: str | None
    schema: str

    async def connect(self) -> asyncpg.Connection:
        from shared.db.pool import connect

        assert self.dsn is not None
        return await connect(self.dsn, self.schema, name="kulturskole-cli")


def _target(args: argparse.Namespace, *, database: bool) -> _Target | None:
    """The settings `--service` names, overridden by the options given; None (after saying
    why) when they do not do. `database`: the command cannot work without one."""
    from pydantic import ValidationError

    command = args.command
    given: dict[str, Any] = {
        f"kafka_{name}": getattr(args, name)
        for name in _KAFKA_OPTIONS
        if getattr(args, name, None) is not None
    }
    if "kafka_sasl_password_file" in given:
        given["kafka_sasl_password"] = None  # the file given here wins over the environment
    service = args.service
    if service is not None:
        prefix = _service_prefix(command, service, getattr(args, "catalog", DEFAULT_CATALOG))
        if prefix is None:
            return None
        settings_class = _service_settings(prefix)
    else:
        prefix, settings_class = "", _NoEnvironment
    try:
        settings = settings_class(**given)
    except ValidationError as error:
        for problem in error.errors():
            reason = problem.get("ctx", {}).get("error", problem["msg"])
            print(
                f"{command}: settings{f' of {service}' if service else ''}: {reason}",
                file=sys.stderr,
            )
        return None
    dsn = getattr(args, "dsn", None) or settings.database_url
    schema = getattr(args, "schema", None) or settings.db_schema or service
    if database and (dsn is None or schema is None):
        missing = f"{prefix}DATABASE_URL is not set" if service else "no --service given"
        generic = (
            " (KS_DATABASE_URL is not read: name the service)"
            if os.environ.get("KS_DATABASE_URL")
            else ""
        )
        print(
            f"{command}: {missing}{generic}; give --service NAME to use its own settings,"
            " or --dsn and --schema",
            file=sys.stderr,
        )
        return None
    return _Target(settings.kafka, dsn, schema or "")


_KAFKA_OPTIONS = (
    "bootstrap",
    "security_protocol",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password_file",
    "ssl_ca_file",
    "ssl_cert_file",
    "ssl_key_file",
)


def _service_prefix(command: str, service: str, catalog: str) -> str | None:
    from shared.runtime.catalog import find, load

    try:
        return find(load(catalog), service).env_prefix
    except LookupError as error:
        print(f"{command}: {error}", file=sys.stderr)
        return None


class _CliSettings(KafkaClientSettings):
    """What the CLI needs of a service's settings (not all of them: a mail server's are not
    needed to retry an outbox row)."""

    database_url: str | None = None
    db_schema: str = ""


class _NoEnvironment(_CliSettings):
    """Without --service: the options given, nothing from the environment."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: Any, *_: Any, **__: Any
    ) -> tuple[Any, ...]:
        return (init_settings,)


def _service_settings(prefix: str) -> type[_CliSettings]:
    class Settings(_CliSettings):
        model_config = SettingsConfigDict(
            env_prefix=prefix, extra="ignore", hide_input_in_errors=True
        )

    return Settings


def _add_outbox_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outbox = commands.add_parser(
        "outbox", help="parked outbox rows: list them, send them again, or give one up"
    )
    actions = outbox.add_subparsers(dest="action", required=True, metavar="ACTION")
    parked = actions.add_parser(
        "parked",
        help="one line per parked row: id, topic, key, type, size, rows held, reason",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parked.add_argument("--json", action="store_true", help="one JSON object per line")
    retry = actions.add_parser(
        "retry",
        help="un-park rows; the relay sends them (and the rows behind them) in order",
        description=(
            "Un-park parked outbox rows; the relay sends them, and the rows of their key"
            " waiting behind them, in order. --all asks first on a terminal; give --yes where"
            " nobody can answer (a script), or --dry-run to see what would be un-parked."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chosen = retry.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--all", action="store_true", help="every parked row (narrowed by FILTERS)")
    chosen.add_argument(
        "--id", type=_positive_int, action="append", metavar="N", help="row N; repeatable"
    )
    discard = actions.add_parser(
        "discard",
        help="give a parked row up for good (it is never published); the rows behind it go on",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    discard.add_argument("--id", type=_positive_int, required=True, metavar="N")
    discard.add_argument("--reason", required=True, help="why, kept with the row")
    for sub in (parked, retry):
        _add_filters(sub, when="parked")
    _add_confirmation(retry, "un-park nothing: list the rows that would be sent again")
    for sub in (parked, retry, discard):
        _add_service_options(sub, database=True)


def _outbox(args: argparse.Namespace) -> int:
    from shared.messaging import outbox

    target = _target(args, database=True)
    if target is None:
        return EXIT_USAGE
    if args.action == "parked":
        if args.since is not None and args.until is not None and args.since >= args.until:
            print("outbox: --since must be before --until", file=sys.stderr)
            return EXIT_USAGE
    elif args.action == "retry" and not _check_selection(args, "--id"):
        return EXIT_USAGE
    filters = outbox.ParkedFilter(
        types=frozenset(getattr(args, "type", None) or ()),
        key=getattr(args, "key", None),
        since=getattr(args, "since", None),
        until=getattr(args, "until", None),
    )
    schema = target.schema

    async def run() -> int:
        conn = await target.connect()
        try:
            if args.action == "parked":
                listed = await outbox.list_parked(conn, None, filters)
                return _print_parked(listed, schema, args.json)
            if args.action == "retry":
                return await _outbox_retry(conn, args, filters, schema)
            if await outbox.discard_parked(conn, args.id, args.reason):
                print(f"outbox: row {args.id} discarded in {schema}; it will not be sent")
                return EXIT_OK
            print(f"outbox: row {args.id} is not parked", file=sys.stderr)
            return EXIT_FAILED
        finally:
            await conn.close()

    code = _run("outbox", run())
    return EXIT_FAILED if code is None else code


async def _outbox_retry(
    conn: asyncpg.Connection, args: argparse.Namespace, filters: ParkedFilter, schema: str
) -> int:
    from shared.messaging import outbox

    ids = None if args.all else sorted(set(args.id))
    found = await outbox.list_parked(conn, ids, filters)
    missing = sorted(set(ids or ()) - {row.id for row in found})
    for row_id in missing:
        print(f"outbox: row {row_id} is not parked", file=sys.stderr)
    failed = EXIT_FAILED if missing else EXIT_OK
    held = sum(row.held for row in found)
    summary = f"{len(found)} parked row(s) in {schema} ({held} row(s) waiting behind them)"
    if args.dry_run:
        _print_parked(found, schema, json_lines=False, quiet=True)
        print(f"outbox: would queue {summary} again; nothing changed (--dry-run)", file=sys.stderr)
        return failed
    if not found:
        print(f"outbox: 0 row(s) queued again in {schema}: -")
        return failed
    # The question waits for a person: nothing is held in the database meanwhile, and rows
    # retried or discarded by someone else are passed over when the answer comes.
    if args.all and not await asyncio.to_thread(
        _confirmed, "outbox", f"Queue {summary} again?", yes=args.yes
    ):
        return EXIT_NOT_CONFIRMED
    progress = _Progress("outbox")
    done = await outbox.retry_parked(
        conn,
        [row.id for row in found],
        progress=lambda done, total: progress("queued", done, total),
    )
    print(f"outbox: {len(done)} row(s) queued again in {schema}: {_ids(done)}")
    return failed


def _add_replay_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay",
        help="publish a service's past events again from its outbox, for a late consumer",
        description=(
            "Publish the published outbox rows of TOPIC again, in the order they first went"
            " out, each with its key, headers and ce_id (so inboxes skip what they handled)."
            " The outbox keeps published rows for KS_<SERVICE>_OUTBOX_RETENTION_DAYS (7 days"
            " by default); older events are only on the topic itself (docs/events.md)."
        ),
    )
    _add_service_options(replay, database=True)
    replay.add_argument(
        "--topic",
        required=True,
        help="the topic the events went to, e.g. kulturskole.registration.events",
    )
    replay.add_argument(
        "--since",
        type=_timestamp,
        metavar="ISO",
        help="only events written at or after this time, e.g. 2026-11-20T00:00:00+01:00",
    )
    replay.add_argument(
        "--types", nargs="+", metavar="TYPE", help="only these ce_types (default: every type)"
    )
    replay.add_argument("--to", metavar="TOPIC", help="publish here instead of to --topic")
    _add_kafka_options(replay)
    replay.add_argument("--dry-run", action="store_true", help="count the events, send nothing")


def _add_kafka_options(sub: argparse.ArgumentParser, *, admin: bool = False) -> None:
    """How to reach Kafka; defaults: a service's KS_<NAME>_KAFKA_* (with --service), or the
    administrator's KS_KAFKA_* (`admin`, for `kafka acls`)."""
    env = "KS_KAFKA_" if admin else "KS_<NAME>_KAFKA_"
    group = sub.add_argument_group(
        f"Kafka connection (defaults: {env}BOOTSTRAP, {env}SECURITY_PROTOCOL, …"
        + (")" if admin else " with --service)")
    )
    group.add_argument(
        "--bootstrap",
        help=f"bootstrap servers (default: ${env}BOOTSTRAP, else {DEFAULT_BOOTSTRAP})",
    )
    group.add_argument(
        "--security-protocol", choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
    )
    group.add_argument("--sasl-mechanism", choices=["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
    group.add_argument("--sasl-username")
    group.add_argument(
        "--sasl-password-file",
        type=Path,
        help=f"file holding the password (or set {env}SASL_PASSWORD; never on the command line)",
    )
    # Named, so that argparse does not take it for an abbreviation of --sasl-password-file.
    group.add_argument("--sasl-password", action=_Refused, nargs="?", help=argparse.SUPPRESS)
    group.add_argument("--ssl-ca-file", type=Path, help="CA of the brokers' certificates (PEM)")
    group.add_argument("--ssl-cert-file", type=Path, help="client certificate (mutual TLS)")
    group.add_argument("--ssl-key-file", type=Path, help="client key (mutual TLS)")


class _Refused(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, *_: Any, **__: Any) -> None:
        parser.error(
            "a password is never given on the command line (others can read it there): "
            "set KS_<NAME>_KAFKA_SASL_PASSWORD (KS_KAFKA_SASL_PASSWORD for kafka acls) or give "
            "--sasl-password-file"
        )


def _kafka(args: argparse.Namespace) -> KafkaConnection | None:
    """The connection the options and KS_KAFKA_* give; None (after saying why) if invalid."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsConfigDict

    from shared.messaging.kafka_client import KafkaClientSettings

    class CliKafkaSettings(KafkaClientSettings):
        model_config = SettingsConfigDict(env_prefix="KS_")

    given: dict[str, Any] = {
        f"kafka_{name}": getattr(args, name)
        for name in (
            "bootstrap",
            "security_protocol",
            "sasl_mechanism",
            "sasl_username",
            "sasl_password_file",
            "ssl_ca_file",
            "ssl_cert_file",
            "ssl_key_file",
        )
        if getattr(args, name, None) is not None
    }
    if "kafka_sasl_password_file" in given:
        given["kafka_sasl_password"] = None  # the file given here wins over the environment
    try:
        return CliKafkaSettings(**given).kafka
    except ValidationError as error:
        for problem in error.errors():
            reason = problem.get("ctx", {}).get("error", problem["msg"])
            print(f"{args.command}: Kafka settings: {reason}", file=sys.stderr)
        return None


def _add_kafka_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kafka = commands.add_parser("kafka", help="the cluster's side: each service's ACLs")
    actions = kafka.add_subparsers(dest="action", required=True, metavar="ACTION")
    acls = actions.add_parser(
        "acls",
        help="the ACLs each service's principal needs, from the service catalog; --apply creates them",
        description=(
            "Each service's principal may READ, WRITE and DESCRIBE the topics it owns, WRITE what"
            " it publishes to, READ the topics it follows and WRITE their .dlq topics, READ its"
            " consumer group (prefixed) and IDEMPOTENT_WRITE on the cluster. Printed one per"
            " line; with --apply they are created (as a principal with ALTER on the cluster)."
        ),
    )
    acls.add_argument(
        "--prefix",
        default=os.environ.get("KS_TOPIC_PREFIX", "kulturskole"),
        help="topic prefix (default: $KS_TOPIC_PREFIX, else %(default)s)",
    )
    acls.add_argument(
        "--principal",
        default="User:{service}",
        help="each service's principal; {service} is its name (default: %(default)s)",
    )
    acls.add_argument(
        "--service", action="append", metavar="NAME", help="only this service; repeatable"
    )
    acls.add_argument(
        "--catalog",
        default=DEFAULT_CATALOG,
        metavar="MODULE",
        help="module whose SERVICES lists the services (default: %(default)s)",
    )
    acls.add_argument("--apply", action="store_true", help="create them on the cluster")
    _add_kafka_options(acls, admin=True)


def _chosen_services(args: argparse.Namespace, command: str) -> list[Any] | None:
    """The catalog's services named by `--service` (all when none is named); None, said on
    stderr, when a name is not in the catalog."""
    from shared.runtime.catalog import find, load

    services = load(args.catalog)
    try:
        return [find(services, name) for name in args.service] if args.service else list(services)
    except LookupError as error:
        print(f"{command}: {error}", file=sys.stderr)
        return None


def _kafka_acls(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError

    from shared.runtime.kafka_access import AclError, catalog_acls, create_acls

    chosen = _chosen_services(args, "kafka")
    if chosen is None:
        return EXIT_USAGE
    if "{service}" not in args.principal and len(chosen) > 1:
        print(
            "kafka: --principal must contain {service} (one principal per service)", file=sys.stderr
        )
        return 2
    acls = catalog_acls(chosen, args.prefix, principal=args.principal)
    for acl in acls:
        print(acl)
    if not args.apply:
        return 0
    kafka = _kafka(args)
    if kafka is None:
        return 2
    try:
        asyncio.run(create_acls(kafka, acls))
    except (AclError, KafkaError, OSError, TimeoutError) as error:
        print(f"kafka: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"kafka: {len(acls)} ACLs in place on {kafka.bootstrap}", file=sys.stderr)
    return 0


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone (e.g. +01:00 or Z): {text!r}")
    return moment


def _replay(args: argparse.Namespace) -> int:
    from shared.messaging import replay

    target = _target(args, database=True)
    if target is None:
        return EXIT_USAGE
    destination = args.to or args.topic

    async def run() -> replay.Replayed:
        conn = await target.connect()
        try:
            if args.dry_run:
                return await replay.replay(
                    conn, None, topic=args.topic, since=args.since, types=args.types
                )
            return await replay.replay_to_kafka(
                conn,
                target.kafka,
                topic=args.topic,
                to=destination,
                since=args.since,
                types=args.types,
            )
        finally:
            await conn.close()

    done = _run("replay", run())
    if done is None:
        return EXIT_FAILED
    rows = f"outbox rows {done.first_id}..{done.last_id}" if done.count else "no outbox rows"
    verb = "would republish" if args.dry_run else "republished"
    print(f"replay: {verb} {done.count} event(s) from {target.schema} ({rows}) to {destination}")
    return EXIT_OK


def _add_migrations_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    migrations = commands.add_parser(
        "migrations", help="each service's schema migrations: applied, pending, changed"
    )
    actions = migrations.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser(
        "status",
        help="per service: each migration applied (when, sha256) or pending",
        description=(
            "Each service's migrations, as its database has them: `applied` (with when and"
            " the sha256 recorded), `pending` (this release has it, the database not yet: the"
            " next start applies it), `changed` (the file differs from what was applied: the"
            " service refuses to start), `unrecorded` (applied before checksums were kept: the"
            " next start records them) and `unknown` (applied by a newer release). Each"
            " service's database is read with its own KS_<NAME>_DATABASE_URL."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument(
        "--service",
        action="append",
        metavar="NAME",
        help="only this service; repeatable (default: every service in the catalog)",
    )
    status.add_argument(
        "--dsn", help="with one --service: this DSN instead of KS_<NAME>_DATABASE_URL"
    )
    status.add_argument("--json", action="store_true", help="one JSON object per migration")
    status.add_argument(
        "--catalog",
        default=DEFAULT_CATALOG,
        metavar="MODULE",
        help="module whose SERVICES lists the services (default: %(default)s)",
    )


def _migrations_status(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from shared.db.migrations import migration_states

    chosen = _chosen_services(args, "migrations")
    if chosen is None:
        return EXIT_USAGE
    if args.dsn and len(chosen) != 1:
        print("migrations: --dsn goes with exactly one --service", file=sys.stderr)
        return EXIT_USAGE
    code = EXIT_OK
    for declaration in chosen:
        name = declaration.name
        try:
            settings = _service_settings(declaration.env_prefix)()
        except ValidationError as error:
            print(f"migrations: {name}: {error}", file=sys.stderr)
            code = max(code, EXIT_USAGE)
            continue
        dsn = args.dsn or settings.database_url
        if not dsn:
            print(
                f"migrations: {name}: {declaration.env_prefix}DATABASE_URL is not set",
                file=sys.stderr,
            )
            code = max(code, EXIT_USAGE)
            continue
        schema = settings.db_schema or name
        # The spec names the service's migrations; it is built, not started (nothing connects).
        spec = declaration.spec(declaration.settings.model_construct(database_url=dsn))
        target = _Target(settings.kafka, dsn, schema)

        async def read(target: _Target = target, folder: Path = spec.migrations) -> list[Any]:
            conn = await target.connect()
            try:
                return await migration_states(conn, target.schema, folder)
            finally:
                await conn.close()

        states = _run("migrations", read())
        if states is None:
            code = max(code, EXIT_FAILED)
            continue
        counts = {kind: sum(1 for s in states if s.state == kind) for kind in _STATES}
        for state in states:
            if args.json:
                print(
                    json.dumps(
                        {
                            "service": name,
                            "schema": schema,
                            "version": state.version,
                            "state": state.state,
                            "applied_at": state.applied_at.isoformat()
                            if state.applied_at
                            else None,
                            "sha256": state.recorded,
                            "file_sha256": state.current,
                        }
                    )
                )
        if not args.json:
            summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
            print(f"{name} (schema {schema}): {summary or 'no migrations'}")
            for state in states:
                when = state.applied_at.isoformat(timespec="seconds") if state.applied_at else "-"
                recorded = (state.recorded or "-")[:12]
                line = f"  {state.state:<10} {state.version:<48} {when:<25} {recorded}"
                if state.state == "changed":
                    line += f" (file now {(state.current or '-')[:12]})"
                print(line)
        if counts["changed"]:
            changed = [str(s.path) for s in states if s.state == "changed"]
            print(
                f"migrations: {name}: changed after it was applied, the service will not"
                f" start: {', '.join(changed)}",
                file=sys.stderr,
            )
            code = max(code, EXIT_FAILED)
    return code


_STATES = ("applied", "pending", "changed", "unrecorded", "unknown")


def _print_parked(
    rows: list[ParkedRow], schema: str, json_lines: bool, *, quiet: bool = False
) -> int:
    for row in rows:
        if json_lines:
            print(json.dumps(row.to_json(), ensure_ascii=False))
            continue
        reason = " ".join(row.reason.split()) or "-"
        print(
            f"{row.id}  {row.topic}  {row.key or '-'}  {row.ce_type or '-'}  {row.size} bytes"
            f"  held {row.held}  parked {row.parked_at.isoformat(timespec='seconds')}  {reason}"
        )
    if not rows and not quiet:
        print(f"outbox: no parked rows in {schema}", file=sys.stderr)
    return EXIT_OK


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids)) or "-"


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
