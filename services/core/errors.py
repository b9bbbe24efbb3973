"""The one distinction consumers need: retry the batch, or dead-letter the message.

Only an outage holds a batch: Kafka, PostgreSQL or a side's API away. Everything else a
message causes (a database error about its data, a bug) is that message's fault and goes to
the consumer's dead-letter topic, so one message can never stop a partition.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordTooLargeError


class TransientError(Exception):
    """The message is fine but something it needs is not (a broker, a database, an API that is down).

    A consumer that sees this does not dead-letter: it leaves the batch uncommitted and retries it.
    Any other exception while handling a message sends that message to the dead-letter topic.
    """


# The database is away (down, restarting, failing over, out of connections or disk) or not yet
# migrated, not the data wrong: retry, never dead-letter. Any other database error (``DataError`` and its
# kin, server-side or asyncpg's own client-side checks) is about a message.
DATABASE_AWAY: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # refused, reset, lost mid-query
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, query cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full, out of memory
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization failure: a retry succeeds
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a standby during a fail-over
    # The schema or grants are not what this version expects (a deploy ahead of its migration, a
    # revoked grant): no message is at fault, and dead-lettering every one would bury them all.
    asyncpg.exceptions.UndefinedTableError,
    asyncpg.exceptions.UndefinedColumnError,
    asyncpg.exceptions.UndefinedFunctionError,
    asyncpg.exceptions.InsufficientPrivilegeError,
    OSError,
)

# Kafka refusing a message for its size is about the message; any other Kafka error is Kafka.
_KAFKA_MESSAGE_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError)

# asyncpg's client-side interface errors that mean "the connection or pool is gone".
_CLOSED = ("connection is closed", "pool is closing", "pool is closed", "connection was closed")


def database_away(exc: BaseException) -> bool:
    if isinstance(exc, DATABASE_AWAY):
        return True
    if isinstance(exc, asyncpg.InterfaceError) and not isinstance(exc, asyncpg.exceptions._base.DataError):
        return any(marker in str(exc) for marker in _CLOSED)
    return False


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an outage (retry the batch) rather than the message's fault (dead-letter it)."""
    if isinstance(exc, TransientError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, KafkaError):
        return not isinstance(exc, _KAFKA_MESSAGE_ERRORS)
    return database_away(exc)
