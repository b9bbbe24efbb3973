"""`make demo` must keep working: run `tsync demo` (a Sandbox: both simulators and the engine) as a
subprocess against the test session's Kafka and PostgreSQL, and check each narrated step."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.core.settings import Settings

pytestmark = pytest.mark.integration


def test_demo_runs_a_live_two_way_sync_and_a_drifti_month(settings: Settings) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": settings.database_url,
        "TOPIC_PREFIX": f"{settings.topic_prefix}demo.",
        "TOPIC_PARTITIONS": "2",
    }
    tsync = Path(sys.executable).with_name("tsync")
    result = subprocess.run(
        [str(tsync), "demo"], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # (a) Svenn -> Tripletex, number kept as a string (S-P4, S-P6)
    assert "svenn: project prj_" in out and "display_id=2024.17" in out
    assert "number=2024.17 name='Bathroom, Storgata 4' startDate=2026-11-02" in out
    # (b) Tripletex -> Svenn
    assert "customer_number=10042 name='Nordmann Bygg AS'" in out
    # (c) S-P1: the error opens with its Norwegian and English text and the action, then resolves
    assert "error log: PROJECT_MISSING_START_DATE (S-P1) on svenn project prj_" in out
    assert "no: Prosjektet mangler startdato." in out
    assert "en: The project has no start date. Set a start date on the project in Svenn" in out
    assert "error log: PROJECT_MISSING_START_DATE resolved" in out
    assert "number=2024.18 startDate=2026-12-01" in out
    # (d) rename in Tripletex reaches Svenn, and the engine stops writing
    assert "svenn: project prj_" in out and "name='Bathroom and hallway, Storgata 4'" in out
    assert re.search(r"engine writes: (\d+) before, (\d+) after the rename; quiet", out), out
    before, after = map(int, re.findall(r"engine writes: (\d+) before, (\d+) after", out)[0])
    assert after == before + 1  # exactly the rename written to Svenn; the echo wrote nothing
    # (e) a malformed change is dead-lettered with its reason
    assert "[dlq.sync-decision.v1] dead letter: invalid ChangeEvent" in out
    # the tables at the end
    assert re.search(r"project +svenn prj_\w+ +<-> tripletex \d+ +linked", out), out
    assert re.search(r"customer +svenn cus_\w+ +<-> tripletex \d+ +linked", out), out
    assert re.search(r"PROJECT_MISSING_START_DATE +svenn project prj_\w+ +x1 +resolved", out), out
    # (f) a Drifti month: unmapped accounts wait in the error log, then everything transfers balanced
    # with its PDF (D-L1, D-I1, D-P1); hours go once (D-H1, D-E1), a second export writes nothing
    assert "error log: DRIFTI_ACCOUNT_UNMAPPED drifti invoice inv_" in out
    vouchers, balanced, pdfs = map(
        int, re.findall(r"(\d+) vouchers, (\d+) balanced, (\d+) with the invoice", out)[0]
    )
    invoices, payments = map(int, re.findall(r"(\d+) invoices \(1 credit note\), (\d+) payments", out)[0])
    assert vouchers == balanced == invoices + payments and pdfs == invoices, out
    assert "open errors for accounts: 0" in out
    assert re.search(r"tripletex: [1-9]\d* timesheet entries created", out), out
    assert "error log: Drifti user Ahmed Rahimi is not linked to a Tripletex employee" in out
    assert "export again: 0 writes" in out
    assert "Not shown here:" in out
