"""The keys a writer matches a record by on the other side, best first.

Projects by number (S-P4), customers by customer number compared as an integer (Tripletex
stores it as one: Svenn's "007" is Tripletex's 7), employees by number, then e-mail.
"""

from __future__ import annotations

from contracts.entities import CustomerSnapshot, EmployeeSnapshot, EntitySnapshot, ProjectSnapshot


def natural_keys(snapshot: EntitySnapshot | None) -> list[str]:
    if isinstance(snapshot, ProjectSnapshot):
        return [f"number:{snapshot.number}"] if snapshot.number else []
    if isinstance(snapshot, CustomerSnapshot):
        number = snapshot.customer_number or ""
        return [f"number:{number.lstrip('0') or '0'}"] if number.isdigit() else []
    if isinstance(snapshot, EmployeeSnapshot):
        keys = [f"number:{snapshot.employee_number}"] if snapshot.employee_number else []
        return keys + ([f"email:{snapshot.email.strip().lower()}"] if snapshot.email else [])
    return []
