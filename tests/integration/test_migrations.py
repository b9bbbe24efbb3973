"""The migration runner on real PostgreSQL: applies once, refuses an edited migration."""

from __future__ import annotations

import asyncpg
import pytest

from projections import migrate as migrations

pytestmark = pytest.mark.integration


async def test_migrations_apply_once_in_order(scratch_database: str) -> None:
    expected = [m.version for m in migrations.available()]
    assert expected == sorted(expected) and expected[0] == 1
    assert await migrations.migrate_url(scratch_database) == expected
    assert await migrations.migrate_url(scratch_database) == []
    connection = await asyncpg.connect(scratch_database)
    try:
        tables = {r["tablename"] for r in await connection.fetch("SELECT tablename FROM pg_tables")}
        assert {"schema_migration", "projection_position", "sync_outcome", "sync_status"} <= tables
    finally:
        await connection.close()


async def test_an_edited_migration_is_refused(scratch_database: str) -> None:
    await migrations.migrate_url(scratch_database)
    connection = await asyncpg.connect(scratch_database)
    try:
        await connection.execute("UPDATE schema_migration SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(RuntimeError, match="changed after it was applied"):
            await migrations.migrate(connection)
    finally:
        await connection.close()
