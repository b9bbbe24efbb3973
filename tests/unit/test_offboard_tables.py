"""Offboarding erases every table that holds a tenant's rows: a migration adding one fails here.

Reads the migrations' SQL (no database): each ``CREATE TABLE`` with a ``tenant_id`` column, and
each ``ALTER TABLE … ADD COLUMN tenant_id``, must be in ``ERASED_TABLES`` or, for the erasure
record only, ``KEPT_TABLES``.
"""

from __future__ import annotations

import re
from pathlib import Path

from services.tenants.offboard import ERASED_TABLES, KEPT_TABLES

MIGRATIONS = Path(__file__).resolve().parents[2] / "projections" / "migrations"
_CREATE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)\s*\((.*?)\n\);", re.S | re.I)
_ADD = re.compile(r"ALTER TABLE (?:IF EXISTS )?(\w+)\s+ADD COLUMN (?:IF NOT EXISTS )?tenant_id\b", re.I)


def tables_with_tenant_id() -> set[str]:
    found: set[str] = set()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        sql = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
        for name, body in _CREATE.findall(sql):
            if re.search(r"^\s*tenant_id\s", body, re.M):
                found.add(name.lower())
        found |= {name.lower() for name in _ADD.findall(sql)}
    return found


def test_every_table_with_a_tenant_id_is_erased_or_deliberately_kept() -> None:
    tables = tables_with_tenant_id()
    assert {
        "tenant",
        "link",
        "panel_access",
        "parked_command",
        "catch_up_watermark",
    } <= tables  # the scan works
    uncovered = tables - set(ERASED_TABLES) - set(KEPT_TABLES)
    assert not uncovered, f"add {sorted(uncovered)} to ERASED_TABLES in services/tenants/offboard.py"


def test_no_table_is_listed_that_no_migration_creates() -> None:
    assert set(ERASED_TABLES) | set(KEPT_TABLES) == tables_with_tenant_id()


def test_only_the_erasure_record_is_kept() -> None:
    assert KEPT_TABLES == ("tenant_erasure",)
    assert not set(ERASED_TABLES) & set(KEPT_TABLES)
