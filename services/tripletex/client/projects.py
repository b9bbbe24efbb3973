"""Projects, their participants and their linked activities (reference §5.1, §5.4).

Natural key: the project ``number``, a *string* (``2024.17``, ``A12.3``: S-P6). We search with
``GET /project?number=`` (Equals, and it exists in every API version) rather than the 2.74-only
``/project/number/{number}``: on an older server the latter is an unknown route, whose 404
would be indistinguishable from "no such project" and lead to a duplicate.

Participants and project activities have no search endpoint; the current set is read from the
project itself, which is also how adds are made idempotent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from .errors import TripletexConflictError, TripletexOutcomeUnknown
from .locking import Mutate, Updated
from .models import Activity, Project, ProjectActivity, ProjectParticipant, Ref
from .natural_keys import Ensured
from .resource import Resource, ids_param
from .transport import Params

PARTICIPANT_FIELDS = "id,participants(id,version,employee(id),adminAccess)"
PROJECT_ACTIVITY_FIELDS = (
    "id,projectActivities(id,version,activity(id,name,number),startDate,endDate,isClosed)"
)


class ProjectsApi(Resource):
    async def get(self, project_id: int, *, fields: str | None = None) -> Project:
        return await self._get(f"/project/{project_id}", Project, fields=fields)

    def iterate(
        self, *, fields: str | None = None, page_size: int = 1000, **filters: str | int | bool
    ) -> AsyncIterator[Project]:
        """Every project matching the ``GET /project`` filters (``isClosed``, ``customerId`` ...)."""
        return self._iterate("/project", Project, params=filters, fields=fields, page_size=page_size)

    async def by_number(self, number: str, *, fields: str | None = None) -> Project | None:
        """The project with exactly this number, closed or open, internal or not (S-P4, D-J2).

        A second search with ``isClosed=true`` runs only when the first finds nothing: the
        spec's ``includeRecentlyClosed`` (default false) hints that a plain search may hide
        closed projects, and missing one here would create a duplicate number.
        """
        searches: tuple[Params, ...] = ({"number": number}, {"number": number, "isClosed": True})
        for params in searches:
            page = await self._page("/project", Project, params=params, fields=fields, count=10)
            matches = [p for p in page.values if p.number == number]
            if matches:
                return matches[0]
        return None

    async def numbers(self) -> list[str]:
        """Every project number in use (open and closed), for generating a new one (S-P5)."""
        seen: set[str] = set()
        for params in ({}, {"isClosed": True}):
            async for project in self.iterate(fields="id,number", **params):
                if project.number:
                    seen.add(project.number)
        return sorted(seen)

    async def create(self, project: Project) -> Project:
        """Plain create. Prefer :meth:`ensure`, which cannot duplicate."""
        return await self._post("/project", project, Project)

    async def ensure(self, project: Project) -> Ensured[Project]:
        """Find by ``number`` or create. ``project.number`` is required: it is the idempotency key."""
        number = project.number
        if not number:
            raise ValueError("ensure() needs project.number; use create() to let Tripletex number it")
        return await self._ensure(
            f"project number={number}", lambda: self.by_number(number), lambda: self.create(project)
        )

    async def update(self, project_id: int, mutate: Mutate[Project]) -> Project:
        """Apply ``mutate`` to the current project and PUT the change with ``version``."""
        return await self._update(f"/project/{project_id}", Project, mutate)

    async def revise(
        self, project_id: int, mutate: Mutate[Project], *, fields: str | None = None
    ) -> Updated[Project]:
        """:meth:`update`, also saying what was sent (nothing when already up to date).

        ``fields`` widens the read the change is computed against (e.g. to expand a nested
        address, which a plain read returns as ``{id, url}`` only).
        """
        return await self._update_reporting(f"/project/{project_id}", Project, mutate, fields=fields)

    async def close(self, project_id: int) -> Project:
        """S-P7: a completed Svenn project closes the Tripletex project."""

        def mark(project: Project) -> None:
            project.is_closed = True

        return await self.update(project_id, mark)

    # --- participants -------------------------------------------------------------------------

    async def participants(self, project_id: int) -> list[ProjectParticipant]:
        project = await self.get(project_id, fields=PARTICIPANT_FIELDS)
        return list(project.participants or [])

    async def add_participants(
        self, project_id: int, employee_ids: Sequence[int], *, admin_access: bool = False
    ) -> list[ProjectParticipant]:
        """Make these employees participants (S-P8); already-present ones are left alone.

        Returns the participants for ``employee_ids`` as they are after the call.
        """
        for _attempt in range(self._t.retry.create_max_attempts):
            current = {p.employee.id: p for p in await self.participants(project_id) if p.employee}
            missing = [e for e in dict.fromkeys(employee_ids) if e not in current]
            if not missing:
                return [current[e] for e in employee_ids]
            new = [
                ProjectParticipant(project=Ref.to(project_id), employee=Ref.to(e), admin_access=admin_access)
                for e in missing
            ]
            try:
                if len(new) == 1:
                    await self._post("/project/participant", new[0], ProjectParticipant)
                else:
                    await self._post_list("/project/participant/list", new, ProjectParticipant)
            except TripletexOutcomeUnknown:
                continue  # look again before anything else
            except TripletexConflictError as exc:
                if not exc.means_exists:
                    raise
        current = {p.employee.id: p for p in await self.participants(project_id) if p.employee}
        missing = [e for e in employee_ids if e not in current]
        if missing:
            raise TripletexOutcomeUnknown(f"participants {missing} not visible on project {project_id}")
        return [current[e] for e in employee_ids]

    async def remove_participants(self, participant_ids: Sequence[int]) -> None:
        if participant_ids:
            await self._delete("/project/participant/list", params={"ids": ids_param(participant_ids)})

    # --- project activities -------------------------------------------------------------------

    async def project_activities(self, project_id: int) -> list[ProjectActivity]:
        project = await self.get(project_id, fields=PROJECT_ACTIVITY_FIELDS)
        return list(project.project_activities or [])

    async def link_activity(self, project_id: int, activity_id: int) -> Ensured[ProjectActivity]:
        """Link an existing activity to a project, so hours can be logged on it."""

        async def find() -> ProjectActivity | None:
            for link in await self.project_activities(project_id):
                if link.activity and link.activity.id == activity_id:
                    return link
            return None

        link = ProjectActivity(project=Ref.to(project_id), activity=Activity(id=activity_id))

        async def create() -> ProjectActivity:
            return await self._post("/project/projectActivity", link, ProjectActivity)

        return await self._ensure(
            f"projectActivity project={project_id} activity={activity_id}", find, create
        )
