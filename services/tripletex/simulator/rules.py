"""Entity rules: required fields, uniqueness, cross-object checks and derived fields.

Required lists are the `required` arrays of swagger-2.71.19.json (the OpenAPI 3 file has
none); where REFERENCE.md reports a stricter rule seen in practice it is applied too and
marked. Messages are Tripletex's where the reference quotes them (see errors.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from services.tripletex.simulator import fields_filter
from services.tripletex.simulator.errors import (
    ACTIVITY_NOT_USABLE,
    EMAIL_TAKEN,
    ENTRY_LOCKED,
    INVALID_ENUM,
    MUST_BE_FILLED,
    NOT_NULL,
    NOT_PARTICIPANT,
    NOT_PROJECT_MANAGER,
    NUMBER_IN_USE,
    TIMESHEET_DUPLICATE,
    TripletexError,
    ValidationMessage,
)
from services.tripletex.simulator.resources import EVENT_SUBJECTS, EVENT_VERBS, Ctx
from services.tripletex.simulator.validation import require

Row = dict[str, Any]


def _ref_id(value: Any) -> int | None:
    return value.get("id") if isinstance(value, dict) else None


class EntityRules:
    """Default: no rules. Subclasses override what their entity needs."""

    required: tuple[str, ...] = ()

    def fill_defaults(self, ctx: Ctx, obj: Row) -> None:
        """Values Tripletex sets on create when the client leaves them out."""

    def prepare_update(self, ctx: Ctx, row: Row, patch: Row) -> None:
        """Rewrite a PUT body before it is checked (e.g. expand posting references)."""

    def validate(self, ctx: Ctx, obj: Row, existing: Row | None) -> list[ValidationMessage]:
        """Check the object as it would be stored (create: the body; update: row + patch)."""
        return require(obj, list(self.required))

    def derive(self, ctx: Ctx, row: Row) -> None:
        """Recompute read-only fields after a write."""

    def after_create(self, ctx: Ctx, row: Row) -> None: ...

    def after_update(self, ctx: Ctx, row: Row, before: Row) -> None: ...

    def check_delete(self, ctx: Ctx, row: Row) -> list[ValidationMessage]:
        return []

    def after_delete(self, ctx: Ctx, row: Row) -> None: ...


def _unique(
    ctx: Ctx, schema: str, obj: Row, existing: Row | None, field: str, message: str
) -> list[ValidationMessage]:
    value = obj.get(field)
    if value in (None, ""):
        return []
    own_id = existing["id"] if existing else None
    normalise = (lambda v: str(v).strip().lower()) if field == "email" else (lambda v: str(v))
    for row in ctx.company.table(schema).values():
        if (
            row["id"] != own_id
            and row.get(field) not in (None, "")
            and normalise(row[field]) == normalise(value)
        ):
            return [ValidationMessage(field, message)]
    return []


def _next_number(ctx: Ctx, schema: str, field: str, start: int) -> int:
    numbers = [int(r[field]) for r in ctx.company.table(schema).values() if str(r.get(field) or "").isdigit()]
    return max([start - 1, *numbers]) + 1


_PROJECT_CHILDREN = {
    "participants": "ProjectParticipant",
    "projectActivities": "ProjectActivity",
    "projectHourlyRates": "ProjectHourlyRate",
}


class ProjectRules(EntityRules):
    def fill_defaults(self, ctx: Ctx, obj: Row) -> None:
        # "If NULL, a number is generated automatically" [spec].
        if obj.get("number") in (None, ""):
            obj["number"] = str(_next_number(ctx, "Project", "number", 1))
        for flag in ("isClosed", "isInternal", "isOffer", "isFixedPrice", "forParticipantsOnly"):
            obj.setdefault(flag, False)

    def prepare_update(self, ctx: Ctx, row: Row, patch: Row) -> None:
        # Assumption: participants, activities and hourly rates change through their own
        # endpoints; lists sent in a project PUT are ignored rather than replacing them.
        for name in _PROJECT_CHILDREN:
            patch.pop(name, None)

    def validate(self, ctx: Ctx, obj: Row, existing: Row | None) -> list[ValidationMessage]:
        # Required [swagger]: name, projectManager, startDate, isInternal (isInternal defaults to
        # false here: assumption, it is a primitive flag). startDate's message is the one
        # REFERENCE §5.1 quotes.
        messages = require(obj, ["name", "projectManager"]) + require(obj, ["startDate"], MUST_BE_FILLED)
        messages += _unique(ctx, "Project", obj, existing, "number", NUMBER_IN_USE)
        if existing is None:
            for index, item in enumerate(obj.get("participants") or []):
                if isinstance(item, dict) and item.get("id") is None and not item.get("employee"):
                    path = f"participants[{index}].employee"
                    messages.append(ValidationMessage("participants.employee", NOT_NULL, path))
            for index, item in enumerate(obj.get("projectActivities") or []):
                if isinstance(item, dict) and item.get("id") is None and not item.get("activity"):
                    path = f"projectActivities[{index}].activity"
                    messages.append(ValidationMessage("projectActivities.activity", NOT_NULL, path))
        manager = ctx.company.get("Employee", _ref_id(obj.get("projectManager")) or -1)
        if manager is not None and manager.get("userType") == "NO_ACCESS":
            # [wild] the PM needs project-manager access; assumption: NO_ACCESS users never have it.
            messages.append(ValidationMessage("projectManager", NOT_PROJECT_MANAGER))
        return messages

    def derive(self, ctx: Ctx, row: Row) -> None:
        row["displayName"] = f"{row.get('number')} {row.get('name')}".strip()
        customer = ctx.company.get("Customer", _ref_id(row.get("customer")) or -1)
        row["customerName"] = customer.get("name") if customer else ""
        manager = ctx.company.get("Employee", _ref_id(row.get("projectManager")) or -1)
        row["projectManagerNameAndNumber"] = (
            f"{manager.get('displayName', '')} ({manager.get('employeeNumber') or ''})".strip()
            if manager
            else ""
        )
        row["numberOfProjectParticipants"] = len(row.get("participants") or [])
        row["hierarchyNameAndNumber"] = row["displayName"]

    def after_create(self, ctx: Ctx, row: Row) -> None:
        """Inline participants / project activities in a project POST become their own objects."""
        from services.tripletex.simulator.resources import create

        inline = {name: row.pop(name, None) or [] for name in _PROJECT_CHILDREN}
        for name, schema in _PROJECT_CHILDREN.items():
            row[name] = [
                item for item in inline[name] if isinstance(item, dict) and item.get("id") is not None
            ]
            for item in inline[name]:
                if isinstance(item, dict) and item.get("id") is None:
                    create(ctx, schema, {**item, "project": {"id": row["id"]}}, emit=False)
        self.derive(ctx, row)

    def check_delete(self, ctx: Ctx, row: Row) -> list[ValidationMessage]:
        if any(_ref_id(e.get("project")) == row["id"] for e in ctx.company.table("TimesheetEntry").values()):
            return [ValidationMessage("id", "Prosjektet har timeføringer og kan ikke slettes.")]
        return []

    def after_delete(self, ctx: Ctx, row: Row) -> None:
        for schema in ("ProjectParticipant", "ProjectActivity", "ProjectHourlyRate"):
            table = ctx.company.table(schema)
            for rid in [rid for rid, r in table.items() if _ref_id(r.get("project")) == row["id"]]:
                del table[rid]


class CustomerRules(EntityRules):
    required = ("name",)

    def fill_defaults(self, ctx: Ctx, obj: Row) -> None:
        if obj.get("customerNumber") is None:
            obj["customerNumber"] = _next_number(ctx, "Customer", "customerNumber", 10000)
        obj.setdefault("isInactive", False)

    def validate(self, ctx: Ctx, obj: Row, existing: Row | None) -> list[ValidationMessage]:
        messages = super().validate(ctx, obj, existing)
        if obj.get("customerNumber") is not None and int(obj["customerNumber"]) < 0:
            messages.append(ValidationMessage("customerNumber", INVALID_ENUM))
        return messages + _unique(ctx, "Customer", obj, existing, "customerNumber", NUMBER_IN_USE)

    def derive(self, ctx: Ctx, row: Row) -> None:
        row["isCustomer"] = True
        row["displayName"] = f"{row.get('name')} ({row.get('customerNumber')})"

    def check_delete(self, ctx: Ctx, row: Row) -> list[ValidationMessage]:
        # [wild] DELETE fails once projects, orders, invoices or postings exist.
        blockers = []
        for schema, label in (
            ("Project", "prosjekter"),
            ("Invoice", "fakturaer"),
            ("Posting", "posteringer"),
        ):
            if any(_ref_id(r.get("customer")) == row["id"] for r in ctx.company.table(schema).values()):
                blockers.append(label)
        if blockers:
            return [ValidationMessage("id", f"Kunden kan ikke slettes fordi den har {', '.join(blockers)}.")]
        return []


class EmployeeRules(EntityRules):
    required = ("firstName", "lastName")

    def validate(self, ctx: Ctx, obj: Row, existing: Row | None) -> list[ValidationMessage]:
        messages = super().validate(ctx, obj, existing)
        if not obj.get("userType"):
            # [wild] novanet/mariusog: userType must not be empty.
            messages.append(ValidationMessage("userType", "Brukertype kan ikke være «0» eller tom"))
        messages += _unique(ctx, "Employee", obj, existing, "email", EMAIL_TAKEN)
        messages += _unique(ctx, "Employee", obj, existing, "employeeNumber", NUMBER_IN_USE)
        return messages

    def derive(self, ctx: Ctx, row: Row) -> None:
        row["displayName"] = f"{row.get('firstName') or ''} {row.get('lastName') or ''}".strip()
        row["companyId"] = ctx.company.id
        row["allowInformationRegistration"] = row.get("userType") != "NO_ACCESS"


ACTIVITY_TYPES = ("GENERAL_ACTIVITY", "PROJECT_GENERAL_ACTIVITY", "PROJECT_SPECIFIC_ACTIVITY", "TASK")


class ActivityRules(EntityRules):
    # Required [swagger]: activityType. Assumption: name is required too.
    required = ("activityType", "name")

    def validate(self, ctx: Ctx, obj: Row, existing: Row | None) -> list[ValidationMessage]:
        messages = super().validate(ctx, obj, existing)
        return messages + _unique(ctx, "Activity", obj, existing, "number", NUMBER_IN_USE)

    def derive(self, ctx: Ctx, row: Row) -> None:
        kind = row.get("activityType")
        row["isProjectActivity"] = kind in ("PROJECT_GENERAL_ACTIVITY", "PROJECT_SPECIFIC_ACTIVITY")
        row["isGeneral"] = kind in ("GENERAL_ACTIVITY", "PROJECT_GENERAL_ACTIVITY")
        row["isTask"] = kind == "TASK"
        row.setdefault("isDisabled", False)
        row["deletable"] = True
        row["displayName"] = f"{row['number']} {row.get('name')}" if row.get("number") else row.get("name")


def _link_back(ctx: Ctx, row: Row, list_field: str) -> None:
    project = ctx.company.get("Project", _ref_id(row.get("project")) or -1)
    if project is not None:
        project.setdefault(list_field, []).append({"id": row["id"]})
        ProjectRules().derive(ctx, project)


def _unlink(ctx: Ctx, row: Row, list_field: str) -> None:
    project = ctx.company.get("Project", _ref_id(row.get("project")) or -1)
    if project is not None:
        project[list_field] = [r for r in project.get(list_field) or [] if r.get("id") != row["id"]]
        ProjectRules().derive(ctx, project)


class ParticipantRules(EntityRules):
    required = ("project", "employee")

    def validate(self, ctx: Ctx, obj: Row, existing: Row | None) -> list[ValidationMessage]:
        messages = super().validate(ctx, obj, existing)
        for row in ctx.company.table("ProjectParticipant").values():
            if (
                (existing is None or row["id"] != existing["id"])
                and _ref_id(row.get("project")) == _ref_id(obj.get("project"))
                and _ref_id(row.get("employee")) == _ref_id(obj.get("employee"))
            ):
                messages.append(
                    ValidationMessage("employee", "Den ansatte er allerede deltaker på prosjektet.")
                )
        return messages

    def after_create(self, ctx: Ctx, row: Row) -> None:
        _link_back(ctx, row, "participants")

    def after_delete(self, ctx: Ctx, row: Row) -> None:
        _unlink(ctx, row, "participants")


class ProjectActivityRules(EntityRules):
    required = ("project", "activity")

    def fill_defaults(self, ctx: Ctx, obj: Row) -> None:
        activity = obj.get("activity")
        if isinstance(activity, dict) and activity.get("id") is None:
            # An inline new activity becomes a PROJECT_SPECIFIC_ACTIVITY [spec note].
            from services.tripletex.simulator.resources import create

            activity.setdefault("activityType", "PROJECT_SPECIFIC_ACTIVITY")
            created = create(ctx, "Activity", dict(activity), emit=False)
            obj["activity"] = {"id": created["id"]}

    def validate(self, ctx: Ctx, obj: Row, existing: Row | None) -> list[ValidationMessage]:
        messages = super().validate(ctx, obj, existing)
        for row in ctx.company.table("ProjectActivity").values():
            if _ref_id(row.get("project")) == _ref_id(obj.get("project")) and _ref_id(
                row.get("activity")
            ) == _ref_id(obj.get("activity")):
                messages.append(
                    ValidationMessage("activity", "Aktiviteten er allerede knyttet til prosjektet.")
                )
        return messages

    def after_create(self, ctx: Ctx, row: Row) -> None:
        _link_back(ctx, row, "projectActivities")

    def after_delete(self, ctx: Ctx, row: Row) -> None:
        _unlink(ctx, row, "projectActivities")


class HourlyRateRules(EntityRules):
    required = ("project", "hourlyRateModel", "startDate")

    def after_create(self, ctx: Ctx, row: Row) -> None:
        _link_back(ctx, row, "projectHourlyRates")

    def after_delete(self, ctx: Ctx, row: Row) -> None:
        _unlink(ctx, row, "projectHourlyRates")


def activity_usable(ctx: Ctx, activity: Row, project: Row | None) -> bool:
    """Can hours on `project` (or on no project) use `activity`?

    Without a project only GENERAL_ACTIVITY fits. On a project: a PROJECT_GENERAL_ACTIVITY
    (unless the project has `generalProjectActivitiesPerProjectOnly`) or any activity linked
    through /project/projectActivity ([wild] "aktiviteten kan ikke benyttes" otherwise).
    """
    if project is None:
        return activity.get("activityType") == "GENERAL_ACTIVITY"
    if activity.get("activityType") == "PROJECT_GENERAL_ACTIVITY" and not project.get(
        "generalProjectActivitiesPerProjectOnly"
    ):
        return True
    return any(
        _ref_id(link.get("project")) == project["id"] and _ref_id(link.get("activity")) == activity.get("id")
        for link in ctx.company.table("ProjectActivity").values()
    )


class TimesheetRules(EntityRules):
    required = ("activity", "date", "employee", "hours")

    def validate(self, ctx: Ctx, obj: Row, existing: Row | None) -> list[ValidationMessage]:
        if existing is not None and existing.get("locked"):
            # `locked`: "Indicates if the hour can be changed" [spec] (approved, invoiced, paid).
            return [ValidationMessage("locked", ENTRY_LOCKED)]
        messages = super().validate(ctx, obj, existing)
        if messages:
            return messages
        if obj.get("hours") is not None and float(obj["hours"]) < 0:
            messages.append(ValidationMessage("hours", INVALID_ENUM))
        activity = ctx.company.get("Activity", _ref_id(obj["activity"]) or -1) or {}
        project_id = _ref_id(obj.get("project"))
        project = ctx.company.get("Project", project_id) if project_id else None
        if not activity_usable(ctx, activity, project):
            messages.append(ValidationMessage("activity", ACTIVITY_NOT_USABLE))
        if project is not None and project.get("forParticipantsOnly"):
            # [inferred] REFERENCE gaps: forParticipantsOnly probably governs who can log hours.
            employee_id = _ref_id(obj["employee"])
            participants = {
                _ref_id(p.get("employee"))
                for p in ctx.company.table("ProjectParticipant").values()
                if _ref_id(p.get("project")) == project_id
            }
            if employee_id not in participants and employee_id != _ref_id(project.get("projectManager")):
                messages.append(ValidationMessage("employee", NOT_PARTICIPANT))
        key = (_ref_id(obj["employee"]), obj["date"], _ref_id(obj["activity"]), project_id)
        for row in ctx.company.table("TimesheetEntry").values():
            if existing is not None and row["id"] == existing["id"]:
                continue
            other = (
                _ref_id(row.get("employee")),
                row.get("date"),
                _ref_id(row.get("activity")),
                _ref_id(row.get("project")),
            )
            if other == key:
                # "Only one entry per employee/date/activity/project combination" [spec];
                # the real status/code is a documented gap: 422/18000 is an assumption.
                messages.append(ValidationMessage("date", TIMESHEET_DUPLICATE))
                break
        return messages

    def derive(self, ctx: Ctx, row: Row) -> None:
        activity = ctx.company.get("Activity", _ref_id(row.get("activity")) or -1) or {}
        chargeable = bool(activity.get("isChargeable"))
        row["chargeable"] = chargeable
        row["chargeableHours"] = row.get("hours") if chargeable else 0
        row["hourlyRate"] = activity.get("rate") or 0
        row.setdefault("locked", False)

    def check_delete(self, ctx: Ctx, row: Row) -> list[ValidationMessage]:
        return [ValidationMessage("locked", ENTRY_LOCKED)] if row.get("locked") else []


class AccountRules(EntityRules):
    required = ("name", "number")

    def validate(self, ctx: Ctx, obj: Row, existing: Row | None) -> list[ValidationMessage]:
        return super().validate(ctx, obj, existing) + _unique(
            ctx, "Account", obj, existing, "number", NUMBER_IN_USE
        )

    def derive(self, ctx: Ctx, row: Row) -> None:
        row["numberPretty"] = str(row.get("number"))
        row["displayName"] = f"{row.get('number')} {row.get('name')}"
        row.setdefault("ledgerType", "GENERAL")

    def check_delete(self, ctx: Ctx, row: Row) -> list[ValidationMessage]:
        if any(_ref_id(p.get("account")) == row["id"] for p in ctx.company.table("Posting").values()):
            return [ValidationMessage("id", "Kontoen har posteringer og kan ikke slettes.")]
        return []


def event_names() -> list[str]:
    return [f"{subject}.{verb}" for subject in EVENT_SUBJECTS for verb in EVENT_VERBS]


class SubscriptionRules(EntityRules):
    required = ("event", "targetUrl")

    def fill_defaults(self, ctx: Ctx, obj: Row) -> None:
        obj.setdefault("status", "ACTIVE")

    def after_update(self, ctx: Ctx, row: Row, before: Row) -> None:
        # Assumption: switching a subscription on again starts its failure count afresh; else the
        # first failed delivery after it would switch it off again at once.
        if row.get("status") == "ACTIVE" and before.get("status") != "ACTIVE":
            row["_consecutiveFailures"] = 0

    def validate(self, ctx: Ctx, obj: Row, existing: Row | None) -> list[ValidationMessage]:
        messages = super().validate(ctx, obj, existing)
        if messages:
            return messages
        if obj["event"] not in event_names():
            messages.append(ValidationMessage("event", INVALID_ENUM))
        url = urlparse(obj["targetUrl"])
        loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
        # "Must be absolute and use HTTPS" [spec]. Assumption: plain http is allowed to
        # loopback hosts so local receivers and tests work without certificates.
        if not url.netloc or not (url.scheme == "https" or (url.scheme == "http" and loopback)):
            messages.append(ValidationMessage("targetUrl", "Må være en absolutt URL som bruker HTTPS."))
        if obj.get("fields") and obj["event"] in event_names():
            schema = EVENT_SUBJECTS[obj["event"].split(".")[0]]
            try:
                fields_filter.check(ctx.catalog, schema, fields_filter.parse(obj["fields"]))
            except TripletexError:
                messages.append(ValidationMessage("fields", INVALID_ENUM))
        return messages


_RULES: dict[str, EntityRules] = {
    "Project": ProjectRules(),
    "Customer": CustomerRules(),
    "Employee": EmployeeRules(),
    "Activity": ActivityRules(),
    "ProjectParticipant": ParticipantRules(),
    "ProjectActivity": ProjectActivityRules(),
    "ProjectHourlyRate": HourlyRateRules(),
    "TimesheetEntry": TimesheetRules(),
    "Account": AccountRules(),
    "Subscription": SubscriptionRules(),
}


def register(schema: str, rules: EntityRules) -> None:
    _RULES[schema] = rules


def rules_for(schema: str) -> EntityRules:
    return _RULES.get(schema) or EntityRules()


__all__ = ["EntityRules", "event_names", "register", "rules_for"]
