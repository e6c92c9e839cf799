"""Reads the registration events topic from the beginning and prints the admitted
municipalities per round and region, one JSON line each time the counts change.

    admissions-by-region --bootstrap 127.0.0.1:19092 --schemas ../../contracts/jsonschema
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from admissions_by_region import HANDLED, AdmissionsByRegion, InvalidEvent, Schemas

log = logging.getLogger("admissions-by-region")

# Where the contracts are in a checkout of the platform's repository, seen from here.
DEFAULT_SCHEMAS = Path(__file__).resolve().parents[3] / "contracts" / "jsonschema"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="admissions-by-region", description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka bootstrap servers")
    parser.add_argument(
        "--topic",
        default="kulturskole.registration.events",
        help="the registration events topic (default: %(default)s)",
    )
    parser.add_argument(
        "--schemas",
        type=Path,
        default=DEFAULT_SCHEMAS,
        help="directory of the published JSON Schemas, <ce_type>.json (default: %(default)s)",
    )
    return parser.parse_args(argv)


def handle(record: ConsumerRecord, schemas: Schemas, admissions: AdmissionsByRegion) -> bool:
    """One record: decoded as a CloudEvent in Kafka binary mode, checked, applied."""
    if record.value is None:
        return False  # a tombstone: nothing to count
    headers = {name: value for name, value in record.headers or ()}
    ce_type = headers.get("ce_type", b"").decode()
    if ce_type not in HANDLED:
        return False  # every other type, including ones newer than this code
    try:
        event = from_binary(
            KafkaMessage(headers=headers, key=record.key, value=record.value), JSONFormat()
        )
        data = schemas.check(ce_type, event.get_data())
    except (InvalidEvent, ValueError) as error:
        # A real consumer would park it (a dead-letter topic of its own); it must not stop.
        log.error("skipped %s@%s:%s: %s", record.topic, record.partition, record.offset, error)
        return False
    return admissions.apply(ce_type, data)


async def run(args: argparse.Namespace) -> None:
    schemas = Schemas(args.schemas)
    admissions = AdmissionsByRegion()
    # No consumer group: the counts live in memory, so each start rebuilds them from the
    # first offset (the events topic keeps its whole history). A consumer that keeps its
    # state in a database would use a group and store its offsets or ce_ids with the state.
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        print(json.dumps({"admitted": admissions.counts()}), flush=True)
        async for record in consumer:
            if handle(record, schemas, admissions):
                print(json.dumps({"admitted": admissions.counts()}), flush=True)
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    try:
        asyncio.run(run(parse_args(argv)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
