"""The `kulturskole` command line.

kulturskole contracts generate|check [--root DIR] [--catalog MODULE]
kulturskole dlq list TOPIC [KAFKA OPTIONS] [--limit N] [--json]
kulturskole dlq redrive TOPIC (--all | --offset P:O ...) [KAFKA OPTIONS]
kulturskole outbox parked --schema S [--dsn DSN] [--json]
kulturskole outbox retry --schema S [--dsn DSN] (--all | --id N ...)
kulturskole outbox discard --schema S [--dsn DSN] --id N --reason TEXT
kulturskole replay --schema S [--dsn DSN] --topic T [--since ISO] [--types TYPE ...]
                   [--to TOPIC] [KAFKA OPTIONS] [--dry-run]
kulturskole kafka acls [--prefix P] [--principal 'User:{service}'] [--service NAME ...]
                       [--apply] [KAFKA OPTIONS]

KAFKA OPTIONS: --bootstrap, --security-protocol, --sasl-mechanism, --sasl-username,
--sasl-password-file, --ssl-ca-file, --ssl-cert-file, --ssl-key-file; each defaults to its
environment variable (KS_KAFKA_BOOTSTRAP, KS_KAFKA_SECURITY_PROTOCOL, …). A password is
taken only from KS_KAFKA_SASL_PASSWORD or a file, never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from shared.messaging.dead_letters import DeadLetter
    from shared.messaging.kafka_client import KafkaConnection
    from shared.messaging.outbox import ParkedRow

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
        if args.action == "list":
            kafka = _kafka(args)
            if kafka is None:
                return 2
            return _dlq_list(args.topic, kafka, limit=args.limit, as_json=args.json)
        kafka = _kafka(args)
        if kafka is None:
            return 2
        return _dlq_redrive(args.topic, kafka, offsets=args.offset, all_=args.all)
    if args.command == "outbox":
        return _outbox(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "kafka":
        return _kafka_acls(args)
    raise AssertionError(f"unhandled command: {args.command}")  # argparse requires one


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kulturskole",
        description=__doc__,
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
    _add_kafka_commands(commands)
    return parser


def _add_dlq_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = commands.add_parser(
        "dlq", help="dead letters: list what lies on a <topic>.dlq, re-drive it to <topic>"
    )
    actions = dlq.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="one line per dead letter: where, from where, ce_type, reason"
    )
    redrive = actions.add_parser(
        "redrive",
        help="publish dead letters to their original topic again (dlq_* headers removed)",
    )
    for sub in (listing, redrive):
        sub.add_argument(
            "topic",
            metavar="TOPIC",
            help="the topic or its DLQ, e.g. kulturskole.registration.commands[.dlq]",
        )
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
    chosen.add_argument("--all", action="store_true", help="every letter on the DLQ now")
    chosen.add_argument(
        "--offset",
        type=_place,
        action="append",
        metavar="P:O",
        help="the letter at DLQ partition P, offset O (as `dlq list` shows); repeatable",
    )


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


def _dlq_list(topic: str, bootstrap: KafkaConnection, *, limit: int, as_json: bool) -> int:
    from shared.messaging.dead_letters import as_dlq_topic, list_dead_letters

    dlq = as_dlq_topic(topic)

    async def run() -> list[DeadLetter]:
        # One more than shown, to tell whether there are more.
        return await list_dead_letters(bootstrap, dlq, limit=limit + 1)

    found = _run_dlq(run())
    if found is None:
        return 1
    for letter in found[:limit]:
        if as_json:
            print(json.dumps(letter.to_json(), ensure_ascii=False))
            continue
        origin = f"{letter.original_topic}@{_or_dash(letter.original_partition)}"
        origin += f":{_or_dash(letter.original_offset)}"
        reason = " ".join(letter.reason.split()) or "-"  # one line per letter
        print(f"{letter.partition}/{letter.offset}  {origin}  {letter.ce_type or '-'}  {reason}")
    if len(found) > limit:
        print(f"dlq: showing the first {limit} letters on {dlq}; use --limit", file=sys.stderr)
    elif not found:
        print(f"dlq: no dead letters on {dlq}", file=sys.stderr)
    return 0


def _dlq_redrive(
    topic: str, bootstrap: KafkaConnection, *, offsets: list[tuple[int, int]] | None, all_: bool
) -> int:
    from shared.messaging.dead_letters import as_dlq_topic, redrive

    dlq = as_dlq_topic(topic)
    count = _run_dlq(redrive(bootstrap, dlq, offsets=set(offsets) if offsets else None, all_=all_))
    if count is None:
        return 1
    print(f"dlq: re-drove {count} dead letter(s) from {dlq}")
    return 0


T = TypeVar("T")


def _run_dlq(work: Coroutine[Any, Any, T]) -> T | None:
    """Run `work`; an operator's mistake or an unreachable broker is a message, not a trace."""
    from aiokafka.errors import KafkaError

    from shared.messaging.dead_letters import DeadLetterError

    try:
        return asyncio.run(work)
    except (DeadLetterError, KafkaError, OSError, TimeoutError) as error:
        print(f"dlq: {error}", file=sys.stderr)
        return None


