"""What an hours export of one period writes to Tripletex (D-H1): a pure diff.

Tripletex keeps one timesheet entry per (employee, date, activity, project), so Drifti's
approved entries are summed per that key (two visits to one job on one day at one rate are one
Tripletex entry). The sums are compared with what Tripletex holds for the period:

- a key Tripletex lacks is a create; one whose hours or comment differ is an update (a
  correction made in Drifti and approved again); an equal one is left alone, which is why
  exporting the same period twice writes nothing;
- an entry on one of the engine's own activities (D-A1) that no approved hours stand behind any
  more (reopened, moved to another day or job) is removed, so Tripletex holds exactly the
  approved hours; entries on other activities were typed by a person and are never touched;
- unapproved hours, hours of users without an employee (D-E1) and entries Tripletex has locked
  (approved or invoiced there) are reported, never sent.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from services.drifti.client.models import TimeEntry
from services.tripletex.client.models import Ref, TimesheetEntry

# (employee, date, activity, project): Tripletex's one-entry-per key (TimesheetEntry.natural_key)
Key = tuple[int, dt.date, int, int]

COMMENT_MAX = 500  # Tripletex does not document a limit; a long day's notes are cut, deterministically


class ReportReason(StrEnum):
    NOT_APPROVED = "not_approved"  # pending in Drifti: approve it, then export again
    REJECTED = "rejected"  # rejected in Drifti: never exported, listed for the record
    USER_NOT_LINKED = "user_not_linked"  # D-E1 found no employee for the user
    NO_PROJECT = "no_project"  # the job has no Tripletex project (a dry run before D-J2 creates it)
    NO_ACTIVITY = "no_activity"  # the rate has no activity (a dry run before D-A1 creates it)
    LOCKED = "locked_in_tripletex"  # Tripletex will not change an approved/invoiced entry


@dataclass(frozen=True)
class Targets:
    """The links an export found or made: Drifti id -> Tripletex id."""

    employees: Mapping[str, int]  # user -> employee (D-E1)
    activities: Mapping[str, int]  # hourly rate -> activity (D-A1)
    projects: Mapping[str, int]  # job -> project (D-J2)


@dataclass(frozen=True)
class Desired:
    """Approved hours for one Tripletex key, and the Drifti entries they add up from."""

    key: Key
    hours: Decimal
    comment: str
    user_id: str
    job_id: str
    rate_id: str
    entry_ids: tuple[str, ...]

    def entry(self) -> TimesheetEntry:
        employee, day, activity, project = self.key
        return TimesheetEntry(
            employee=Ref.to(employee),
            date=day,
            activity=Ref.to(activity),
            project=Ref.to(project),
            hours=self.hours,
            comment=self.comment,
        )


@dataclass(frozen=True)
class Update:
    current: TimesheetEntry
    desired: Desired

    def body(self) -> dict[str, Any]:
        """The whole writable entry for ``PUT /timesheet/entry/list``: a PUT nulls what it leaves out."""
        employee, day, activity, project = self.desired.key
        return {
            "id": self.current.id,
            "version": self.current.version,
            "employee": {"id": employee},
            "date": day.isoformat(),
            "activity": {"id": activity},
            "project": {"id": project},
            "hours": float(self.desired.hours),
            "comment": self.desired.comment,
        }


@dataclass(frozen=True)
class Reported:
    reason: ReportReason
    user_id: str | None
    hours: Decimal
    entry_ids: tuple[str, ...]  # Drifti time entries, or the Tripletex entry for LOCKED
    job_id: str | None = None
    day: dt.date | None = None


@dataclass
class HoursPlan:
    creates: list[Desired] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    removals: list[TimesheetEntry] = field(default_factory=list)
    unchanged: list[Desired] = field(default_factory=list)
    reported: list[Reported] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.removals)

    def sent(self) -> list[Desired]:
        """Every key Tripletex holds after the export (created, updated or already equal)."""
        return [*self.creates, *(u.desired for u in self.updates), *self.unchanged]

    def of(self, reason: ReportReason) -> list[Reported]:
        return [r for r in self.reported if r.reason is reason]


def comment_for(entries: Iterable[TimeEntry]) -> str:
    """Drifti's descriptions of the summed entries, each once, in the order they were worked."""
    seen: dict[str, None] = {}
    for e in sorted(entries, key=lambda e: (e.date, e.id)):
        text = " ".join((e.description or "").split())
        if text:
            seen.setdefault(text, None)
    comment = "; ".join(seen)
    return comment if len(comment) <= COMMENT_MAX else comment[: COMMENT_MAX - 1] + "…"


