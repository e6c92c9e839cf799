"""Kafka connection settings: what a deployment sets, what it is refused, what never shows."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from pydantic import ValidationError

from services.catalog import SERVICES
from services.registration.settings import RegistrationSettings
from shared.cli import main
from shared.devtools.kafka_broker import make_tls
from shared.messaging.kafka_client import KafkaConnection, as_connection, client_kwargs
from shared.messaging.outbox import kafka_producer
from shared.runtime.catalog import find
from shared.runtime.kafka_access import Acl, Operation, PatternType, ResourceType, service_acls
from shared.runtime.logs import json_formatter

pytestmark = pytest.mark.unit

PASSWORD = "correct-horse-battery-staple"
PREFIX = "KS_REGISTRATION_"


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tls(tmp_path_factory.mktemp("tls")).ca_file


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(f"{PREFIX}KAFKA_") or name.startswith("KS_KAFKA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv(f"{PREFIX}DATABASE_URL", "postgresql://registration@localhost/x")


def secured_env(monkeypatch: pytest.MonkeyPatch, ca_file: Path, **more: str) -> None:
    values = {
        "KAFKA_BOOTSTRAP": "kafka-0.example:9093,kafka-1.example:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "registration",
        "KAFKA_SASL_PASSWORD": PASSWORD,
        "KAFKA_SSL_CA_FILE": str(ca_file),
        **more,
    }
    for name, value in values.items():
        monkeypatch.setenv(f"{PREFIX}{name}", value)


def test_a_service_reads_its_secured_connection_from_its_own_variables(
    monkeypatch: pytest.MonkeyPatch, ca_file: Path
) -> None:
    secured_env(monkeypatch, ca_file)
    kafka = RegistrationSettings().kafka  # type: ignore[call-arg]
    kwargs = kafka.client_kwargs()
    assert kwargs["bootstrap_servers"] == "kafka-0.example:9093,kafka-1.example:9093"
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "registration"
    assert kwargs["sasl_plain_password"] == PASSWORD
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED
    assert context.cert_store_stats()["x509_ca"] == 1  # our CA, loaded


def test_faststream_gets_the_same_security(monkeypatch: pytest.MonkeyPatch, ca_file: Path) -> None:
    secured_env(monkeypatch, ca_file)
    kafka = RegistrationSettings().kafka  # type: ignore[call-arg]
    security = kafka.faststream_security()
    assert isinstance(security, SASLScram512)
    parsed = parse_security(security)
    assert parsed["security_protocol"] == "SASL_SSL"
    assert parsed["sasl_mechanism"] == "SCRAM-SHA-512"
    assert parsed["sasl_plain_username"] == "registration"
    assert parsed["sasl_plain_password"] == PASSWORD
    assert isinstance(parsed["ssl_context"], ssl.SSLContext)

    plain = KafkaConnection(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="u",
        sasl_password=PASSWORD,  # type: ignore[arg-type]
    ).faststream_security()
    assert isinstance(plain, SASLScram256)
    assert parse_security(plain)["security_protocol"] == "SASL_PLAINTEXT"
    tls_only = KafkaConnection(security_protocol="SSL", ssl_ca_file=ca_file).faststream_security()
    assert type(tls_only) is BaseSecurity
    assert parse_security(tls_only)["security_protocol"] == "SSL"
    assert KafkaConnection().faststream_security() is None


def test_the_password_can_come_from_a_file_read_when_a_client_is_built(
    monkeypatch: pytest.MonkeyPatch, ca_file: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "password"
    secret.write_text("first\n")
    secured_env(monkeypatch, ca_file, KAFKA_SASL_PASSWORD_FILE=str(secret))
    monkeypatch.delenv(f"{PREFIX}KAFKA_SASL_PASSWORD")
    kafka = RegistrationSettings().kafka  # type: ignore[call-arg]
    assert kafka.client_kwargs()["sasl_plain_password"] == "first"
    secret.write_text("rotated\n")
    assert kafka.client_kwargs()["sasl_plain_password"] == "rotated"


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs kafka_sasl_mechanism"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"},
            "needs kafka_sasl_username",
        ),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_MECHANISM": "PLAIN",
                "KAFKA_SASL_USERNAME": "registration",
            },
            "needs kafka_sasl_password or kafka_sasl_password_file",
        ),
        (
            {"KAFKA_SASL_USERNAME": "registration"},
            "SASL settings are given but kafka_security_protocol=PLAINTEXT",
        ),
        ({"KAFKA_SSL_CA_FILE": "/etc/hosts"}, "TLS files are given"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_FILE": "/no/such/ca.pem"},
            "kafka_ssl_ca_file: no readable file at /no/such/ca.pem",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": "/etc/hosts"},
            "kafka_ssl_cert_file and kafka_ssl_key_file go together",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSH"}, "SASL_SSL"),
        ({"KAFKA_SASL_MECHANISM": "GSSAPI"}, "SCRAM-SHA-512"),
    ],
)
def test_a_combination_that_cannot_connect_is_a_settings_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], complaint: str
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(f"{PREFIX}{name}", value)
    with pytest.raises(ValidationError) as raised:
        RegistrationSettings()  # type: ignore[call-arg]
    assert complaint in str(raised.value)


def test_password_and_password_file_together_are_refused(
    monkeypatch: pytest.MonkeyPatch, ca_file: Path
) -> None:
    secured_env(monkeypatch, ca_file, KAFKA_SASL_PASSWORD_FILE=str(ca_file))
    with pytest.raises(ValidationError, match="not both") as raised:
        RegistrationSettings()  # type: ignore[call-arg]
    assert PASSWORD not in str(raised.value)


def test_the_password_shows_nowhere(
    monkeypatch: pytest.MonkeyPatch, ca_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secured_env(monkeypatch, ca_file, KAFKA_SSL_KEY_PASSWORD="key-" + PASSWORD)
    # A key password without a key: refused, and the refusal quotes neither password.
    with pytest.raises(ValidationError) as raised:
        RegistrationSettings()  # type: ignore[call-arg]
    assert PASSWORD not in str(raised.value) and PASSWORD not in repr(raised.value)
    monkeypatch.delenv(f"{PREFIX}KAFKA_SSL_KEY_PASSWORD")
    settings = RegistrationSettings()  # type: ignore[call-arg]
    kafka = settings.kafka
    for text in (repr(settings), str(settings), repr(kafka), str(kafka), kafka.describe()):
        assert PASSWORD not in text
    assert "registration" in str(kafka) and "SASL_SSL" in str(kafka)
    assert PASSWORD not in repr(kafka.model_dump())
    logger = logging.getLogger("test.kafka")
    with caplog.at_level(logging.INFO, logger="test.kafka"):
        logger.info("connecting to %s", kafka, extra={"kafka": kafka, "settings": settings})
    line = json_formatter("registration").format(caplog.records[-1])
    assert "SASL_SSL" in line and PASSWORD not in line


def test_a_bootstrap_string_still_means_plaintext() -> None:
    assert client_kwargs("127.0.0.1:19092") == {
        "bootstrap_servers": "127.0.0.1:19092",
        "security_protocol": "PLAINTEXT",
    }
    connection = KafkaConnection(bootstrap="b:9092")
    assert as_connection(connection) is connection


async def test_event_producers_wait_for_every_in_sync_replica_and_are_idempotent(
    monkeypatch: pytest.MonkeyPatch, ca_file: Path
) -> None:
    secured_env(monkeypatch, ca_file)
    producer = kafka_producer(RegistrationSettings().kafka)  # type: ignore[call-arg]
    assert producer._txn_manager is not None  # idempotence on
    assert producer._sender._acks == -1  # acks=all
    assert producer.client._security_protocol == "SASL_SSL"
    assert producer.client._sasl_mechanism == "SCRAM-SHA-512"


def test_each_service_may_do_what_it_declares_and_no_more() -> None:
    registration = service_acls(find(SERVICES, "registration"), "kulturskole")
    notification = service_acls(find(SERVICES, "notification"), "kulturskole")

    def topic(who: str, name: str, operation: Operation) -> Acl:
        return Acl(f"User:{who}", ResourceType.TOPIC, name, operation)

    contacts = "kulturskole.registration.contacts"
    for operation in (Operation.READ, Operation.WRITE, Operation.DESCRIBE):
        assert topic("registration", contacts, operation) in registration
    assert topic("notification", contacts, Operation.READ) in notification
    assert topic("notification", contacts, Operation.WRITE) not in notification
    assert topic("notification", f"{contacts}.dlq", Operation.WRITE) in notification
    assert not any(acl.resource_name.startswith("kulturskole.scheduling") for acl in registration)
    group = Acl(
        "User:notification",
        ResourceType.GROUP,
        "kulturskole.notification",
        Operation.READ,
        PatternType.PREFIXED,
    )
    assert group in notification
    assert (
        Acl("User:notification", ResourceType.CLUSTER, "kafka-cluster", Operation.IDEMPOTENT_WRITE)
        in notification
    )


def test_the_acl_command_prints_them_and_takes_no_password_argument(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["kafka", "acls", "--service", "scheduling", "--prefix", "p"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "User:scheduling  ALLOW READ             TOPIC p.registration.events" in lines
    # Its consumer group, whatever follows the id: a new group version is covered too.
    group = find(SERVICES, "scheduling").settings.model_construct(topic_prefix="p").group_id
    assert f"User:scheduling  ALLOW READ             GROUP {group} (PREFIXED)" in lines
    with pytest.raises(SystemExit):
        main(["dlq", "list", "t", "--sasl-password", PASSWORD])
    assert "never given on the command line" in capsys.readouterr().err
