"""S-X2: a record whose text cannot be stored or sent is not synced, and the user is told.

Svenn accepts a NUL or another control character in a project name (a paste, a typo); the
engine cannot store it (PostgreSQL refuses ``\\u0000`` in ``jsonb`` and NUL in ``text``) and
the other side would refuse or mangle it. The contracts let such user text through
(``contracts.bounds``: refusing the change at the edge would lose it silently), and the decision
rejects the record here, before any other rule reads its text: error ``RECORD_TEXT_INVALID``,
one error-log entry per record naming the field, resolved when a later change of the record
syncs (S-X1). Nothing of the record reaches PostgreSQL but its id and the reason, which names
the field and the character's code point, never the text itself. A natural key longer than an
id (a 5 000-character project number) is rejected the same way: the engine keys records by it.

Which characters: C0 control characters except tab, line feed and carriage return, DEL, and lone
surrogates (``contracts.bounds.unstorable_text``).
"""

from __future__ import annotations

from pydantic import BaseModel

from contracts.bounds import MAX_KEY, unstorable_text
from contracts.envelope import ChangeEvent
from contracts.error_codes import RECORD_TEXT_INVALID
from services.decision.ruling import Ruling, reject

RULE_ID = "S-X2"

# Fields the engine matches and keys records by (``natural_keys``, D-C1, D-J2): ids, in length too.
KEY_FIELDS = frozenset(
    {"number", "customer_number", "employee_number", "email", "job_number", "organization_number"}
)

_SIDE = {"svenn": "Svenn", "tripletex": "Tripletex", "drifti": "Drifti"}


def text_problem(snapshot: BaseModel | None, path: str = "") -> str | None:
    """The first field of ``snapshot`` (nested ones included) that cannot be stored, and why.

    On the decision's hot path for every change: the fields are scanned as they are, and words
    are made only for a field at fault.
    """
    if snapshot is None:
        return None
    for name, value in snapshot.__dict__.items():
        if isinstance(value, str):
            problem = _string_problem(name, value)
            if problem is not None:
                return f"{path}{name} {problem}"
        elif isinstance(value, BaseModel):
            problem = text_problem(value, f"{path}{name}.")
            if problem is not None:
                return problem
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                at, problem = f"{path}{name}[{index}]", None
                if isinstance(item, BaseModel):
                    problem = text_problem(item, f"{at}.")
                elif isinstance(item, str):
                    problem = _string_problem(name, item)
                    problem = None if problem is None else f"{at} {problem}"
                if problem is not None:
                    return problem
    return None


def _string_problem(name: str, value: str) -> str | None:
    problem = unstorable_text(value)
    if problem is None and name in KEY_FIELDS and len(value) > MAX_KEY:
        problem = f"is {len(value)} characters long (at most {MAX_KEY})"
    return problem


def text_rules(event: ChangeEvent) -> Ruling | None:
    """S-X2's rejection of ``event``'s record, or None when all its text can be synced."""
    problem = text_problem(event.snapshot)
    if problem is None:
        return None
    side = _SIDE.get(event.source.value, event.source.value)
    return reject(
        RULE_ID,
        RECORD_TEXT_INVALID,
        f"the {event.entity_type.value}'s {problem}, which cannot be stored or sent: correct it in "
        f"{side}; the record is not synced until then",
    )
