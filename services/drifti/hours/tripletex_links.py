"""The Tripletex side of an export's links: activities for rates (D-A1), projects for jobs
(D-J2), and what a project needs before hours can be logged on it."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable

from services.drifti.client import DriftiClient
from services.drifti.client.models import HourlyRate, Job, TimeEntry
from services.drifti.hours.linking import LinkMethod, activity_name
from services.drifti.hours.plan import Targets
from services.drifti.hours.result import MadeLink
from services.tripletex.client import TripletexClient
from services.tripletex.client.errors import TripletexNotFound, TripletexOutcomeUnknown
from services.tripletex.client.models import Activity, Project, Ref

log = logging.getLogger(__name__)


class Placeholders:
    """Ids for what a dry run would create, so its plan still counts the hours they would carry."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last -= 1
        return self.last


async def activity_for(
    tripletex: TripletexClient,
    rate: HourlyRate,
    stored: dict[str, int],
    dry_run: bool,
    placeholders: Placeholders,
) -> MadeLink:
    """D-A1. Tripletex cannot delete activities, so a stored one is still there."""
    if rate.id in stored:
        return MadeLink(rate.id, stored[rate.id], LinkMethod.STORED, rate.name)
    name = activity_name(rate.name)
    if dry_run:
        found = await tripletex.activities.by_name(name)
        if found is not None and found.id is not None:
            return MadeLink(rate.id, found.id, LinkMethod.FOUND, rate.name)
        return MadeLink(rate.id, placeholders.next(), LinkMethod.CREATED, rate.name)
    ensured = await tripletex.activities.ensure(
        Activity(
            name=name,
            activity_type="PROJECT_GENERAL_ACTIVITY",
            is_chargeable=True,
            rate=rate.price_per_hour,
            description=f"Timepris {rate.name} fra Drifti ({rate.price_per_hour} kr/t)",
        )
    )
    if ensured.record.id is None:
        raise TripletexOutcomeUnknown(f"activity {name!r} came back without an id")
    method = LinkMethod.CREATED if ensured.created else LinkMethod.FOUND
    return MadeLink(rate.id, ensured.record.id, method, rate.name)


async def project_for(
    drifti: DriftiClient,
    tripletex: TripletexClient,
    job: Job,
    stored: dict[str, int],
    dry_run: bool,
    placeholders: Placeholders,
    first_day: dt.date | None,
    manager: int | None,
) -> MadeLink:
    """D-J2: the stored project while it exists, else the one with the job's number, else a new one."""
    if job.id in stored:
        try:
            await tripletex.projects.get(stored[job.id], fields="id")
            return MadeLink(job.id, stored[job.id], LinkMethod.STORED, job.job_number)
        except TripletexNotFound:
            log.info("stored project of a job is gone; searching by number", extra={"job": job.job_number})
    found = await tripletex.projects.by_number(job.job_number, fields="id,number")
    if found is not None and found.id is not None:
        return MadeLink(job.id, found.id, LinkMethod.FOUND, job.job_number)
    if dry_run:
        return MadeLink(job.id, placeholders.next(), LinkMethod.CREATED, job.job_number)
    if manager is None:
        raise TripletexOutcomeUnknown("the API user has no employee to be the new project's manager")
    customer = await _tripletex_customer(drifti, tripletex, job)
    start = min(job.created_at.date(), first_day or job.created_at.date())
    ensured = await tripletex.projects.ensure(
        Project(
            name=job.title,
            number=job.job_number,
            project_manager=Ref.to(manager),
            start_date=start,
            is_internal=False,
            customer=Ref.to(customer) if customer is not None else None,
        )
    )
    if ensured.record.id is None:
        raise TripletexOutcomeUnknown(f"project {job.job_number!r} came back without an id")
    method = LinkMethod.CREATED if ensured.created else LinkMethod.FOUND
    return MadeLink(job.id, ensured.record.id, method, job.job_number)


async def _tripletex_customer(drifti: DriftiClient, tripletex: TripletexClient, job: Job) -> int | None:
    """The job's customer in Tripletex, when it is there already (creating customers is D-C1's)."""
    customer = await drifti.customers.get(job.customer_id)
    if not customer.customer_number.isdigit():
        return None
    found = await tripletex.customers.by_number(int(customer.customer_number), fields="id")
    return found.id if found is not None else None


async def make_loggable(tripletex: TripletexClient, approved: Iterable[TimeEntry], targets: Targets) -> None:
    """Tripletex refuses hours on an activity the project does not offer, or by a non-participant
    on a participants-only project: link the activity and add the participant first."""
    needs: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    for e in approved:
        project = targets.projects.get(e.job_id)
        activity = targets.activities.get(e.hourly_rate_id)
        employee = targets.employees.get(e.user_id)
        if project is None or activity is None or employee is None:
            continue
        needs[project][0].add(activity)
        needs[project][1].add(employee)

    async def prepare(project_id: int, activity_ids: set[int], employee_ids: set[int]) -> None:
        usable = {a.id for a in await tripletex.activities.for_timesheet(project_id)}
        for activity_id in sorted(activity_ids - usable):
            await tripletex.projects.link_activity(project_id, activity_id)
        info = await tripletex.projects.get(project_id, fields="id,forParticipantsOnly")
        if info.for_participants_only:
            await tripletex.projects.add_participants(project_id, sorted(employee_ids))

    await asyncio.gather(*(prepare(p, a, e) for p, (a, e) in needs.items()))
