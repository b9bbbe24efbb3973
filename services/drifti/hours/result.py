"""What one hours export found, made and wrote, and its summary for people and for Drifti."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.drifti.client.models import Job, TimeEntry, User
from services.drifti.hours.linking import EmployeeLink, LinkMethod, UserNotLinked
from services.drifti.hours.plan import HoursPlan, ReportReason


@dataclass(frozen=True)
class MadeLink:
    """A Drifti rate or job and the Tripletex activity or project that stands for it."""

    drifti_id: str
    tripletex_id: int
    method: LinkMethod
    label: str  # the rate's name or the job's number, for people


@dataclass
class Written:
    created: int = 0
    updated: int = 0
    removed: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.removed


@dataclass
class HoursExport:
    tenant_id: str
    start: dt.date
    end: dt.date
    dry_run: bool
    entries: list[TimeEntry]
    users: dict[str, User]
    jobs: dict[str, Job]
    employees: dict[str, EmployeeLink]
    unlinked: list[UserNotLinked]
    activities: dict[str, MadeLink]
    projects: dict[str, MadeLink]
    plan: HoursPlan
    written: Written = field(default_factory=Written)

    @property
    def approved_hours(self) -> Decimal:
        return sum((e.hours for e in self.entries if e.status == "approved"), Decimal(0))

    def totals(self) -> dict[tuple[str, str], Decimal]:
        """Hours Tripletex holds after the export per (user, job): what the proof compares."""
        sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for desired in self.plan.sent():
            sums[(desired.user_id, desired.job_id)] += desired.hours
        return dict(sums)

    def reported(self) -> dict[tuple[ReportReason, str | None], tuple[int, Decimal]]:
        """(reason, user) -> (entries, hours)."""
        found: dict[tuple[ReportReason, str | None], tuple[int, Decimal]] = {}
        for r in self.plan.reported:
            n, hours = found.get((r.reason, r.user_id), (0, Decimal(0)))
            found[(r.reason, r.user_id)] = (n + len(r.entry_ids), hours + r.hours)
        return found

    def user_name(self, user_id: str | None) -> str:
        user = self.users.get(user_id or "")
        return user.name if user else (user_id or "?")

    def _job_number(self, job_id: str) -> str:
        return self.jobs[job_id].job_number if job_id in self.jobs else job_id

    def summary(self) -> dict[str, Any]:
        """JSON for the HTTP caller (Drifti's button) and the CLI's table."""
        unchanged = max(len(self.plan.sent()) - self.written.created - self.written.updated, 0)
        if self.dry_run:
            unchanged = len(self.plan.unchanged)
        return {
            "tenant_id": self.tenant_id,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "dry_run": self.dry_run,
            "approved_hours": _hours(self.approved_hours),
            "exported_hours": _hours(sum(self.totals().values(), Decimal(0))),
            "entries": {
                "created": len(self.plan.creates) if self.dry_run else self.written.created,
                "updated": len(self.plan.updates) if self.dry_run else self.written.updated,
                "removed": len(self.plan.removals) if self.dry_run else self.written.removed,
                "unchanged": unchanged,
            },
            "totals": [
                {
                    "user_id": user_id,
                    "user": self.user_name(user_id),
                    "employee_id": self.employees[user_id].employee_id,
                    "job_number": self._job_number(job_id),
                    "project_id": self.projects[job_id].tripletex_id,
                    "hours": _hours(hours),
                }
                for (user_id, job_id), hours in sorted(
                    self.totals().items(), key=lambda i: (self.user_name(i[0][0]), self._job_number(i[0][1]))
                )
            ],
            "reported": [
                {
                    "reason": reason.value,
                    "user_id": user_id,
                    "user": self.user_name(user_id),
                    "entries": n,
                    "hours": _hours(hours),
                }
                for (reason, user_id), (n, hours) in sorted(
                    self.reported().items(), key=lambda i: (i[0][0].value, self.user_name(i[0][1]))
                )
            ],
            "unlinked_users": [
                {
                    "user_id": u.user_id,
                    "name": u.name,
                    "email": u.email,
                    "why": u.why.value,
                    "candidates": list(u.candidates),
                }
                for u in self.unlinked
            ],
            "activities": [
                {
                    "rate_id": a.drifti_id,
                    "rate": a.label,
                    "activity_id": a.tripletex_id,
                    "how": a.method.value,
                }
                for a in self.activities.values()
            ],
            "projects": [
                {
                    "job_id": p.drifti_id,
                    "job_number": p.label,
                    "project_id": p.tripletex_id,
                    "how": p.method.value,
                }
                for p in self.projects.values()
            ],
        }


def _hours(value: Decimal) -> str:
    """Hours as people write them: 7.5, 16.0 (never 7.50 next to 4)."""
    return f"{value.quantize(Decimal('0.01')).normalize():f}" if value % 1 else f"{value:.1f}"
