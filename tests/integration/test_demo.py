"""`make demo` must keep working: run `tsync demo` against the test session's Kafka and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.core.settings import Settings

pytestmark = pytest.mark.integration


def test_demo_moves_changes_end_to_end(settings: Settings) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": settings.database_url,
        "TOPIC_PREFIX": f"{settings.topic_prefix}demo.",
        "TOPIC_PARTITIONS": "2",
    }
    tsync = Path(sys.executable).with_name("tsync")
    result = subprocess.run(
        [str(tsync), "demo"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "POST /v1/changes  svenn project sv-981 (created)" in out
    assert "-> 422 invalid change event" in out
    assert "[dlq.sync-decision.v1] dead letter: invalid ChangeEvent" in out
    assert "S-P1 reject PROJECT_MISSING_START_DATE" in out
    assert "project   sv-981  -> tripletex create  failed   rule=S-P4  TENANT_NOT_CONNECTED" in out
    assert "customer  31337   -> svenn     create  failed   rule=S-C1  TENANT_NOT_CONNECTED" in out