def _hours(entry: TimesheetEntry) -> Decimal:
    return Decimal(entry.hours if entry.hours is not None else 0)


def _key(entry: TimesheetEntry) -> Key | None:
    employee, day, activity, project = entry.natural_key()
    if employee is None or day is None or activity is None or project is None:
        return None
    return employee, day, activity, project


def plan_export(
    entries: Iterable[TimeEntry],
    targets: Targets,
    existing: Iterable[TimesheetEntry],
    period: tuple[dt.date, dt.date],
) -> HoursPlan:
    """D-H1: the writes that make Tripletex hold the period's approved Drifti hours, and the report.

    ``entries`` are the period's Drifti time entries of every status; ``existing`` the period's
    Tripletex entries (any activity: only the engine's own are ever removed).
    """
    start, end = period
    plan = HoursPlan()
    groups: dict[Key, list[TimeEntry]] = defaultdict(list)
    blocked_employees: set[int] = set()
    for e in sorted(entries, key=lambda e: (e.date, e.id)):
        if not start <= e.date <= end:
            continue
        if e.status != "approved":
            reason = ReportReason.NOT_APPROVED if e.status == "pending" else ReportReason.REJECTED
            plan.reported.append(Reported(reason, e.user_id, e.hours, (e.id,), e.job_id, e.date))
            continue
        placed = _place(e, targets)
        if isinstance(placed, ReportReason):
            plan.reported.append(Reported(placed, e.user_id, e.hours, (e.id,), e.job_id, e.date))
            employee = targets.employees.get(e.user_id)
            if employee is not None:
                # Some of this person's hours could not be placed: removing any of their entries
                # now could drop hours that still stand behind them.
                blocked_employees.add(employee)
            continue
        groups[placed].append(e)

    wanted = {
        key: Desired(
            key=key,
            hours=sum((e.hours for e in group), Decimal(0)),
            comment=comment_for(group),
            user_id=group[0].user_id,
            job_id=group[0].job_id,
            rate_id=group[0].hourly_rate_id,
            entry_ids=tuple(e.id for e in group),
        )
        for key, group in groups.items()
    }
    ours = set(targets.activities.values())
    user_of = {employee: user for user, employee in targets.employees.items()}
    held: dict[Key, TimesheetEntry] = {}
    for entry in existing:
        key = _key(entry)
        if key is None or not start <= key[1] <= end:
            continue
        held.setdefault(key, entry)  # Tripletex forbids two; keep the first rather than fail

    for key, desired in wanted.items():
        found = held.get(key)
        if found is None:
            plan.creates.append(desired)
            continue
        if _hours(found) == desired.hours and (found.comment or "") == desired.comment:
            plan.unchanged.append(desired)
        elif found.locked:
            plan.reported.append(_locked(found, user_of))
        else:
            plan.updates.append(Update(found, desired))
    for key, current in held.items():
        employee, _day, activity, _project = key
        if key in wanted or activity not in ours or employee not in user_of or employee in blocked_employees:
            continue
        if current.locked:
            plan.reported.append(_locked(current, user_of))
        else:
            plan.removals.append(current)
    return plan


def _place(entry: TimeEntry, targets: Targets) -> Key | ReportReason:
    employee = targets.employees.get(entry.user_id)
    if employee is None:
        return ReportReason.USER_NOT_LINKED
    activity = targets.activities.get(entry.hourly_rate_id)
    if activity is None:
        return ReportReason.NO_ACTIVITY
    project = targets.projects.get(entry.job_id)
    if project is None:
        return ReportReason.NO_PROJECT
    return employee, entry.date, activity, project


def _locked(current: TimesheetEntry, user_of: Mapping[int, str]) -> Reported:
    employee, day, _activity, _project = current.natural_key()
    return Reported(
        ReportReason.LOCKED,
        user_of.get(employee) if employee is not None else None,
        _hours(current),
        (str(current.id),),
        day=day,
    )
