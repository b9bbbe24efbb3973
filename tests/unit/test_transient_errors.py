"""Outage or the message's fault: only an outage may hold a batch (security #10 item 2, faults #16)."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError, RequestTimedOutError
from pydantic import TypeAdapter, ValidationError

from services.core.errors import TransientError, is_transient


def _validation_error() -> ValidationError:
    try:
        TypeAdapter(int).validate_python("x")
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "exc",
    [
        TransientError("Tripletex is unavailable"),
        KafkaConnectionError("broker away"),
        RequestTimedOutError(),
        TimeoutError(),
        ConnectionRefusedError(),
        OSError("network unreachable"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        asyncpg.InterfaceError("pool is closing"),
    ],
    ids=type,
)
def test_an_outage_holds_the_batch(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.DataError("invalid input"),
        asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape sequence"),
        asyncpg.exceptions.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00'),
        asyncpg.exceptions.NumericValueOutOfRangeError("value out of range for type bigint"),
        asyncpg.exceptions.ProgramLimitExceededError("index row size exceeds btree maximum"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        # asyncpg's own refusal, before anything is sent: not a PostgresError at all.
        asyncpg.exceptions._base.DataError("invalid input for query argument $5: 99999999999999999999"),
        asyncpg.InterfaceError("invalid input for query argument $1: 'surrogates not allowed'"),
        MessageSizeTooLargeError(),
        _validation_error(),
        ValueError("a bug"),
        KeyError("a bug"),
    ],
    ids=type,
)
def test_anything_else_is_the_messages_fault(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_a_schema_behind_the_code_holds_the_batch_instead_of_dead_lettering_everything() -> None:
    for exc in (
        asyncpg.exceptions.UndefinedTableError('relation "link" does not exist'),
        asyncpg.exceptions.UndefinedColumnError('column "synced_version" does not exist'),
        asyncpg.exceptions.InsufficientPrivilegeError("permission denied for table link"),
    ):
        assert is_transient(exc), exc
