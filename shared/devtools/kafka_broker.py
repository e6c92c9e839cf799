"""The configuration of a single-node KRaft broker, plain or secured, for local runs and tests.

The local stack (deploy/local/stack.py) and the tests' private brokers
(shared/testing/kafka_broker.py) run the same Apache Kafka jars with the same properties from
here. A secured broker takes clients only on SASL_SSL with SCRAM-SHA-512, authorizes every
request with Kafka's StandardAuthorizer (no ACL, no access), and proves itself with a
certificate for 127.0.0.1 and localhost from a CA made here; the controller listener stays
PLAINTEXT on loopback. SCRAM credentials are written into the storage when it is formatted,
from an argument file, so no password shows on a command line.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ADMIN = "admin"
SCRAM_MECHANISM = "SCRAM-SHA-512"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


@dataclass(frozen=True)
class Tls:
    """A CA and the broker's key store signed by it."""

    ca_file: Path  # PEM: what clients trust
    keystore_file: Path  # PKCS#12: the broker's key and certificate
    keystore_password_file: Path

    @property
    def keystore_password(self) -> str:
        return self.keystore_password_file.read_text().strip()


@dataclass(frozen=True)
class Secured:
    """What a secured broker needs beyond a plain one: TLS material and SCRAM users."""

    tls: Tls
    # User name -> password file (0600); `ADMIN` is the super user the broker itself uses.
    users: Mapping[str, Path]

    def password(self, user: str) -> str:
        return self.users[user].read_text().strip()


def _private(path: Path, text: str | bytes) -> None:
    """Write a file only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(text.encode() if isinstance(text, str) else text)


def make_tls(folder: Path, *, hosts: Sequence[str] = ("127.0.0.1", "localhost")) -> Tls:
    """A CA and a broker certificate for `hosts`, in `folder`; kept when already there."""
    tls = Tls(folder / "ca.pem", folder / "broker.p12", folder / "broker.p12.password")
    if tls.ca_file.exists() and tls.keystore_file.exists() and tls.keystore_password_file.exists():
        return tls
    # Imported here: only a secured broker needs it (a dev dependency).
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kulturskole local Kafka CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    password = secrets.token_urlsafe(24)
    _private(tls.keystore_password_file, password + "\n")
    _private(
        tls.keystore_file,
        pkcs12.serialize_key_and_certificates(
            b"broker", key, cert, [ca], serialization.BestAvailableEncryption(password.encode())
        ),
    )
    tls.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return tls


def make_users(folder: Path, users: Sequence[str]) -> dict[str, Path]:
    """A random password file per user (and `ADMIN`) in `folder`; existing ones are kept."""
    folder.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    for user in dict.fromkeys([ADMIN, *users]):
        path = folder / f"{user}.password"
        if not path.exists():
            _private(path, secrets.token_urlsafe(24) + "\n")
        found[user] = path
    return found


def properties(
    *,
    port: int,
    controller_port: int,
    data: Path,
    offsets_partitions: int = 3,
    secured: Secured | None = None,
    extra: Sequence[str] = (),
) -> str:
    """server.properties of a single KRaft broker+controller on 127.0.0.1."""
    client = "SECURE" if secured else "PLAINTEXT"
    lines = [
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}",
        f"listeners={client}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners={client}://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        f"inter.broker.listener.name={client}",
        f"listener.security.protocol.map=CONTROLLER:PLAINTEXT,{client}:"
        + ("SASL_SSL" if secured else "PLAINTEXT"),
        f"log.dirs={data}",
        "num.partitions=3",
        "offsets.topic.replication.factor=1",
        f"offsets.topic.num.partitions={offsets_partitions}",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        # Topics are created on purpose, each with the retention its kind needs
        # (`ensure_topics`); a typo in a topic name must fail, not make a new one.
        "auto.create.topics.enable=false",
        *extra,
    ]
    if secured:
        tls = secured.tls
        lines += [
            f"sasl.enabled.mechanisms={SCRAM_MECHANISM}",
            f"sasl.mechanism.inter.broker.protocol={SCRAM_MECHANISM}",
            # The broker talks to itself as the super user.
            f"listener.name.secure.{SCRAM_MECHANISM.lower()}.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{secured.password(ADMIN)}";',
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={tls.keystore_file}",
            f"ssl.keystore.password={tls.keystore_password}",
            f"ssl.key.password={tls.keystore_password}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={tls.ca_file}",
            f"authorizer.class.name={AUTHORIZER}",
            "allow.everyone.if.no.acl.found=false",
            # ANONYMOUS can only come in on the PLAINTEXT controller listener on loopback: it
            # is the broker registering with its own controller.
            f"super.users=User:{ADMIN};User:ANONYMOUS",
        ]
    return "\n".join([*lines, ""])


def format_argfile(
    path: Path, *, cluster_id: str, properties_file: Path, secured: Secured | None
) -> Path:
    """A java launcher argument file (`java -cp … @file`) that formats the storage and adds
    the SCRAM users; the passwords stay in this 0600 file, off the command line."""
    args = [
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "-t",
        cluster_id,
        "-c",
        str(properties_file),
    ]
    for user in secured.users if secured else {}:
        args += [
            "--add-scram",
            f"{SCRAM_MECHANISM}=[name={user},password={secured.password(user)}]",  # type: ignore[union-attr]
        ]
    _private(path, "\n".join(f'"{arg}"' for arg in args) + "\n")
    return path
