"""``tsync drifti``: the D-L1 operator commands are registered and say what they need."""

from __future__ import annotations

from typer.testing import CliRunner

from services.cli import app


def test_D_L1_map_account_and_match_accounts_are_tsync_commands() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["drifti", "--help"])
    assert result.exit_code == 0, result.output
    assert "map-account" in result.output and "match-accounts" in result.output
    help_text = runner.invoke(app, ["drifti", "map-account", "--help"]).output
    assert "--drifti" in help_text and "--tripletex" in help_text and "--tenant" in help_text
