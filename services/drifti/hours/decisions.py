"""An hours export as decision records on ``sync.decisions.v1``: why each link and write happened.

Hours are not streamed, so nothing else on the topics would say what an export did. One
record per user (D-E1 link, D-H1 result), per hourly rate (D-A1) and per job (D-J2); a user
without an employee, unapproved hours and hours Tripletex has locked are rejections and open
entries in the error log. The rejections come last in an export's time order: the same user's
D-H1 record resolves that user's earlier entries, and what is still wrong reopens at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from contracts.envelope import DecisionRecord, EntityType, SourceSystem, TraceContext, Verdict
from contracts.error_codes import DRIFTI_HOURS_LOCKED, DRIFTI_HOURS_NOT_APPROVED, DRIFTI_USER_NOT_LINKED
from contracts.ids import decision_id
from contracts.topics import SYNC_DECISIONS, record_key
from services.core.publisher import Publisher
from services.drifti.hours.linking import LinkMethod, Unlinked, UserNotLinked
from services.drifti.hours.plan import ReportReason
from services.drifti.hours.result import HoursExport

RULE_HOURS = "D-H1"
RULE_EMPLOYEE = "D-E1"
RULE_ACTIVITY = "D-A1"
RULE_PROJECT = "D-J2"

_HOW = {
    LinkMethod.STORED: "linked by an earlier export",
    LinkMethod.EMAIL: "same e-mail",
    LinkMethod.NAME: "same full name (no e-mail match)",
    LinkMethod.FOUND: "found in Tripletex by number or name",
    LinkMethod.CREATED: "created now",
}
_REJECTIONS = {
    ReportReason.NOT_APPROVED: DRIFTI_HOURS_NOT_APPROVED,
    ReportReason.LOCKED: DRIFTI_HOURS_LOCKED,
}


def export_decisions(
    export: HoursExport, run_id: UUID, at: datetime, trace: TraceContext | None = None
) -> list[DecisionRecord]:
    """The records of one export run (``run_id``: correlation and cause of all of them)."""
    ticks = (at + timedelta(microseconds=i) for i in range(1_000_000))
    period = f"{export.start.isoformat()}..{export.end.isoformat()}"
    out: list[DecisionRecord] = []

    def record(
        rule: str, entity: EntityType, entity_id: str, verdict: Verdict, reason: str, code: str | None = None
    ) -> None:
        out.append(
            DecisionRecord(
                tenant_id=export.tenant_id,
                correlation_id=run_id,
                causation_id=run_id,
                trace=trace,
                decision_id=decision_id(run_id, f"{rule}|{entity.value}|{entity_id}|{code or verdict.value}"),
                cause_event_id=run_id,
                source=SourceSystem.DRIFTI,
                entity_type=entity,
                entity_id=entity_id,
                rule_id=rule,
                verdict=verdict,
                reason=reason,
                error_code=code,
                decided_at=next(ticks),
            )
        )

    for user_id, link in export.employees.items():
        record(
            RULE_EMPLOYEE,
            EntityType.EMPLOYEE,
            user_id,
            Verdict.SKIP,
            f"Drifti user {export.user_name(user_id)!r} is Tripletex employee {link.employee_id} "
            f"({_HOW[link.method]})",
        )
    for rate in export.activities.values():
        created = rate.method is LinkMethod.CREATED
        record(
            RULE_ACTIVITY,
            EntityType.ACTIVITY,
            rate.drifti_id,
            Verdict.COMMAND if created else Verdict.SKIP,
            f"hourly rate {rate.label!r} is Tripletex activity {rate.tripletex_id} ({_HOW[rate.method]})",
        )
    for job in export.projects.values():
        created = job.method is LinkMethod.CREATED
        record(
            RULE_PROJECT,
            EntityType.PROJECT,
            job.drifti_id,
            Verdict.COMMAND if created else Verdict.SKIP,
            f"job {job.label} is Tripletex project {job.tripletex_id} ({_HOW[job.method]})",
        )
    for user_id, (verdict, reason) in _hours_per_user(export, period):
        record(RULE_HOURS, EntityType.EMPLOYEE, user_id, verdict, reason)
    for user in export.unlinked:
        why = _why_unlinked(user)
        hours = sum((e.hours for e in export.entries if e.user_id == user.user_id), start=Decimal(0))
        record(
            RULE_EMPLOYEE,
            EntityType.EMPLOYEE,
            user.user_id,
            Verdict.REJECT,
            f"Drifti user {user.name!r}: {why}; {hours} h in {period} were not exported",
            DRIFTI_USER_NOT_LINKED,
        )
    for (reason, reported_user), (n, hours) in export.reported().items():
        code = _REJECTIONS.get(reason)
        if code is None or reported_user is None:
            continue
        what = "not approved in Drifti" if reason is ReportReason.NOT_APPROVED else "locked in Tripletex"
        record(
            RULE_HOURS,
            EntityType.EMPLOYEE,
            reported_user,
            Verdict.REJECT,
            f"{n} entries ({hours} h) of {export.user_name(reported_user)!r} in {period} are {what}",
            code,
        )
    return out


def _why_unlinked(user: UserNotLinked) -> str:
    if user.why is Unlinked.AMBIGUOUS_NAME:
        named = ", ".join(map(str, user.candidates))
        return f"several Tripletex employees are named {user.name!r} ({named}) and none has the user's e-mail"
    if user.why is Unlinked.EMPLOYEE_TAKEN:
        return f"the matching Tripletex employee {user.candidates[0]} already stands for another Drifti user"
    return f"no Tripletex employee has the e-mail {user.email!r} or the name {user.name!r}"


def _hours_per_user(export: HoursExport, period: str) -> Iterator[tuple[str, tuple[Verdict, str]]]:
    plan = export.plan
    for user_id in export.employees:
        created = sum(1 for d in plan.creates if d.user_id == user_id)
        updated = sum(1 for u in plan.updates if u.desired.user_id == user_id)
        removed = sum(
            1
            for e in plan.removals
            if e.employee is not None and e.employee.id == export.employees[user_id].employee_id
        )
        unchanged = sum(1 for d in plan.unchanged if d.user_id == user_id)
        hours = sum((d.hours for d in plan.sent() if d.user_id == user_id), start=Decimal(0))
        if not (created or updated or removed or unchanged):
            continue
        verdict = Verdict.COMMAND if created or updated or removed else Verdict.SKIP
        yield (
            user_id,
            (
                verdict,
                f"hours {period}: {created} entries created, {updated} updated, {removed} removed, "
                f"{unchanged} unchanged; Tripletex holds {hours} h from Drifti",
            ),
        )


async def publish(publisher: Publisher, decisions: list[DecisionRecord]) -> None:
    pending = [
        await publisher.send(SYNC_DECISIONS, record_key(d.tenant_id, d.entity_type, d.entity_id), d)
        for d in decisions
    ]
    for future in pending:
        await future
