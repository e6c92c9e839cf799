"""The `kulturskole` command line: `kulturskole contracts generate|check [--root DIR]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "contracts":
        if args.action == "generate":
            return _generate(args.root, allow_breaking=args.allow_breaking)
        return _check(args.root)
    raise AssertionError(f"unhandled command: {args.command}")  # argparse requires one


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kulturskole", description=__doc__)
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
    return parser


def _generate(root: Path, *, allow_breaking: bool) -> int:
    from shared import contracts

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
    written = contracts.write(root)
    schemas = sum(1 for path in written if path.parent.name == contracts.JSONSCHEMA_DIR)
    print(
        f"contracts: wrote {schemas} schemas and {len(written) - schemas} AsyncAPI documents "
        f"under {root / contracts.CONTRACTS_DIR}"
    )
    return 0


def _check(root: Path) -> int:
    from shared import contracts

    problems = contracts.check(root)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"contracts: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(
        f"contracts: {len(contracts.json_schemas())} schemas, "
        f"{len(contracts.asyncapi_documents())} AsyncAPI documents, no breaking change"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
