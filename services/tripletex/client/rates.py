"""Project hourly rates and project-specific rates (reference §5.4).

Natural keys: a :class:`ProjectHourlyRate` is identified by (project, ``startDate``); a
:class:`ProjectSpecificRate` by (hourly rate, employee, activity). Both have search endpoints.
"""

from __future__ import annotations

from .locking import Mutate
from .models import ProjectHourlyRate, ProjectSpecificRate
from .natural_keys import Ensured
from .resource import Resource


class HourlyRatesApi(Resource):
    async def for_project(self, project_id: int) -> list[ProjectHourlyRate]:
        return await self._all("/project/hourlyRates", ProjectHourlyRate, params={"projectId": project_id})

    async def ensure(self, rate: ProjectHourlyRate) -> Ensured[ProjectHourlyRate]:
        if rate.project is None or rate.project.id is None or rate.start_date is None:
            raise ValueError("ensure() needs rate.project and rate.start_date")
        project_id, start = rate.project.id, rate.start_date

        async def find() -> ProjectHourlyRate | None:
            for existing in await self.for_project(project_id):
                if existing.start_date == start:
                    return existing
            return None

        async def create() -> ProjectHourlyRate:
            return await self._post("/project/hourlyRates", rate, ProjectHourlyRate)

        return await self._ensure(f"hourlyRate project={project_id} start={start}", find, create)

    async def update(self, rate_id: int, mutate: Mutate[ProjectHourlyRate]) -> ProjectHourlyRate:
        return await self._update(f"/project/hourlyRates/{rate_id}", ProjectHourlyRate, mutate)

    async def specific_rates(self, hourly_rate_id: int) -> list[ProjectSpecificRate]:
        return await self._all(
            "/project/hourlyRates/projectSpecificRates",
            ProjectSpecificRate,
            params={"projectHourlyRateId": hourly_rate_id},
        )

    async def ensure_specific_rate(self, rate: ProjectSpecificRate) -> Ensured[ProjectSpecificRate]:
        if rate.project_hourly_rate is None or rate.project_hourly_rate.id is None:
            raise ValueError("ensure_specific_rate() needs rate.project_hourly_rate")
        parent = rate.project_hourly_rate.id
        employee = rate.employee.id if rate.employee else None
        activity = rate.activity.id if rate.activity else None

        async def find() -> ProjectSpecificRate | None:
            for existing in await self.specific_rates(parent):
                if (existing.employee.id if existing.employee else None) == employee and (
                    existing.activity.id if existing.activity else None
                ) == activity:
                    return existing
            return None

        async def create() -> ProjectSpecificRate:
            return await self._post("/project/hourlyRates/projectSpecificRates", rate, ProjectSpecificRate)

        return await self._ensure(
            f"specificRate rate={parent} employee={employee} activity={activity}", find, create
        )
