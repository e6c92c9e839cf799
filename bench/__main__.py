"""`python -m bench`: run the benchmark, print the summary, write the JSON."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

import uvloop

from bench.report import RESULTS, summary, write_json
from bench.run import Options, Scenario, run


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.replace(",", " ").split()]


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Commands through registration and notification to SMTP, beside the "
        "bare chain and a bare SMTP sender. See docs/performance.md.",
    )
    parser.add_argument(
        "--sizes",
        default=os.environ.get("BENCH_SIZES", "1000,10000"),
        help="burst sizes, e.g. 1000,10000,100000 (env BENCH_SIZES; empty: no burst)",
    )
    parser.add_argument(
        "--stages",
        default=os.environ.get("BENCH_STAGES", "10000"),
        help="bursts run one stage at a time, for each stage's capacity (env BENCH_STAGES; "
        "empty: none)",
    )
    parser.add_argument(
        "--replica-sizes",
        default=os.environ.get("BENCH_REPLICA_SIZES", "10000"),
        help="bursts run with --replicas processes of each service, beside the bursts of one "
        "(env BENCH_REPLICA_SIZES; empty: none)",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=int(os.environ.get("BENCH_REPLICAS", "2")),
        help="processes of each service in the --replica-sizes bursts (env BENCH_REPLICAS)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=float(os.environ.get("BENCH_RATE", "200")),
        help="open loop: commands per second offered (env BENCH_RATE; 0: no open loop)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=float(os.environ.get("BENCH_SECONDS", "30")),
        help="open loop: how long to offer (env BENCH_SECONDS)",
    )
    parser.add_argument(
        "--warm-up",
        type=float,
        default=float(os.environ.get("BENCH_WARM_UP", "3")),
        help="open loop: seconds of the same load offered before the measured part, not counted"
        " (env BENCH_WARM_UP; 0: none)",
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare chain and sender")
    parser.add_argument(
        "--event-loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the loop the benchmark's own clients and yardsticks run on; the services' is "
        "their KS_<SERVICE>_EVENT_LOOP (both uvloop by default, so the bare chain is measured "
        "on the loop the services run on)",
    )
    parser.add_argument(
        "--smtp-connections",
        type=int,
        default=None,
        help="bare sender's connections (default: as many as the notification service uses)",
    )
    parser.add_argument(
        "--ceiling-connections",
        type=int,
        default=10,
        help="also run the bare sender over this many connections, for the server's ceiling",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=900, help="seconds to wait for the last mail"
    )
    parser.add_argument(
        "--per-message-limit",
        type=int,
        default=int(os.environ.get("BENCH_PER_MESSAGE_LIMIT", "0")),
        help="run the per-message bare chain on at most this many messages (0: as many as "
        "the scenario; env BENCH_PER_MESSAGE_LIMIT)",
    )
    parser.add_argument(
        "--smtp",
        default=None,
        help="HOST:PORT of an SMTP server that runs already, instead of Postfix's smtp-sink",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep service logs, topics and database here"
    )
    args = parser.parse_args(argv)
    scenarios = [Scenario("burst", n) for n in _sizes(args.sizes)]
    if args.replicas > 1:
        scenarios += [
            Scenario("burst", n, replicas=args.replicas) for n in _sizes(args.replica_sizes)
        ]
    scenarios += [Scenario("stages", n) for n in _sizes(args.stages)]
    if args.rate > 0 and args.seconds > 0:
        scenarios.append(Scenario("open", round(args.rate * args.seconds), args.rate))
    options = Options(
        scenarios=scenarios,
        bare=not args.no_bare,
        smtp_connections=args.smtp_connections,
        ceiling_connections=args.ceiling_connections,
        drain_timeout_s=args.drain_timeout,
        keep_logs=args.keep,
        results=args.results,
        per_message_limit=args.per_message_limit,
        smtp=_host_port(args.smtp) if args.smtp else None,
        event_loop=args.event_loop,
        warm_up_s=args.warm_up,
    )
    return options


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    # A new topic's first produce meets a leader election now and then; aiokafka retries it.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    options = parse(sys.argv[1:] if argv is None else argv)
    report = (uvloop.run if options.event_loop == "uvloop" else asyncio.run)(run(options))
    path = write_json(report, options.results or RESULTS)
    print(summary(report))
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
