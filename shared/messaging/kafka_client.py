"""How to reach Kafka: the bootstrap servers and how to prove who we are.

One `KafkaConnection` carries everything a client needs (the protocol, SASL mechanism and
user, the password or a file holding it, the CA, a client certificate for mutual TLS) and
builds the keyword arguments of the aiokafka clients and the security object of FastStream's
`KafkaBroker`, so each client of the platform connects the same way. A plain string still
names a PLAINTEXT bootstrap wherever a connection is taken (`as_connection`).

The password is a `SecretStr`: it never shows in a repr, a log line or an error message,
and is read from its file only when a client is built (a rotated file is picked up at the
next start).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from aiokafka.conn import create_conn
from aiokafka.errors import AuthenticationFailedError, BrokerResponseError, KafkaConnectionError
from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BOOTSTRAP = "127.0.0.1:19092"

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]


class KafkaSettingsError(ValueError):
    """A combination of Kafka settings that cannot connect; the message names the settings."""


class KafkaConnection(BaseModel):
    """The bootstrap servers and the client's security settings (immutable)."""

    # hide_input_in_errors: a validation error would otherwise quote the password.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    bootstrap: str = DEFAULT_BOOTSTRAP
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str = ""
    sasl_password: SecretStr | None = None
    # A file holding the password (a mounted Secret), read when a client is built.
    sasl_password_file: Path | None = None
    # The CA that signed the brokers' certificates; none: the system's trust store.
    ssl_ca_file: Path | None = None
    # Mutual TLS: the client's certificate (PEM, with its chain) and private key.
    ssl_cert_file: Path | None = None
    ssl_key_file: Path | None = None
    ssl_key_password: SecretStr | None = None
    # Off only for a test broker whose certificate names no host we dial.
    ssl_check_hostname: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> KafkaConnection:
        problems = self.problems()
        if problems:
            raise KafkaSettingsError("; ".join(problems))
        return self

    def problems(self) -> list[str]:
        """What is wrong with this combination of settings, in words (empty: nothing)."""
        found: list[str] = []
        if not self.bootstrap.strip():
            found.append("kafka_bootstrap is empty")
        if self.uses_sasl:
            if self.sasl_mechanism is None:
                found.append(
                    f"kafka_security_protocol={self.security_protocol} needs "
                    "kafka_sasl_mechanism (SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN)"
                )
            if not self.sasl_username:
                found.append(
                    f"kafka_security_protocol={self.security_protocol} needs kafka_sasl_username"
                )
            if self.sasl_password is None and self.sasl_password_file is None:
                found.append(
                    f"kafka_security_protocol={self.security_protocol} needs "
                    "kafka_sasl_password or kafka_sasl_password_file"
                )
            if self.sasl_password is not None and self.sasl_password_file is not None:
                found.append("give kafka_sasl_password or kafka_sasl_password_file, not both")
        elif self.sasl_mechanism or self.sasl_username or self.sasl_password_file:
            found.append(
                f"SASL settings are given but kafka_security_protocol={self.security_protocol}"
                " does not authenticate with SASL (SASL_SSL or SASL_PLAINTEXT does)"
            )
        tls_files = [self.ssl_ca_file, self.ssl_cert_file, self.ssl_key_file]
        if not self.uses_tls and any(tls_files):
            found.append(
                f"TLS files are given but kafka_security_protocol={self.security_protocol}"
                " does not use TLS (SSL or SASL_SSL does)"
            )
        if self.ssl_key_password is not None and self.ssl_key_file is None:
            found.append("kafka_ssl_key_password is given without kafka_ssl_key_file")
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            found.append("kafka_ssl_cert_file and kafka_ssl_key_file go together (mutual TLS)")
        for name, path in [
            ("kafka_sasl_password_file", self.sasl_password_file),
            ("kafka_ssl_ca_file", self.ssl_ca_file),
            ("kafka_ssl_cert_file", self.ssl_cert_file),
            ("kafka_ssl_key_file", self.ssl_key_file),
        ]:
            if path is not None and not path.is_file():
                found.append(f"{name}: no readable file at {path}")
        return found

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def principal(self) -> str:
        """Who the broker sees, for messages: `User:<name>`, or the protocol's anonymous."""
        return f"User:{self.sasl_username}" if self.uses_sasl else "User:ANONYMOUS"

    def password(self) -> str:
        """The SASL password, from the setting or read from its file now."""
        if self.sasl_password is not None:
            return self.sasl_password.get_secret_value()
        if self.sasl_password_file is not None:
            # One trailing newline is how editors and `echo` end a file; it is no part of it.
            return self.sasl_password_file.read_text().removesuffix("\n").removesuffix("\r")
        return ""

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        key_password = self.ssl_key_password
        context: ssl.SSLContext = create_ssl_context(
            cafile=self.ssl_ca_file,
            certfile=self.ssl_cert_file,
            keyfile=self.ssl_key_file,
            password=key_password.get_secret_value() if key_password is not None else None,
        )
        context.check_hostname = self.ssl_check_hostname
        return context

    def security_kwargs(self) -> dict[str, Any]:
        """The security keyword arguments of an aiokafka client (producer, consumer, admin)."""
        kwargs: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.uses_tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            kwargs |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.password(),
            }
        return kwargs

    def client_kwargs(self) -> dict[str, Any]:
        """`bootstrap_servers` and the security keyword arguments of an aiokafka client."""
        return {"bootstrap_servers": self.bootstrap, **self.security_kwargs()}

    def faststream_security(self) -> BaseSecurity | None:
        """The security object of `faststream.kafka.KafkaBroker(security=...)`."""
        context = self.ssl_context()
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=context) if context is not None else None
        kinds: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        kind = kinds[self.sasl_mechanism or "PLAIN"]
        return kind(
            self.sasl_username,
            self.password(),
            ssl_context=context,
            use_ssl=self.uses_tls,
        )

    def as_env(self, prefix: str) -> dict[str, str]:
        """These settings as the `<prefix>KAFKA_*` environment variables a process reads.

        A password given as a value goes in `<prefix>KAFKA_SASL_PASSWORD` (the environment,
        never an argument list); a password file stays a file."""
        values: dict[str, object] = {
            "BOOTSTRAP": self.bootstrap,
            "SECURITY_PROTOCOL": self.security_protocol,
            "SASL_MECHANISM": self.sasl_mechanism,
            "SASL_USERNAME": self.sasl_username,
            "SASL_PASSWORD": self.sasl_password.get_secret_value() if self.sasl_password else None,
            "SASL_PASSWORD_FILE": self.sasl_password_file,
            "SSL_CA_FILE": self.ssl_ca_file,
            "SSL_CERT_FILE": self.ssl_cert_file,
            "SSL_KEY_FILE": self.ssl_key_file,
            "SSL_KEY_PASSWORD": (
                self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
            ),
            "SSL_CHECK_HOSTNAME": None if self.ssl_check_hostname else "false",
        }
        return {f"{prefix}KAFKA_{key}": str(value) for key, value in values.items() if value}

    def describe(self) -> str:
        """Where and as whom, for log lines and errors (never the password)."""
        if self.uses_sasl:
            return (
                f"{self.bootstrap} ({self.security_protocol}, {self.sasl_mechanism} "
                f"as {self.sasl_username})"
            )
        return f"{self.bootstrap} ({self.security_protocol})"

    def __str__(self) -> str:
        return self.describe()


