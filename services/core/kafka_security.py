"""Every Kafka client the engine makes is built here, with the deployment's security options.

The options come from one FastStream security object (``broker_security``): the broker gets it
as is, and the aiokafka producers, consumers and admin clients get the options FastStream
derives from it (``client_options``), so the broker and the clients cannot differ in how they
connect. ``KAFKA_SECURITY_PROTOCOL`` picks the protocol:

- ``PLAINTEXT`` (default): the local broker (``deploy/local/kafka.sh``), no TLS, no login;
- ``SSL``: TLS, the broker's certificate checked against ``KAFKA_SSL_CA_FILE`` (or the system's
  CAs) with the host name; with ``KAFKA_SSL_CERT_FILE``/``KAFKA_SSL_KEY_FILE`` also a client
  certificate (mTLS, the identity the broker's ACLs name);
- ``SASL_SSL``: the same TLS plus a SCRAM login (``KAFKA_SASL_USERNAME``/``_PASSWORD``);
- ``SASL_PLAINTEXT``: the SCRAM login without TLS (tests against a local SCRAM listener only).

``tests/unit/test_kafka_security.py`` fails when a Kafka client is constructed anywhere else.
A missing or contradictory option stops the process at start-up, naming the variable (never
printing the password).
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLScram256, SASLScram512

from services.core.settings import Settings


class KafkaSecurityError(ValueError):
    """The Kafka security settings are incomplete or contradict each other (names the variables)."""


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """TLS for the broker connection: certificate and host name checked; a client certificate for mTLS."""
    if bool(settings.kafka_ssl_cert_file) != bool(settings.kafka_ssl_key_file):
        raise KafkaSecurityError("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE must be set together (mTLS)")
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.kafka_ssl_ca_file)
        if settings.kafka_ssl_cert_file and settings.kafka_ssl_key_file:
            context.load_cert_chain(settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecurityError(
            f"cannot load KAFKA_SSL_CA_FILE/KAFKA_SSL_CERT_FILE/KAFKA_SSL_KEY_FILE: {exc}"
        ) from None
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def broker_security(settings: Settings) -> BaseSecurity | None:
    """The security object for FastStream's broker; None for plaintext."""
    protocol = settings.kafka_security_protocol
    uses_tls = protocol in ("SSL", "SASL_SSL")
    tls_files = settings.kafka_ssl_ca_file or settings.kafka_ssl_cert_file or settings.kafka_ssl_key_file
    if not uses_tls and tls_files:
        raise KafkaSecurityError(
            f"KAFKA_SSL_* files are set but KAFKA_SECURITY_PROTOCOL is {protocol}: set SSL or SASL_SSL"
        )
    has_login = settings.kafka_sasl_username or settings.kafka_sasl_password
    if protocol.startswith("SASL_"):
        if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
            raise KafkaSecurityError(
                f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        scram = SASLScram512 if settings.kafka_sasl_mechanism == "SCRAM-SHA-512" else SASLScram256
        return scram(
            settings.kafka_sasl_username,
            settings.kafka_sasl_password.get_secret_value(),
            ssl_context=ssl_context(settings) if uses_tls else None,
            use_ssl=uses_tls,
        )
    if has_login:
        raise KafkaSecurityError(
            f"KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD are set but KAFKA_SECURITY_PROTOCOL is {protocol}: "
            "set SASL_SSL"
        )
    if protocol == "SSL":
        return BaseSecurity(ssl_context=ssl_context(settings), use_ssl=True)
    return None


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options for an aiokafka client: the servers and exactly what the broker gets."""
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap_servers}
    security = broker_security(settings)
    if security is not None:
        options.update(parse_security(security))
    return options


def producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(**client_options(settings), **options)


def consumer(settings: Settings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, **client_options(settings), **options)


def admin(settings: Settings, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(settings), **options)


def broker(settings: Settings, **options: Any) -> KafkaBroker:
    servers = [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()]
    return KafkaBroker(servers, security=broker_security(settings), **options)
