"""Reads the registration events topic from the beginning and prints the admitted
municipalities per round and region, one JSON line each time the counts change.

    admissions-by-region --bootstrap 127.0.0.1:19092 --schemas ../../contracts/jsonschema

Against a secured cluster, say how to log in (each flag also reads its environment variable):

    ADMISSIONS_KAFKA_SASL_PASSWORD_FILE=/run/secrets/kafka-password admissions-by-region \
        --bootstrap kafka-0.example:9093 --security-protocol SASL_SSL \
        --sasl-mechanism SCRAM-SHA-512 --sasl-username admissions --ssl-ca-file ca.pem

The password comes from ADMISSIONS_KAFKA_SASL_PASSWORD or a file
(--sasl-password-file, ADMISSIONS_KAFKA_SASL_PASSWORD_FILE), never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.helpers import create_ssl_context
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from admissions_by_region import HANDLED, AdmissionsByRegion, InvalidEvent, Schemas

log = logging.getLogger("admissions-by-region")

# Where the contracts are in a checkout of the platform's repository, seen from here.
DEFAULT_SCHEMAS = Path(__file__).resolve().parents[3] / "contracts" / "jsonschema"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="admissions-by-region", description=__doc__)
    env = os.environ.get
    parser.add_argument(
        "--bootstrap",
        default=env("ADMISSIONS_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
        help="Kafka bootstrap servers (default: $ADMISSIONS_KAFKA_BOOTSTRAP, else %(default)s)",
    )
    security = parser.add_argument_group("security (each defaults to ADMISSIONS_KAFKA_<NAME>)")
    security.add_argument(
        "--security-protocol",
        choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
        default=env("ADMISSIONS_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
    )
    security.add_argument(
        "--sasl-mechanism",
        choices=["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"],
        default=env("ADMISSIONS_KAFKA_SASL_MECHANISM"),
    )
    security.add_argument("--sasl-username", default=env("ADMISSIONS_KAFKA_SASL_USERNAME"))
    security.add_argument(
        "--sasl-password-file",
        type=Path,
        default=env("ADMISSIONS_KAFKA_SASL_PASSWORD_FILE"),
        help="file holding the password (or set ADMISSIONS_KAFKA_SASL_PASSWORD)",
    )
    security.add_argument("--ssl-ca-file", type=Path, default=env("ADMISSIONS_KAFKA_SSL_CA_FILE"))
    security.add_argument(
        "--ssl-cert-file", type=Path, default=env("ADMISSIONS_KAFKA_SSL_CERT_FILE")
    )
    security.add_argument("--ssl-key-file", type=Path, default=env("ADMISSIONS_KAFKA_SSL_KEY_FILE"))
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
    args = parser.parse_args(argv)
    if args.security_protocol.startswith("SASL_"):
        if not (args.sasl_mechanism and args.sasl_username):
            parser.error(f"{args.security_protocol} needs --sasl-mechanism and --sasl-username")
        if not (args.sasl_password_file or os.environ.get("ADMISSIONS_KAFKA_SASL_PASSWORD")):
            parser.error(
                f"{args.security_protocol} needs a password: --sasl-password-file or "
                "ADMISSIONS_KAFKA_SASL_PASSWORD (never on the command line)"
            )
    return args


def security(args: argparse.Namespace) -> dict[str, Any]:
    """The aiokafka keyword arguments of the security options (the password read now)."""
    kwargs: dict[str, Any] = {"security_protocol": args.security_protocol}
    if args.security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = create_ssl_context(
            cafile=args.ssl_ca_file, certfile=args.ssl_cert_file, keyfile=args.ssl_key_file
        )
    if args.security_protocol.startswith("SASL_"):
        password = os.environ.get("ADMISSIONS_KAFKA_SASL_PASSWORD")
        if args.sasl_password_file:
            password = args.sasl_password_file.read_text().removesuffix("\n")
        kwargs |= {
            "sasl_mechanism": args.sasl_mechanism,
            "sasl_plain_username": args.sasl_username,
            "sasl_plain_password": password,
        }
    return kwargs


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
        **security(args),
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
