"""Real infrastructure for the integration tests, one of each per test session.

Kafka and PostgreSQL come from, in order of preference:
1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` when set (existing services);
2. testcontainers, when ``USE_TESTCONTAINERS=1`` and a Docker engine exists;
3. the project's own ``deploy/local`` scripts (real Kafka from Maven jars, Debian's PostgreSQL).
Tests isolate themselves with a per-session topic prefix and per-test tenant ids, never fakes.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

# One tracer provider for the whole run (OpenTelemetry allows setting it once).
SPANS = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(SPANS))
trace.set_tracer_provider(_provider)


# Fuzz tests (tests/integration/test_fuzz_*.py): derandomized in CI, so a run repeats the last one;
# FUZZ_EXAMPLES=<n> runs each with n random examples instead (README: Security).
hypothesis_settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
hypothesis_settings.register_profile(
    "long",
    deadline=None,
    database=None,  # a failure prints its reproduction blob (@reproduce_failure) instead
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
hypothesis_settings.load_profile("long" if os.environ.get("FUZZ_EXAMPLES") else "ci")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many cases each fuzz target tried (only when fuzz tests ran)."""
    from tests.fuzz_strategies import CASES, FATES

    if CASES:
        terminalreporter.section("fuzz cases tried")
        for target, count in sorted(CASES.items()):
            fates = ", ".join(f"{fate} {n}" for (t, fate), n in sorted(FATES.items()) if t == target)
            terminalreporter.write_line(f"{target}: {count}" + (f" ({fates})" if fates else ""))
        terminalreporter.write_line(f"total: {sum(CASES.values())}")


def _use_testcontainers() -> bool:
    return os.environ.get("USE_TESTCONTAINERS") == "1"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    elif _use_testcontainers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
    else:
        subprocess.run([str(ROOT / "deploy/local/kafka.sh"), "start"], check=True)
        yield f"127.0.0.1:{os.environ.get('KAFKA_PORT', '19092')}"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
    elif _use_testcontainers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
    else:
        subprocess.run([str(ROOT / "deploy/local/postgres.sh"), "start"], check=True)
        yield f"postgresql://postgres@127.0.0.1:{os.environ.get('PG_PORT', '55432')}/tripletex_sync"


@pytest.fixture(scope="session")
def jaeger() -> tuple[str, str]:
    """(OTLP/HTTP endpoint, query API URL) of Jaeger v2 from deploy/local/jaeger.sh (built on first use)."""
    subprocess.run([str(ROOT / "deploy/local/jaeger.sh"), "start"], check=True)
    return (
        f"http://127.0.0.1:{os.environ.get('JAEGER_OTLP_PORT', '14318')}",
        f"http://127.0.0.1:{os.environ.get('JAEGER_QUERY_PORT', '16687')}",
    )


@pytest.fixture(scope="session")
def settings(kafka_bootstrap: str, database_url: str) -> Settings:
    return Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        topic_prefix=f"test-{uuid.uuid4().hex[:8]}.",
        topic_partitions=3,
        batch_timeout_ms=50,
        log_format="text",
    )


@pytest.fixture
def tenant_id() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return SPANS
