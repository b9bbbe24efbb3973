"""Echo suppression and field-level updates.

Every write the engine makes comes back as a change event from the side it wrote to. The link
table keeps what both sides held after the last applied write; an update whose content equals
that is the engine's own write returning (an echo) and is not synced back, which is what stops
two-way ping-pong. Otherwise only the fields that differ from it are written, so a change made
meanwhile to other fields on the other side is not overwritten (field-level last writer wins).

Only fields that mean the same on both sides are compared. Ids of related records are per side
(a project's customer), except project members, which payloads always carry as Svenn ids (S-P8).
"""

from __future__ import annotations

from contracts.entities import CustomerSnapshot, EmployeeSnapshot, EntitySnapshot, ProjectSnapshot

COMPARED: dict[type, tuple[str, ...]] = {
    ProjectSnapshot: ("number", "name", "start_date", "end_date", "status", "member_ids"),
    CustomerSnapshot: (
        "customer_number",
        "name",
        "organization_number",
        "email",
        "phone",
        "address_line",
        "postal_code",
        "city",
        "active",
    ),
    EmployeeSnapshot: ("employee_number", "first_name", "last_name", "email", "phone"),
}

_UNORDERED = {"member_ids"}


def changed_fields(
    payload: EntitySnapshot, synced: EntitySnapshot | None, before: EntitySnapshot | None = None
) -> tuple[str, ...] | None:
    """The compared fields where ``payload`` differs from the last synced content; None if unknown.

    ``before``: when ``synced`` is a write still in flight to this record, what the record held
    until then. A field still showing that older value is no change of the user's: the change
    was made before the engine's write landed, and echoing its old value back would undo the
    other side's edit (a concurrent edit of *another* field must not cost this one).
    """
    if synced is None or type(synced) is not type(payload):
        return None
    compared = COMPARED.get(type(payload), ())
    if type(before) is not type(payload):
        before = None
    changed = []
    for name in compared:
        if field_differs(payload, synced, name) and (before is None or field_differs(payload, before, name)):
            changed.append(name)
    return tuple(changed)


def field_differs(one: EntitySnapshot, other: EntitySnapshot, name: str) -> bool:
    mine, theirs = getattr(one, name), getattr(other, name)
    if name in _UNORDERED:
        mine, theirs = set(mine), set(theirs)
    return bool(mine != theirs)
