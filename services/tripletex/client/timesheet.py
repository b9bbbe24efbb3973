"""Timesheet entries (reference §5.5) and the idempotent hours export (D-H1).

Tripletex allows one entry per (employee, date, activity, project), which is the natural key.
Searches require ``dateFrom`` and an *exclusive* ``dateTo``. There are no webhooks for hours,
so the export reads the window, diffs and writes only the difference: exporting the same
period twice changes nothing the second time.

Note ``PUT /timesheet/entry/{id}``: "fields which are present but not set, or set to 0, will
be nulled". Updates therefore send the entry's full writable set (key, hours, comment) with
the changed values, so nothing is nulled by omission or by an empty value we did not mean.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .envelopes import parse_page
from .errors import TripletexConflictError, TripletexOutcomeUnknown, TripletexValidationError
from .locking import Mutate
from .models import TimesheetEntry, write_body
from .natural_keys import Ensured
from .resource import Resource, ids_param

log = logging.getLogger(__name__)

Key = tuple[int | None, dt.date | None, int | None, int | None]

BATCH_SIZE = 100

# Sent on every entry PUT. The spec says present-but-empty fields are nulled; a server that
# also nulls *absent* ones (the simulator does) must not lose the entry's key or hours.
FULL_ENTRY_FIELDS = ("employee", "project", "activity", "date", "hours", "comment", "projectChargeableHours")


def _day_after(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=1)


@dataclass
class TimesheetSyncResult:
    created: list[TimesheetEntry] = field(default_factory=list)
    updated: list[TimesheetEntry] = field(default_factory=list)
    unchanged: list[TimesheetEntry] = field(default_factory=list)
    # Approved/invoiced entries whose hours differ: Tripletex will not change them.
    locked: list[TimesheetEntry] = field(default_factory=list)


def _differs(existing: TimesheetEntry, desired: TimesheetEntry) -> dict[str, Any]:
    """Writable fields of ``desired`` that differ from ``existing`` (keys excluded)."""
    old = write_body(existing)
    new = write_body(desired, for_create=True)
    return {
        k: v
        for k, v in new.items()
        if k not in ("employee", "date", "activity", "project") and old.get(k) != v
    }


class TimesheetApi(Resource):
    async def get(self, entry_id: int, *, fields: str | None = None) -> TimesheetEntry:
        return await self._get(f"/timesheet/entry/{entry_id}", TimesheetEntry, fields=fields)

    def iterate(
        self,
        date_from: dt.date,
        date_to_exclusive: dt.date,
        *,
        employee_ids: Sequence[int] = (),
        project_ids: Sequence[int] = (),
        activity_ids: Sequence[int] = (),
        fields: str | None = None,
        page_size: int = 1000,
    ) -> AsyncIterator[TimesheetEntry]:
        params = {
            "dateFrom": date_from.isoformat(),
            "dateTo": date_to_exclusive.isoformat(),
            "employeeId": ids_param(employee_ids) or None,
            "projectId": ids_param(project_ids) or None,
            "activityId": ids_param(activity_ids) or None,
        }
        return self._iterate(
            "/timesheet/entry", TimesheetEntry, params=params, fields=fields, page_size=page_size
        )

    async def find(self, key: Key) -> TimesheetEntry | None:
        """The entry for (employee, date, activity, project), if any."""
        employee_id, day, activity_id, project_id = key
        if employee_id is None or day is None or activity_id is None:
            raise ValueError("a timesheet key needs employee, date and activity")
        async for entry in self.iterate(
            day,
            _day_after(day),
            employee_ids=[employee_id],
            activity_ids=[activity_id],
            project_ids=[project_id] if project_id is not None else [],
        ):
            if entry.natural_key() == key:
                return entry
        return None

    async def create(self, entry: TimesheetEntry) -> TimesheetEntry:
        return await self._post("/timesheet/entry", entry, TimesheetEntry)

    async def create_many(self, entries: Sequence[TimesheetEntry]) -> list[TimesheetEntry]:
        """``POST /timesheet/entry/list``; entries for several employees may share a call."""
        return await self._post_list("/timesheet/entry/list", entries, TimesheetEntry)

    async def ensure(self, entry: TimesheetEntry) -> Ensured[TimesheetEntry]:
        key = entry.natural_key()
        return await self._ensure(f"timesheet {key}", lambda: self.find(key), lambda: self.create(entry))

    async def update(self, entry_id: int, mutate: Mutate[TimesheetEntry]) -> TimesheetEntry:
        return await self._update(
            f"/timesheet/entry/{entry_id}", TimesheetEntry, mutate, always_send=FULL_ENTRY_FIELDS
        )

    async def delete(self, entry_id: int, *, version: int | None = None) -> None:
        await self._delete(f"/timesheet/entry/{entry_id}", params={"version": version})

    async def sync(self, desired: Iterable[TimesheetEntry]) -> TimesheetSyncResult:
        """Make Tripletex hold exactly these hours for these keys (D-H1); never doubles.

        Reads the date window once, creates the missing entries in ``/list`` batches and
        updates the changed ones with their ``version``. Entries in Tripletex that are not in
        ``desired`` are left alone: they may have been typed in by a person. After an unknown
        outcome or a conflict the whole diff is recomputed from a fresh read.
        """
        wanted: dict[Key, TimesheetEntry] = {}
        for entry in desired:
            key = entry.natural_key()
            if None in key[:3]:
                raise ValueError(f"timesheet entry lacks employee, date or activity: {key}")
            if key in wanted:
                raise ValueError(f"two entries for the same employee/date/activity/project: {key}")
            wanted[key] = entry
        result = TimesheetSyncResult()
        if not wanted:
            return result
        days = [k[1] for k in wanted if k[1] is not None]
        employees = sorted({k[0] for k in wanted if k[0] is not None})
        date_from, date_to = min(days), _day_after(max(days))

        attempts = max(self._t.retry.create_max_attempts, self._t.retry.revision_max_attempts)
        # Writes confirmed in an earlier round still count as ours after a re-read.
        done_created: list[TimesheetEntry] = []
        done_updated: list[TimesheetEntry] = []
        validation_retried = False
        for attempt in range(1, attempts + 1):
            existing: dict[Key, TimesheetEntry] = {}
            async for entry in self.iterate(date_from, date_to, employee_ids=employees):
                existing.setdefault(entry.natural_key(), entry)
            result = TimesheetSyncResult()
            to_create: list[TimesheetEntry] = []
            to_update: list[dict[str, Any]] = []
            for key, entry in wanted.items():
                current = existing.get(key)
                if current is None:
                    to_create.append(entry)
                    continue
                diff = _differs(current, entry)
                if not diff:
                    result.unchanged.append(current)
                elif current.locked:
                    result.locked.append(current)
                else:
                    full = write_body(current)
                    kept = {k: full[k] for k in FULL_ENTRY_FIELDS if k in full}
                    to_update.append({"id": current.id, "version": current.version, **kept, **diff})
            try:
                for i in range(0, len(to_create), BATCH_SIZE):
                    done_created.extend(await self.create_many(to_create[i : i + BATCH_SIZE]))
                for i in range(0, len(to_update), BATCH_SIZE):
                    response = await self._t.request(
                        "PUT", "/timesheet/entry/list", json=to_update[i : i + BATCH_SIZE]
                    )
                    done_updated.extend(parse_page(response, TimesheetEntry).values)
                ours = {e.id for e in done_created} | {e.id for e in done_updated}
                result.unchanged = [e for e in result.unchanged if e.id not in ours]
                result.created, result.updated = done_created, done_updated
                return result
            except TripletexOutcomeUnknown:
                log.warning("timesheet batch outcome unknown; re-reading window", extra={"attempt": attempt})
            except TripletexConflictError as exc:
                if not (exc.is_revision or exc.means_exists):
                    raise
                log.info(
                    "timesheet conflict; re-reading window", extra={"attempt": attempt, "code": exc.code}
                )
            except TripletexValidationError:
                # A duplicate entry is a 422 (code undocumented), and whether a failed /list
                # batch is all-or-nothing is undocumented too. Re-read once and write only
                # what is still missing; a second 422 is a real validation error.
                if validation_retried:
                    raise
                validation_retried = True
                log.info("timesheet batch rejected; re-reading window once", extra={"attempt": attempt})
            await self._sleep(self._t.retry.server_error_base_seconds * attempt)
        raise TripletexOutcomeUnknown(f"timesheet sync did not settle after {attempts} attempts")
