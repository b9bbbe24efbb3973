"""A command-line tool given a missing or malformed ``TENANTS_FILE`` says so in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app


@pytest.mark.parametrize("content", [None, "{not json", '[{"tenant_id": "t1", "svenn": 3}]'])
def test_an_unreadable_tenants_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None
) -> None:
    path = tmp_path / "tenants.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("TENANTS_FILE", str(path))
    result = CliRunner().invoke(app, ["readiness", "--tenant", "t1"], env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    assert f"cannot read TENANTS_FILE={path}" in result.output
    assert "Traceback" not in result.output
