"""Every kind of Kafka client the engine makes logs in with the security settings, on a real broker.

The local broker (deploy/local/kafka.sh) has a SASL_PLAINTEXT listener with SCRAM-SHA-512 and a
user ``tsync-test`` beside its PLAINTEXT one. Over it: topics are created (admin client), a role
starts (FastStream's consumers join their group), a raw producer publishes a malformed change,
the decision dead-letters it (FastStream's producer), the dead-letter reader (the replay/rebuild
reader) finds it and the lag is measured (admin and probe consumer). A wrong password is refused,
so the run above cannot have gone through without logging in.

Another Kafka (``KAFKA_BOOTSTRAP_SERVERS``) has no such listener unless ``KAFKA_SASL_BOOTSTRAP_SERVERS``
names one with that user; without it the tests are skipped, saying why.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from contracts.topics import DECISION_CONSUMER, TRIPLETEX_CHANGES
from services.core import kafka_security
from services.core.lag import measure_lag
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory
from services.core.topic_admin import ensure_topics
from services.replay.dead_letter_admin import read_dead_letters
from services.runtime import Role, Runtime
from tests.integration.waiting import until

pytestmark = pytest.mark.integration

# The local broker's SCRAM user (deploy/local/kafka.sh): a test login, not a secret.
USER, PASSWORD = "tsync-test", "tsync-test-secret"


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def sasl_settings(settings: Settings) -> Settings:
    address = os.environ.get("KAFKA_SASL_BOOTSTRAP_SERVERS")
    if address is None:
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("USE_TESTCONTAINERS") == "1":
            pytest.skip("no SASL listener: set KAFKA_SASL_BOOTSTRAP_SERVERS (SCRAM-SHA-512 user tsync-test)")
        address = f"127.0.0.1:{os.environ.get('KAFKA_SASL_PORT', '19094')}"
        if not _listening(address):
            pytest.skip(
                f"the local broker has no SASL listener on {address} (started before it had one): "
                "deploy/local/kafka.sh stop && make up"
            )
    return settings.model_copy(
        update={
            "kafka_bootstrap_servers": address,
            "kafka_security_protocol": "SASL_PLAINTEXT",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": USER,
            "kafka_sasl_password": SecretStr(PASSWORD),
            "topic_prefix": f"sasl-{uuid.uuid4().hex[:8]}.",
        }
    )


@pytest.fixture
async def decision(sasl_settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime(sasl_settings, [Role.DECISION], tenants=StaticTenantDirectory())
    await runtime.start()  # creates the topics through an admin client: over SASL too
    try:
        yield runtime
    finally:
        await runtime.stop()


async def test_the_engine_runs_over_a_scram_login(sasl_settings: Settings, decision: Runtime) -> None:
    producer = kafka_security.producer(sasl_settings)
    await producer.start()
    try:
        await producer.send_and_wait(sasl_settings.topic(TRIPLETEX_CHANGES), b"{not json", key=b"t|x|1")
    finally:
        await producer.stop()

    async def dead_lettered() -> bool:
        letters = await read_dead_letters(sasl_settings, [DECISION_CONSUMER])
        return any(letter.value == b"{not json" for letter in letters)

    await until(dead_lettered, within=30)
    lag = await measure_lag(sasl_settings, decision.consumer_topics())
    assert (DECISION_CONSUMER, sasl_settings.topic(TRIPLETEX_CHANGES)) in lag
    assert await decision.broker.ping(timeout=5)


async def test_a_wrong_password_is_refused(sasl_settings: Settings) -> None:
    wrong = sasl_settings.model_copy(update={"kafka_sasl_password": SecretStr("not-the-password")})
    with pytest.raises(KafkaError):
        await ensure_topics(wrong)
