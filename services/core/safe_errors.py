"""Describing an error for a log line without the record content it may carry.

Logs hold ids, never personal data (README, Security: Personal data). Some exceptions quote the
values they refused: pydantic's ``ValidationError`` (``input_value='ola@example.no'``), asyncpg's
client-side ``DataError`` (``invalid input for query argument $3: 'Kari …'``), a database error's
detail (``Key (email)=(…) already exists``), a side's API error that echoes a field. ``describe``
keeps what an operator needs to place the error (its type, which fields, the SQLSTATE and the
table, column or constraint, the API's status and code) and leaves the values out; any other
error (an outage, a timeout, a bug) keeps its text, which names hosts, fields and ids. The full
error still goes where the record itself may be kept: the dead-letter topic and the error log.
"""

from __future__ import annotations

import asyncpg
from pydantic import ValidationError

_MAX = 300


def describe(exc: BaseException) -> str:
    """``exc``'s type and where it happened, without the values it quotes."""
    name = type(exc).__name__
    if isinstance(exc, ValidationError):
        places = sorted({".".join(str(p) for p in e["loc"]) or "(record)" for e in exc.errors()})
        kinds = sorted({e["type"] for e in exc.errors()})
        return f"{name} ({exc.title}): {', '.join(places)[:_MAX]} [{', '.join(kinds)}]"
    if isinstance(exc, asyncpg.PostgresError):
        where = [
            f"{label} {value}"
            for label, value in (
                ("sqlstate", getattr(exc, "sqlstate", None)),
                ("table", getattr(exc, "table_name", None)),
                ("column", getattr(exc, "column_name", None)),
                ("constraint", getattr(exc, "constraint_name", None)),
            )
            if value
        ]
        return f"{name} ({', '.join(where)})" if where else name
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions.DataError):
        return f"{name} (a value PostgreSQL cannot take; withheld)"
    if hasattr(exc, "status") and hasattr(exc, "code"):
        # A side's API error (Tripletex, Svenn, Drifti): its message may echo the record's fields.
        return f"{name} (status={getattr(exc, 'status', None)}, code={getattr(exc, 'code', None)})"
    # Outages, timeouts, bugs, mapping errors: their text names hosts, fields and ids.
    return f"{name}: {str(exc)[:_MAX]}" if str(exc) else name


__all__ = ["describe"]