def _add_outbox_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outbox = commands.add_parser(
        "outbox", help="parked outbox rows: list them, send them again, or give one up"
    )
    actions = outbox.add_subparsers(dest="action", required=True, metavar="ACTION")
    parked = actions.add_parser(
        "parked", help="one line per parked row: id, topic, key, type, size, rows held, reason"
    )
    parked.add_argument("--json", action="store_true", help="one JSON object per line")
    retry = actions.add_parser(
        "retry", help="un-park rows; the relay sends them (and the rows behind them) in order"
    )
    chosen = retry.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--all", action="store_true", help="every parked row")
    chosen.add_argument(
        "--id", type=_positive_int, action="append", metavar="N", help="row N; repeatable"
    )
    discard = actions.add_parser(
        "discard",
        help="give a parked row up for good (it is never published); the rows behind it go on",
    )
    discard.add_argument("--id", type=_positive_int, required=True, metavar="N")
    discard.add_argument("--reason", required=True, help="why, kept with the row")
    for sub in (parked, retry, discard):
        sub.add_argument("--schema", required=True, help="the service's schema, e.g. registration")
        sub.add_argument(
            "--dsn",
            default=os.environ.get("KS_DATABASE_URL"),
            help="PostgreSQL DSN of a role with rights on the schema (default: $KS_DATABASE_URL)",
        )


def _outbox(args: argparse.Namespace) -> int:
    import asyncpg

    from shared.db.pool import connect
    from shared.messaging import outbox

    if not args.dsn:
        print("outbox: give --dsn (or set KS_DATABASE_URL)", file=sys.stderr)
        return 2

    async def run() -> int:
        conn = await connect(args.dsn, args.schema, name="kulturskole-cli")
        try:
            if args.action == "parked":
                return _print_parked(await outbox.list_parked(conn), args.schema, args.json)
            if args.action == "retry":
                ids = None if args.all else sorted(set(args.id))
                done = await outbox.retry_parked(conn, ids)
                missing = sorted(set(ids or ()) - set(done))
                for row_id in missing:
                    print(f"outbox: row {row_id} is not parked", file=sys.stderr)
                print(f"outbox: {len(done)} row(s) queued again in {args.schema}: {_ids(done)}")
                return 1 if missing else 0
            if await outbox.discard_parked(conn, args.id, args.reason):
                print(f"outbox: row {args.id} discarded in {args.schema}; it will not be sent")
                return 0
            print(f"outbox: row {args.id} is not parked", file=sys.stderr)
            return 1
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as error:
        # An unreachable database or a wrong schema is a message, not a trace.
        print(f"outbox: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


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
    replay.add_argument("--schema", required=True, help="the service's schema, e.g. registration")
    replay.add_argument(
        "--dsn",
        default=os.environ.get("KS_DATABASE_URL"),
        help="PostgreSQL DSN of a role with rights on the schema (default: $KS_DATABASE_URL)",
    )
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


def _add_kafka_options(sub: argparse.ArgumentParser) -> None:
    """How to reach Kafka; each option defaults to its KS_KAFKA_* environment variable."""
    group = sub.add_argument_group(
        "Kafka connection (defaults: KS_KAFKA_BOOTSTRAP, KS_KAFKA_SECURITY_PROTOCOL, …)"
    )
    group.add_argument(
        "--bootstrap",
        help=f"bootstrap servers (default: $KS_KAFKA_BOOTSTRAP, else {DEFAULT_BOOTSTRAP})",
    )
    group.add_argument(
        "--security-protocol", choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
    )
    group.add_argument("--sasl-mechanism", choices=["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
    group.add_argument("--sasl-username")
    group.add_argument(
        "--sasl-password-file",
        type=Path,
        help="file holding the password (or set KS_KAFKA_SASL_PASSWORD; never on the command line)",
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
            "set KS_KAFKA_SASL_PASSWORD or give --sasl-password-file"
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
    _add_kafka_options(acls)


def _kafka_acls(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError

    from shared.runtime.catalog import find, load
    from shared.runtime.kafka_access import AclError, catalog_acls, create_acls

    services = load(args.catalog)
    try:
        chosen = [find(services, name) for name in args.service] if args.service else services
    except LookupError as error:
        print(f"kafka: {error}", file=sys.stderr)
        return 2
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
    import asyncpg
    from aiokafka.errors import KafkaError

    from shared.db.pool import connect
    from shared.messaging import replay

    if not args.dsn:
        print("replay: give --dsn (or set KS_DATABASE_URL)", file=sys.stderr)
        return 2
    kafka = _kafka(args)
    if kafka is None:
        return 2
    target = args.to or args.topic

    async def run() -> replay.Replayed:
        conn = await connect(args.dsn, args.schema, name="kulturskole-cli")
        try:
            if args.dry_run:
                return await replay.replay(
                    conn, None, topic=args.topic, since=args.since, types=args.types
                )
            return await replay.replay_to_kafka(
                conn,
                kafka,
                topic=args.topic,
                to=target,
                since=args.since,
                types=args.types,
            )
        finally:
            await conn.close()

    try:
        done = asyncio.run(run())
    except (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        KafkaError,
        OSError,
        TimeoutError,
    ) as error:
        print(f"replay: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    rows = f"outbox rows {done.first_id}..{done.last_id}" if done.count else "no outbox rows"
    verb = "would republish" if args.dry_run else "republished"
    print(f"replay: {verb} {done.count} event(s) from {args.schema} ({rows}) to {target}")
    return 0


def _print_parked(rows: list[ParkedRow], schema: str, as_json: bool) -> int:
    for row in rows:
        if as_json:
            print(json.dumps(row.to_json(), ensure_ascii=False))
            continue
        reason = " ".join(row.reason.split()) or "-"
        print(
            f"{row.id}  {row.topic}  {row.key or '-'}  {row.ce_type or '-'}  {row.size} bytes"
            f"  held {row.held}  parked {row.parked_at.isoformat(timespec='seconds')}  {reason}"
        )
    if not rows:
        print(f"outbox: no parked rows in {schema}", file=sys.stderr)
    return 0


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids)) or "-"


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