# What the platform's Kafka functions take: a connection, or a bootstrap string (PLAINTEXT).
Kafka = str | KafkaConnection


def as_connection(kafka: Kafka) -> KafkaConnection:
    """A connection as given, or a bootstrap string taken as PLAINTEXT."""
    if isinstance(kafka, KafkaConnection):
        return kafka
    return KafkaConnection(bootstrap=kafka)


def client_kwargs(kafka: Kafka) -> dict[str, Any]:
    """The aiokafka keyword arguments for `kafka`, a connection or a PLAINTEXT bootstrap."""
    return as_connection(kafka).client_kwargs()


class KafkaClientSettings(BaseSettings):
    """The Kafka settings of a process, one environment variable each under its prefix:
    `<PREFIX>KAFKA_BOOTSTRAP`, `<PREFIX>KAFKA_SECURITY_PROTOCOL`, `<PREFIX>KAFKA_SASL_PASSWORD`,
    `<PREFIX>KAFKA_SASL_PASSWORD_FILE`, … (a service's prefix is `KS_<SERVICE>_`)."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    kafka_bootstrap: str = DEFAULT_BOOTSTRAP
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr | None = None
    kafka_sasl_password_file: Path | None = None
    kafka_ssl_ca_file: Path | None = None
    kafka_ssl_cert_file: Path | None = None
    kafka_ssl_key_file: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = True

    @field_validator(
        "kafka_sasl_mechanism",
        "kafka_sasl_password",
        "kafka_sasl_password_file",
        "kafka_ssl_ca_file",
        "kafka_ssl_cert_file",
        "kafka_ssl_key_file",
        "kafka_ssl_key_password",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # A deployment template sets every variable, empty where a setting does not apply.
        return None if value == "" else value

    @model_validator(mode="after")
    def _kafka_consistent(self) -> KafkaClientSettings:
        # At start, as a settings error naming the variables, not at the first connection.
        try:
            self.kafka  # noqa: B018
        except ValidationError as error:
            raise KafkaSettingsError(
                "; ".join(
                    str(e["ctx"]["error"]) if "ctx" in e else e["msg"] for e in error.errors()
                )
            ) from None
        return self

    @property
    def kafka(self) -> KafkaConnection:
        """The connection these settings describe."""
        return KafkaConnection(
            bootstrap=self.kafka_bootstrap,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password,
            sasl_password_file=self.kafka_sasl_password_file,
            ssl_ca_file=self.kafka_ssl_ca_file,
            ssl_cert_file=self.kafka_ssl_cert_file,
            ssl_key_file=self.kafka_ssl_key_file,
            ssl_key_password=self.kafka_ssl_key_password,
            ssl_check_hostname=self.kafka_ssl_check_hostname,
        )


class KafkaAccessError(RuntimeError):
    """The service cannot work with this broker as this user: no retry will change that."""


async def check_login(kafka: Kafka, *, timeout_ms: int = 10000) -> None:
    """Connect to a bootstrap server and log in: a refused password or certificate raises
    `KafkaAccessError` (the clients themselves only say they could not bootstrap). A broker
    that does not answer raises `KafkaConnectionError`, which a caller may retry."""
    connection = as_connection(kafka)
    last: Exception | None = None
    for address in connection.bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            conn = await create_conn(
                host, int(port), request_timeout_ms=timeout_ms, **connection.security_kwargs()
            )
        except (AuthenticationFailedError, BrokerResponseError) as error:
            # SaslAuthenticationFailed, UnsupportedSaslMechanism, IllegalSaslState, …
            raise KafkaAccessError(
                f"Kafka at {address} refused the login of {connection.principal} "
                f"({connection.security_protocol}, {connection.sasl_mechanism}): {error}"
            ) from None
        except ssl.SSLError as error:
            raise KafkaAccessError(
                f"TLS with Kafka at {address} failed ({connection.describe()}): {error}"
            ) from None
        except (KafkaConnectionError, OSError) as error:
            cause = error.__cause__ or error.__context__
            if isinstance(cause, ssl.SSLError):
                raise KafkaAccessError(
                    f"TLS with Kafka at {address} failed ({connection.describe()}): {cause}"
                ) from None
            last = error
            continue
        conn.close()
        return
    raise KafkaConnectionError(f"no Kafka bootstrap server answered: {last!r}")
