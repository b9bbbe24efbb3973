"""What the contracts accept, bounded by what PostgreSQL (and a Kafka message) can hold.

A message that passes its contract must never fail later because of its *shape*: the engine
stores ids in ``text`` columns and btree keys (no NUL byte, at most a few kilobytes), versions in
``bigint`` and everything else in ``jsonb`` (no ``\\u0000``). So at the edge (``POST /v1/changes``
answers 422 naming the field; a consumer's decoder dead-letters):

- ids, versions and tenant ids hold no control character and are short (``Identifier``,
  ``Version``); the ordering part of a version (``"7"`` of ``"7+p…"``) fits a ``bigint``;
- a snapshot's user text (names, numbers, addresses …) is only capped in length (``Text``). A
  user who types a NUL into a project name in Svenn made a typo, not an attack: refusing the
  change here would lose it silently. The decision rejects such a record instead (S-X2,
  ``RECORD_TEXT_INVALID``, one error-log entry) and nothing of it reaches PostgreSQL;
- free-text explanations the engine writes (a ruling's reason, a side's error message) are
  made storable rather than refused (``Explanation``): an unreadable character or an overlong
  message must not cost the outcome it explains.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

BIGINT_MAX = 2**63 - 1
BIGINT_MIN = -(2**63)

MAX_ID = 200  # record ids and natural keys: well inside a btree entry (2704 bytes) at 4 bytes a character
MAX_KEY = 255  # a natural key (a number, an e-mail) the engine keys records by: judged by S-X2
MAX_VERSION = 100
MAX_CODE = 100  # rule ids and error codes
MAX_TEXT = 2000  # one text field of a snapshot
MAX_ITEMS = 1000  # members of a project, lines of an invoice
MAX_EXPLANATION = 4000

# Never in an id or a version: every C0 control character and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Not storable, or not sendable, in user text: C0 controls except tab, line feed and carriage
# return, DEL, and lone surrogates (no UTF-8 encoding exists for them).
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _character(c: str) -> str:
    return f"U+{ord(c):04X}"


def unstorable_text(value: str) -> str | None:
    """Why ``value`` cannot be stored or sent as it is (the first such character), or None."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return f"holds the control character {_character(found.group())} at position {found.start() + 1}"


def _no_control(value: str) -> str:
    found = _CONTROL.search(value)
    if found is not None:
        raise ValueError(f"must not hold a control character ({_character(found.group())})")
    if re.search(r"[\ud800-\udfff]", value):
        raise ValueError("must not hold a lone surrogate")
    return value


def version_number(version: str | None) -> int | None:
    """The ordering part of a side's record version ("7", or "7+p…" for a project's participants)."""
    head = (version or "").split("+", 1)[0]
    if not (head.isascii() and head.isdigit()):
        return None
    number = int(head)
    return number if number <= BIGINT_MAX else None


def _version_fits(value: str) -> str:
    head = value.split("+", 1)[0]
    if head.isascii() and head.isdigit() and int(head) > BIGINT_MAX:
        raise ValueError(f"its number must be at most {BIGINT_MAX} (a PostgreSQL bigint)")
    return value


def _storable(value: object) -> object:
    if not isinstance(value, str):
        return value
    return _UNSTORABLE.sub("\ufffd", value)[:MAX_EXPLANATION]


Identifier = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID), AfterValidator(_no_control)]
"""A record's id on its side (a record key, a primary-key column)."""

Reference = Annotated[str, StringConstraints(max_length=MAX_ID), AfterValidator(_no_control)]
"""An id of another record (a snapshot's customer, parent, members; a write's target)."""

Version = Annotated[
    str, StringConstraints(max_length=MAX_VERSION), AfterValidator(_no_control), AfterValidator(_version_fits)
]
"""A side's record version; its leading digits are stored as a ``bigint`` (``seen_version``, ``link``)."""

Code = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE), AfterValidator(_no_control)]
"""A rule id or an error code (a key of the error log)."""

Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
"""User text in a snapshot: capped here, its characters judged by the decision (S-X2)."""

Explanation = Annotated[str, BeforeValidator(_storable)]
"""Engine-written prose (reasons, error messages): unstorable characters replaced, length capped."""

BigInt = Annotated[int, Field(ge=BIGINT_MIN, le=BIGINT_MAX)]
