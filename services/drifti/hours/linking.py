"""Which Tripletex record stands for which Drifti record in an hours export (D-E1, D-A1, D-J2).

Pure: the export reads both sides and the stored links, these functions decide, the export
writes. A stored link wins while its Tripletex record still exists, so a link survives a later
change of e-mail or name on either side and a person can fix an unlinkable user once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class LinkMethod(StrEnum):
    STORED = "stored"  # linked by an earlier export
    EMAIL = "email"
    NAME = "name"
    FOUND = "found"  # in Tripletex: a project by the job's number (D-J2), an activity by its name (D-A1)
    CREATED = "created"


class Unlinked(StrEnum):
    NO_MATCH = "no_match"  # no Tripletex employee with that e-mail or full name
    AMBIGUOUS_NAME = "ambiguous_name"  # no e-mail match and several employees share the name
    EMPLOYEE_TAKEN = "employee_taken"  # the matching employee already stands for another user


@dataclass(frozen=True)
class DriftiPerson:
    user_id: str
    name: str
    email: str | None


@dataclass(frozen=True)
class TripletexPerson:
    employee_id: int
    first_name: str | None
    last_name: str | None
    email: str | None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True)
class EmployeeLink:
    user_id: str
    employee_id: int
    method: LinkMethod


@dataclass(frozen=True)
class UserNotLinked:
    user_id: str
    name: str
    email: str | None
    why: Unlinked
    candidates: tuple[int, ...] = ()  # the employees sharing the name, for an ambiguous one


def _email(value: str | None) -> str:
    return (value or "").strip().casefold()


def _name(value: str | None) -> str:
    """Compare names the way a person would: case, accents' encoding and spacing do not matter."""
    return " ".join(unicodedata.normalize("NFC", value or "").casefold().split())


def link_users(
    users: Iterable[DriftiPerson],
    employees: Iterable[TripletexPerson],
    stored: Mapping[str, int],
) -> tuple[dict[str, EmployeeLink], list[UserNotLinked]]:
    """D-E1: the stored link, else the employee with the same e-mail, else the only one with the
    same full name. Two employees with the name and no e-mail match link nothing, nor does an
    employee another user already has: a guess would put one person's hours on another's
    timesheet."""
    staff = list(employees)
    existing = {e.employee_id for e in staff}
    by_email: dict[str, list[int]] = {}
    by_name: dict[str, list[int]] = {}
    for e in staff:
        if _email(e.email):
            by_email.setdefault(_email(e.email), []).append(e.employee_id)
        if _name(e.full_name):
            by_name.setdefault(_name(e.full_name), []).append(e.employee_id)
    people = list(users)
    links: dict[str, EmployeeLink] = {}
    unlinked: list[UserNotLinked] = []
    # Stored links first, so a new match can never take an employee an earlier export gave away.
    for user in people:
        known = stored.get(user.user_id)
        if known is not None and known in existing:
            links[user.user_id] = EmployeeLink(user.user_id, known, LinkMethod.STORED)
    taken = {link.employee_id: user_id for user_id, link in links.items()}
    for user in people:
        if user.user_id in links:
            continue
        found: tuple[int, LinkMethod] | None = None
        mail = by_email.get(_email(user.email), []) if _email(user.email) else []
        named = by_name.get(_name(user.name), [])
        if len(mail) == 1:  # e-mails are unique per Tripletex company; several would be a data error
            found = (mail[0], LinkMethod.EMAIL)
        elif len(named) == 1:
            found = (named[0], LinkMethod.NAME)
        elif named:
            unlinked.append(
                UserNotLinked(
                    user.user_id, user.name, user.email, Unlinked.AMBIGUOUS_NAME, tuple(sorted(named))
                )
            )
            continue
        if found is None:
            unlinked.append(UserNotLinked(user.user_id, user.name, user.email, Unlinked.NO_MATCH))
        elif found[0] in taken:
            # Two Drifti users on one timesheet would merge two people's hours.
            unlinked.append(
                UserNotLinked(user.user_id, user.name, user.email, Unlinked.EMPLOYEE_TAKEN, (found[0],))
            )
        else:
            links[user.user_id] = EmployeeLink(user.user_id, found[0], found[1])
            taken[found[0]] = user.user_id
    return links, unlinked


ACTIVITY_PREFIX = "Drifti: "


def activity_name(rate_name: str) -> str:
    """D-A1: the Tripletex activity that carries one Drifti hourly rate's hours.

    The prefix says where the activity comes from, so a person never mistakes it for one of
    their own and the export can tell its entries from hand-typed ones.
    """
    return f"{ACTIVITY_PREFIX}{' '.join(rate_name.split())}"
