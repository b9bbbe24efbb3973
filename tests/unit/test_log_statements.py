"""Log statements: no personal data in what they log, and none that cannot be logged at all.

- ``safe_errors.describe`` keeps the type and where an error happened, never the values it quotes
  (pydantic, asyncpg, a side's API error), and keeps an outage's text.
- No ``extra`` key overwrites a ``LogRecord`` attribute: ``extra={"created": …}`` raises KeyError
  the moment its level is enabled (the Tripletex subscription check and the hours export did).
- No log call passes a record's content: an ``extra`` value or argument that reads a snapshot,
  payload, written content, a name, e-mail, phone or address field, or an exception's own text
  (``str(exc)``, ``repr(exc)``) outside ``safe_errors``.
"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import asyncpg
import pytest
from pydantic import BaseModel, Field, ValidationError

from services.core.safe_errors import describe
from services.tripletex.client.errors import TripletexValidationError

ROOT = Path(__file__).resolve().parents[2]
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}
_CONTENT = re.compile(
    r"\.(snapshot|payload|written|base|name|first_name|last_name|email|phone|address\w*|error_message|body)\b"
    r"|\b(str|repr)\(exc\)"
)
# Loggers of processes that are not the engine (simulators stand in for the other sides).
_NOT_ENGINE = ("/simulator/", "services/restsim/")
# Known, reviewed exceptions: (module, source of the value).
_ALLOWED = {
    # tenant registry problems: a tenant's configuration, no record content
    ("services/tenants/directory.py", "repr(exc)"),
    ("services/tenants/directory.py", "str(exc)"),
    # a side's outage: connection errors of its HTTP client
    ("services/tenants/outages.py", "str(exc)"),
    ("services/tenants/outages.py", "repr(exc)"),
    # database away, counted again on the next scrape
    ("projections/open_errors.py", "repr(exc)"),
    # names of topics and migrations
    ("services/core/topic_admin.py", "[t.name for t in wanted]"),
    ("projections/migrate.py", "migration.name"),
}


def _log_calls() -> list[tuple[str, int, ast.Call]]:
    found = []
    for path in sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("projections/**/*.py")]):
        module = str(path.relative_to(ROOT))
        if any(part in module for part in _NOT_ENGINE):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _LEVELS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("log", "logger", "_log")
            ):
                found.append((module, node.lineno, node))
    return found


def _extra(call: ast.Call) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == "extra"), None)


def test_the_scan_finds_the_log_calls() -> None:
    assert len(_log_calls()) > 60


def test_no_extra_key_overwrites_a_log_record_attribute() -> None:
    clashes = [
        f"{module}:{line}: {key.value!r}"
        for module, line, call in _log_calls()
        if isinstance(extra := _extra(call), ast.Dict)
        for key in extra.keys
        if isinstance(key, ast.Constant) and key.value in _RESERVED
    ]
    assert not clashes, clashes


def test_no_log_call_passes_record_content() -> None:
    leaks = []
    for module, line, call in _log_calls():
        extra = _extra(call)
        values = list(call.args[1:]) + (list(extra.values) if isinstance(extra, ast.Dict) else [])
        for value in values:
            text = ast.unparse(value)
            if _CONTENT.search(text) and (module, text) not in _ALLOWED and "safe_errors" not in text:
                leaks.append(f"{module}:{line}: {text}")
    assert not leaks, leaks


class _Person(BaseModel):
    name: str = Field(max_length=5)
    email: str = Field(pattern=r"^\S+@\S+$")


def test_a_validation_error_is_described_by_its_fields_not_their_values() -> None:
    with pytest.raises(ValidationError) as caught:
        _Person(name="Pii Personsen", email="ola nordmann.pii@example.no")
    text = describe(caught.value)
    assert "name" in text and "email" in text and "string_too_long" in text
    assert "Personsen" not in text and "ola" not in text


def test_database_and_api_errors_are_described_without_the_values_they_quote() -> None:
    client_side = asyncpg.exceptions._base.DataError("invalid input for query argument $1: 'Pii Personsen'")
    assert "Personsen" not in describe(client_side) and "DataError" in describe(client_side)
    unique = asyncpg.exceptions.UniqueViolationError(
        "Key (email)=(ola.nordmann.pii@example.no) already exists"
    )
    assert describe(unique) == "UniqueViolationError (sqlstate 23505)"
    api = TripletexValidationError(
        "Kari Piisdatter finnes allerede", validation_messages=[], status=422, code=18000
    )
    assert describe(api) == "TripletexValidationError (status=422, code=18000)"


def test_an_outage_keeps_its_text() -> None:
    text = describe(ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9092)"))
    assert "9092" in text and text.startswith("ConnectionRefusedError")
