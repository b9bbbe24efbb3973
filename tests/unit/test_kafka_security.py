"""Every Kafka client the engine makes connects with the deployment's security settings.

Two halves: no Kafka client is constructed anywhere but ``services/core/kafka_security.py`` (read
from the source, so a new ``AIOKafkaProducer(...)`` elsewhere fails here), and what that module
builds (broker, producer, consumer, admin client, and the places that hold one) carries the
protocol, the SCRAM login and a TLS context that checks the broker's certificate and host name.
"""

from __future__ import annotations

import ast
import datetime
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from services.core import kafka_security
from services.core.kafka_access import offline_settings
from services.core.kafka_security import KafkaSecurityError
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory
from services.replay.topic_range import TopicRangeReader
from services.runtime import ALL_ROLES, Runtime

ROOT = Path(__file__).resolve().parents[2]
CONSTRUCTORS = {
    "AIOKafkaProducer",
    "AIOKafkaConsumer",
    "AIOKafkaAdminClient",
    "AIOKafkaClient",
    "KafkaBroker",
}
FACTORY = "services/core/kafka_security.py"
PASSWORD = "s3cret-scram-password"


def test_no_kafka_client_is_built_outside_the_factory() -> None:
    offenders = []
    for path in sorted(
        [*ROOT.glob("services/**/*.py"), *ROOT.glob("projections/**/*.py"), *ROOT.glob("bench/*.py")]
    ):
        module = str(path.relative_to(ROOT))
        if module == FACTORY:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = set(CONSTRUCTORS)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                aliases |= {a.asname for a in node.names if a.name in CONSTRUCTORS and a.asname}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = (
                    func.id
                    if isinstance(func, ast.Name)
                    else func.attr
                    if isinstance(func, ast.Attribute)
                    else ""
                )
                if name in aliases:
                    offenders.append(f"{module}:{node.lineno} {name}(...)")
    assert not offenders, f"build Kafka clients with services.core.kafka_security: {offenders}"


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate and its key (PEM), as a CA file and as a client certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tripletex-sync-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@pytest.fixture
def sasl_ssl(tmp_path: Path) -> Settings:
    ca, _ = _certificate(tmp_path)
    return offline_settings(
        kafka_bootstrap_servers="kafka-0.example:9093,kafka-1.example:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="tripletex-sync-decision",
        kafka_sasl_password=SecretStr(PASSWORD),
        kafka_ssl_ca_file=str(ca),
        tenants_file=None,
        catch_up=False,
    )


def _assert_secured(options: dict[str, Any]) -> None:
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "tripletex-sync-decision"
    assert options["sasl_plain_password"] == PASSWORD
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "tripletex-sync-test"),),)]


def _client_options(client: AIOKafkaClient) -> dict[str, Any]:
    return {
        "security_protocol": client._security_protocol,
        "sasl_mechanism": client._sasl_mechanism,
        "sasl_plain_username": client._sasl_plain_username,
        "sasl_plain_password": client._sasl_plain_password,
        "ssl_context": client._ssl_context,
    }


async def test_every_client_kind_gets_the_security_options(sasl_ssl: Settings) -> None:
    producer = kafka_security.producer(sasl_ssl, acks="all")
    consumer = kafka_security.consumer(sasl_ssl, "some.topic", group_id=None)
    admin = kafka_security.admin(sasl_ssl)
    for client in (producer.client, consumer._client, admin._client):
        _assert_secured(_client_options(client))
        assert sorted(h[:2] for h in client.hosts) == [("kafka-0.example", 9093), ("kafka-1.example", 9093)]
    broker = kafka_security.broker(sasl_ssl)
    _assert_secured(broker.config.broker_config.builder.keywords)


async def test_the_engine_and_the_replay_reader_connect_securely(sasl_ssl: Settings) -> None:
    """The places that hold a client (the roles' broker, the replay/rebuild/DLQ reader) use the factory."""
    runtime = Runtime(sasl_ssl, ALL_ROLES, tenants=StaticTenantDirectory())
    # the broker's consumers (every role's subscribers) and its producer (dead letters) are built from this
    _assert_secured(runtime.broker.config.broker_config.builder.keywords)
    reader = TopicRangeReader(sasl_ssl)
    _assert_secured(_client_options(reader._consumer._client))


async def test_mutual_tls(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    settings = offline_settings(
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=str(cert),
        kafka_ssl_cert_file=str(cert),
        kafka_ssl_key_file=str(key),
    )
    options = kafka_security.client_options(settings)
    assert options["security_protocol"] == "SSL"
    assert options["ssl_context"].check_hostname
    assert "sasl_plain_password" not in options
    broker = kafka_security.broker(settings)
    assert broker.config.broker_config.builder.keywords["security_protocol"] == "SSL"
    with pytest.raises(KafkaSecurityError, match="KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE"):
        kafka_security.client_options(settings.model_copy(update={"kafka_ssl_key_file": None}))


def test_plaintext_by_default() -> None:
    options = kafka_security.client_options(offline_settings(kafka_bootstrap_servers="127.0.0.1:19092"))
    assert options == {"bootstrap_servers": "127.0.0.1:19092"}


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
        ({"kafka_sasl_password": SecretStr(PASSWORD)}, "KAFKA_SECURITY_PROTOCOL is PLAINTEXT"),
        ({"kafka_ssl_ca_file": "/ca.pem"}, "KAFKA_SSL_\\* files are set but"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_ca_file": "/nonexistent/ca.pem"},
            "cannot load KAFKA_SSL_CA_FILE",
        ),
    ],
)
def test_incomplete_settings_stop_the_process_naming_the_variable(
    changes: dict[str, Any], message: str
) -> None:
    settings = offline_settings().model_copy(update=changes)
    with pytest.raises(KafkaSecurityError, match=message) as refused:
        Runtime(settings, ALL_ROLES, tenants=StaticTenantDirectory())
    assert PASSWORD not in str(refused.value)
