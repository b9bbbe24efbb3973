"""Export one period's approved Drifti hours to Tripletex timesheets (D-H1), with the links they
need: users -> employees (D-E1), hourly rates -> activities (D-A1), jobs -> projects (D-J2).

The I/O around the pure parts (``linking``, ``plan``): read the period in Drifti, find or make
the links (stored ones first), read the period in Tripletex, diff, write the difference with
the batch endpoints. Running it again changes nothing; after an unknown outcome or a conflict
the period is read again and only what is still missing is written. A dry run reads, links
nothing new and writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from services.drifti.client import DriftiClient
from services.drifti.client.models import HourlyRate, Job, TimeEntry
from services.drifti.hours.linking import DriftiPerson, TripletexPerson, link_users
from services.drifti.hours.plan import HoursPlan, Key, Targets, plan_export
from services.drifti.hours.result import HoursExport, MadeLink, Written
from services.drifti.hours.store import LinkKind, LinkStore
from services.drifti.hours.tripletex_links import Placeholders, activity_for, make_loggable, project_for
from services.tripletex.client import TripletexClient
from services.tripletex.client.envelopes import parse_page
from services.tripletex.client.errors import (
    TripletexConflictError,
    TripletexNotFound,
    TripletexOutcomeUnknown,
    TripletexValidationError,
)
from services.tripletex.client.models import TimesheetEntry

log = logging.getLogger(__name__)

BATCH = 100  # entries per /timesheet/entry/list call
ATTEMPTS = 3  # plan-and-write rounds after unknown outcomes or conflicts

# (stage, done, total): "read", "link", "write". The CLI draws bars; HTTP callers get the summary.
Progress = Callable[[str, int, int], None]


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


async def export_hours(
    drifti: DriftiClient,
    tripletex: TripletexClient,
    tenant_id: str,
    start: dt.date,
    end: dt.date,
    *,
    store: LinkStore,
    dry_run: bool = False,
    progress: Progress = _quiet,
) -> HoursExport:
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    entries: list[TimeEntry] = []
    async for entry in drifti.time_entries.in_period(start, end):
        entries.append(entry)
        progress("read", len(entries), 0)
    users = {u.id: u for u in await drifti.users.list_all()}
    rates = {r.id: r for r in await drifti.hourly_rates.list_all()}
    jobs = {j.id: j for j in await drifti.jobs.list_all()}
    progress("read", len(entries), len(entries))
    stored = await store.load(tenant_id)

    # D-E1: everyone with hours in the period, approved or not (pending hours get sent later).
    people = [users[u] for u in dict.fromkeys(e.user_id for e in entries) if u in users]
    staff = [
        TripletexPerson(e.id or 0, e.first_name, e.last_name, e.email)
        async for e in tripletex.employees.iterate(fields="id,firstName,lastName,email")
    ]
    employees, unlinked = link_users(
        [DriftiPerson(u.id, u.name, u.email) for u in people], staff, stored[LinkKind.USER]
    )
    approved = [e for e in entries if e.status == "approved" and e.user_id in employees]
    needed_rates = [rates[r] for r in dict.fromkeys(e.hourly_rate_id for e in approved) if r in rates]
    needed_jobs = [jobs[j] for j in dict.fromkeys(e.job_id for e in approved) if j in jobs]
    total = len(needed_rates) + len(needed_jobs)
    placeholders = Placeholders()
    linked = 0

    def one_more() -> None:
        nonlocal linked
        linked += 1
        progress("link", linked, total)

    async def rate_link(rate: HourlyRate) -> MadeLink:
        made = await activity_for(tripletex, rate, stored[LinkKind.HOURLY_RATE], dry_run, placeholders)
        one_more()
        return made

    first_day: dict[str, dt.date] = {}
    for e in approved:
        first_day[e.job_id] = min(first_day.get(e.job_id, e.date), e.date)
    manager = None
    if not dry_run and any(j.id not in stored[LinkKind.JOB] for j in needed_jobs):
        manager = (await tripletex.who_am_i()).employee_id  # the project manager of new projects

    async def job_link(job: Job) -> MadeLink:
        made = await project_for(
            drifti,
            tripletex,
            job,
            stored[LinkKind.JOB],
            dry_run,
            placeholders,
            first_day.get(job.id),
            manager,
        )
        one_more()
        return made

    # Independent lookups, run side by side (the client keeps to its per-tenant concurrency).
    activities = {m.drifti_id: m for m in await asyncio.gather(*map(rate_link, needed_rates))}
    projects = {m.drifti_id: m for m in await asyncio.gather(*map(job_link, needed_jobs))}
    targets = Targets(
        employees={u: link.employee_id for u, link in employees.items()},
        activities={r: link.tripletex_id for r, link in activities.items()},
        projects={j: link.tripletex_id for j, link in projects.items()},
    )
    if not dry_run:
        await store.save(
            tenant_id, LinkKind.USER, {u: (k.employee_id, k.method.value) for u, k in employees.items()}
        )
        await store.save(
            tenant_id,
            LinkKind.HOURLY_RATE,
            {r: (k.tripletex_id, k.method.value) for r, k in activities.items()},
        )
        await store.save(
            tenant_id, LinkKind.JOB, {j: (k.tripletex_id, k.method.value) for j, k in projects.items()}
        )
        await make_loggable(tripletex, approved, targets)

    written = Written()
    plan = HoursPlan()
    rejected = False
    unconfirmed: set[Key] = set()  # sent in a create batch whose answer was lost
    for attempt in range(1, ATTEMPTS + 1):
        existing = await _existing(tripletex, start, end, targets)
        plan = plan_export(entries, targets, existing, (start, end))
        # What a lost answer had created shows up now: count it as created, not as unchanged.
        written.created += sum(1 for d in plan.unchanged if d.key in unconfirmed)
        unconfirmed.clear()
        if dry_run or plan.writes == 0:
            break
        try:
            await _write(tripletex, plan, written, progress, unconfirmed)
            break
        except (TripletexOutcomeUnknown, TripletexConflictError, TripletexValidationError) as exc:
            # A 422 is what Tripletex answers an entry that exists already (someone typed it in
            # meanwhile): read again, and a second 422 in a row is a real validation error.
            if attempt == ATTEMPTS or (isinstance(exc, TripletexValidationError) and rejected):
                raise
            rejected = isinstance(exc, TripletexValidationError)
            log.warning(
                "hours export: write outcome unknown or conflicting; reading the period again",
                extra={"tenant": tenant_id, "attempt": attempt, "error": type(exc).__name__},
            )
    log.info(
        "hours exported",
        extra={
            "tenant": tenant_id,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "dry_run": dry_run,
            "entries_created": written.created,  # "created" is a LogRecord attribute: a KeyError
            "updated": written.updated,
            "removed": written.removed,
            "reported": len(plan.reported),
        },
    )
    return HoursExport(
        tenant_id,
        start,
        end,
        dry_run,
        entries,
        users,
        jobs,
        employees,
        unlinked,
        activities,
        projects,
        plan,
        written,
    )


async def _existing(
    tripletex: TripletexClient, start: dt.date, end: dt.date, targets: Targets
) -> list[TimesheetEntry]:
    employee_ids = sorted(set(targets.employees.values()))
    if not employee_ids:
        return []
    fields = "id,version,employee(id),project(id),activity(id),date,hours,comment,locked"
    return [
        e
        async for e in tripletex.timesheet.iterate(
            start, end + dt.timedelta(days=1), employee_ids=employee_ids, fields=fields
        )
    ]


async def _write(
    tripletex: TripletexClient, plan: HoursPlan, written: Written, progress: Progress, in_flight: set[Key]
) -> None:
    """Creates, updates, removals; ``in_flight`` holds the create batch being sent, so a lost
    answer leaves behind which keys may have been created."""
    total = plan.writes
    done = written.total
    progress("write", done, done + total)
    for i in range(0, len(plan.creates), BATCH):
        batch = plan.creates[i : i + BATCH]
        in_flight.update(d.key for d in batch)
        await tripletex.timesheet.create_many([d.entry() for d in batch])
        in_flight.clear()
        written.created += len(batch)
        progress("write", written.total, done + total)
    updates = [u.body() for u in plan.updates]
    for i in range(0, len(updates), BATCH):
        response = await tripletex.transport.request(
            "PUT", "/timesheet/entry/list", json=updates[i : i + BATCH]
        )
        written.updated += len(parse_page(response, TimesheetEntry).values)
        progress("write", written.total, done + total)
    for entry in plan.removals:  # Tripletex has no batch delete for hours; removals are rare
        if entry.id is not None:
            # Gone already: an earlier round's delete whose answer was lost.
            with contextlib.suppress(TripletexNotFound):
                await tripletex.timesheet.delete(entry.id, version=entry.version)
        written.removed += 1
        progress("write", written.total, done + total)
