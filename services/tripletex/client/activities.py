"""Activities (reference §5.4).

Tripletex has **no PUT and no DELETE** for activities, so a wrong or duplicate activity
cannot be repaired through the API: creating one is always find-before-create, by ``number``
(Equals) and, when there is no number, by exact ``name`` (the filter is Containing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence

from .models import Activity
from .natural_keys import Ensured
from .resource import Resource


class ActivitiesApi(Resource):
    async def get(self, activity_id: int, *, fields: str | None = None) -> Activity:
        return await self._get(f"/activity/{activity_id}", Activity, fields=fields)

    def iterate(
        self, *, fields: str | None = None, page_size: int = 1000, **filters: str | int | bool
    ) -> AsyncIterator[Activity]:
        return self._iterate("/activity", Activity, params=filters, fields=fields, page_size=page_size)

    async def by_number(self, number: str) -> Activity | None:
        page = await self._page("/activity", Activity, params={"number": number}, count=10)
        matches = [a for a in page.values if a.number == number]
        return matches[0] if matches else None

    async def by_name(self, name: str) -> Activity | None:
        page = await self._page("/activity", Activity, params={"name": name}, count=100)
        matches = [a for a in page.values if a.name == name]
        return matches[0] if matches else None

    async def find(self, *, number: str | None = None, name: str | None = None) -> Activity | None:
        if number:
            return await self.by_number(number)
        if name:
            return await self.by_name(name)
        return None

    async def for_timesheet(
        self, project_id: int, *, employee_id: int | None = None, date: dt.date | None = None
    ) -> list[Activity]:
        """What may be logged on this project (``GET /activity/>forTimeSheet``)."""
        params = {
            "projectId": project_id,
            "employeeId": employee_id,
            "date": date.isoformat() if date else None,
        }
        return await self._all("/activity/>forTimeSheet", Activity, params=params)

    async def create(self, activity: Activity) -> Activity:
        return await self._post("/activity", activity, Activity)

    async def create_many(self, activities: Sequence[Activity]) -> list[Activity]:
        """``POST /activity/list``. Not guarded: use :meth:`ensure` per item when replaying."""
        return await self._post_list("/activity/list", activities, Activity)

    async def ensure(self, activity: Activity) -> Ensured[Activity]:
        """Find by number (or by exact name when there is no number) or create (D-A1)."""
        number, name = activity.number, activity.name
        if not number and not name:
            raise ValueError("ensure() needs activity.number or activity.name")
        return await self._ensure(
            f"activity number={number} name={name}",
            lambda: self.find(number=number, name=name),
            lambda: self.create(activity),
        )
