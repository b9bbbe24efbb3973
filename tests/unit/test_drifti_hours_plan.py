"""The hours export's pure parts, table-tested by rule id: D-H1 (the diff), D-E1 (user links),
D-A1 (activity names), and the decision records an export publishes."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from contracts.error_codes import DRIFTI_HOURS_LOCKED, DRIFTI_HOURS_NOT_APPROVED, DRIFTI_USER_NOT_LINKED
from services.drifti.client.models import TimeEntry, User
from services.drifti.hours.decisions import export_decisions
from services.drifti.hours.linking import (
    DriftiPerson,
    EmployeeLink,
    LinkMethod,
    TripletexPerson,
    Unlinked,
    UserNotLinked,
    activity_name,
    link_users,
)
from services.drifti.hours.plan import ReportReason, Targets, comment_for, plan_export
from services.drifti.hours.result import HoursExport, MadeLink
from services.tripletex.client.models import Ref, TimesheetEntry

OCT = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
TARGETS = Targets(
    employees={"usr_a": 11, "usr_b": 12},
    activities={"rat_fag": 501, "rat_ot": 502},
    projects={"job_1": 901, "job_2": 902},
)
_T0 = datetime(2026, 10, 1, tzinfo=UTC)
_n = 0


def drifti(
    user: str = "usr_a",
    job: str = "job_1",
    rate: str = "rat_fag",
    day: int = 5,
    hours: str = "7.5",
    status: str = "approved",
    description: str | None = "Arbeid",
) -> TimeEntry:
    global _n
    _n += 1
    return TimeEntry.model_validate(
        {
            "id": f"tim_{_n:04d}",
            "version": 1,
            "created_at": _T0,
            "updated_at": _T0,
            "user_id": user,
            "job_id": job,
            "hourly_rate_id": rate,
            "date": dt.date(2026, 10, day),
            "hours": hours,
            "description": description,
            "status": status,
        }
    )


def tripletex(
    entry_id: int,
    employee: int = 11,
    project: int = 901,
    activity: int = 501,
    day: int = 5,
    hours: str = "7.5",
    comment: str = "Arbeid",
    locked: bool = False,
) -> TimesheetEntry:
    return TimesheetEntry(
        id=entry_id,
        version=3,
        employee=Ref.to(employee),
        project=Ref.to(project),
        activity=Ref.to(activity),
        date=dt.date(2026, 10, day),
        hours=Decimal(hours),
        comment=comment,
        locked=locked,
    )


def test_D_H1_new_period_creates_one_entry_per_employee_project_activity_and_date() -> None:
    entries = [
        drifti(hours="3"),
        drifti(hours="4.5", description="Rør"),  # same key: summed into one Tripletex entry
        drifti(day=6),
        drifti(rate="rat_ot", hours="2"),
        drifti(user="usr_b", job="job_2", hours="1.25"),
    ]
    plan = plan_export(entries, TARGETS, [], OCT)
    got = {d.key: (d.hours, d.comment) for d in plan.creates}
    assert got == {
        (11, dt.date(2026, 10, 5), 501, 901): (Decimal("7.5"), "Arbeid; Rør"),
        (11, dt.date(2026, 10, 6), 501, 901): (Decimal("7.5"), "Arbeid"),
        (11, dt.date(2026, 10, 5), 502, 901): (Decimal("2"), "Arbeid"),
        (12, dt.date(2026, 10, 5), 501, 902): (Decimal("1.25"), "Arbeid"),
    }
    assert not plan.updates and not plan.removals and not plan.reported
    assert sum(d.hours for d in plan.sent()) == sum(e.hours for e in entries)


def test_D_H1_exporting_the_same_period_again_writes_nothing() -> None:
    entries = [drifti(hours="3"), drifti(hours="4.5", description="Arbeid")]
    held = [tripletex(1, hours="7.50")]  # Tripletex answers 7.50 for 7.5: the same hours
    plan = plan_export(entries, TARGETS, held, OCT)
    assert plan.writes == 0
    assert [d.key for d in plan.unchanged] == [(11, dt.date(2026, 10, 5), 501, 901)]


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        ({"hours": "6"}, "update"),  # corrected in Drifti and approved again
        ({"comment": "old note"}, "update"),
        ({"hours": "6", "locked": True}, "locked"),  # approved/invoiced in Tripletex: reported
        ({}, "unchanged"),
    ],
)
def test_D_H1_corrected_hours_update_the_entry_unless_tripletex_locked_it(
    held: dict[str, object], expected: str
) -> None:
    plan = plan_export([drifti()], TARGETS, [tripletex(7, **held)], OCT)  # type: ignore[arg-type]
    outcome = {
        "update": len(plan.updates),
        "locked": len(plan.of(ReportReason.LOCKED)),
        "unchanged": len(plan.unchanged),
    }
    assert outcome[expected] == 1 and plan.writes == (1 if expected == "update" else 0)
    assert not plan.creates
    if expected == "update":
        body = plan.updates[0].body()
        assert body["id"] == 7 and body["version"] == 3 and body["hours"] == 7.5
        assert body["employee"] == {"id": 11} and body["project"] == {"id": 901}  # nothing nulled


def test_D_H1_unapproved_hours_are_reported_not_sent() -> None:
    entries = [drifti(), drifti(day=7, status="pending", hours="2"), drifti(day=8, status="rejected")]
    plan = plan_export(entries, TARGETS, [], OCT)
    assert [d.key[1].day for d in plan.creates] == [5]
    assert [(r.entry_ids, r.hours) for r in plan.of(ReportReason.NOT_APPROVED)] == [
        ((entries[1].id,), Decimal("2"))
    ]
    assert [r.entry_ids for r in plan.of(ReportReason.REJECTED)] == [(entries[2].id,)]


def test_D_H1_engine_entry_without_approved_hours_behind_it_is_removed_hand_typed_ones_kept() -> None:
    held = [
        tripletex(1, day=5),  # still approved: unchanged
        tripletex(2, day=9),  # reopened in Drifti since the last export: removed
        tripletex(3, day=9, activity=777),  # a person's own activity: never touched
        tripletex(4, day=10, locked=True),  # ours, but locked in Tripletex: reported
        tripletex(5, day=11, employee=99),  # an employee the export does not know: untouched
    ]
    plan = plan_export([drifti(day=5), drifti(day=9, status="pending")], TARGETS, held, OCT)
    assert [e.id for e in plan.removals] == [2]
    assert [r.entry_ids for r in plan.of(ReportReason.LOCKED)] == [("4",)]
    assert len(plan.unchanged) == 1 and not plan.creates and not plan.updates


def test_D_H1_entries_outside_the_period_are_neither_sent_nor_removed() -> None:
    september = tripletex(1).model_copy(update={"date": dt.date(2026, 9, 30)})
    stray = drifti().model_copy(update={"date": dt.date(2026, 11, 1)})
    plan = plan_export([stray], TARGETS, [september], OCT)
    assert plan.writes == 0 and not plan.reported


def test_D_E1_hours_of_an_unlinked_user_are_reported_and_block_nothing_else() -> None:
    entries = [drifti(user="usr_x"), drifti(user="usr_b", job="job_2")]
    plan = plan_export(entries, TARGETS, [], OCT)
    assert [r.user_id for r in plan.of(ReportReason.USER_NOT_LINKED)] == ["usr_x"]
    assert [d.user_id for d in plan.creates] == ["usr_b"]


def test_D_J2_D_A1_hours_without_a_project_or_activity_are_reported_and_keep_that_persons_entries() -> None:
    targets = Targets(TARGETS.employees, {"rat_fag": 501}, {"job_1": 901})
    held = [tripletex(1, day=20)]  # usr_a's earlier export: not removed while some hours cannot be placed
    plan = plan_export([drifti(job="job_new"), drifti(rate="rat_new", day=6)], targets, held, OCT)
    assert {r.reason for r in plan.reported} == {ReportReason.NO_PROJECT, ReportReason.NO_ACTIVITY}
    assert plan.writes == 0


def test_D_H1_comment_lists_each_description_once_in_work_order_and_is_capped() -> None:
    assert comment_for([drifti(day=6, description="B"), drifti(day=5, description=" A  x"), drifti()]) == (
        "A x; Arbeid; B"
    )
    long = comment_for([drifti(description="x" * 400), drifti(description="y" * 400)])
    assert len(long) == 500 and long.endswith("…")


PEOPLE = [
    TripletexPerson(1, "Marius", "Johansen", "MARIUS@demo.example"),
    TripletexPerson(2, "Ingrid", "Solberg", None),
    TripletexPerson(3, "Ola", "Hansen", None),
    TripletexPerson(4, "Ola", "Hansen", "ola.h@other.example"),
    TripletexPerson(5, "Kari", "Nordmann", "kari@demo.example"),
]


@pytest.mark.parametrize(
    ("user", "stored", "expected"),
    [
        (DriftiPerson("u1", "M. Johansen", " marius@demo.example "), {}, (1, LinkMethod.EMAIL)),
        (DriftiPerson("u2", "ingrid  SOLBERG", "ingrid@demo.example"), {}, (2, LinkMethod.NAME)),
        (DriftiPerson("u3", "Ola Hansen", "ola@demo.example"), {}, Unlinked.AMBIGUOUS_NAME),
        (DriftiPerson("u3", "Ola Hansen", "ola.h@other.example"), {}, (4, LinkMethod.EMAIL)),
        (DriftiPerson("u4", "Per Persen", "per@demo.example"), {}, Unlinked.NO_MATCH),
        (DriftiPerson("u5", "Kari N", "new@demo.example"), {"u5": 5}, (5, LinkMethod.STORED)),
        # a stored link to an employee that no longer exists is looked up afresh
        (DriftiPerson("u1", "Marius Johansen", None), {"u1": 404}, (1, LinkMethod.NAME)),
    ],
)
def test_D_E1_user_links_by_stored_link_then_email_then_unique_full_name(
    user: DriftiPerson, stored: dict[str, int], expected: object
) -> None:
    links, unlinked = link_users([user], PEOPLE, stored)
    if isinstance(expected, Unlinked):
        assert not links and [u.why for u in unlinked] == [expected]
        if expected is Unlinked.AMBIGUOUS_NAME:
            assert unlinked[0].candidates == (3, 4)
    else:
        assert not unlinked
        assert (links[user.user_id].employee_id, links[user.user_id].method) == expected


def test_D_E1_one_employee_never_stands_for_two_users_and_stored_links_come_first() -> None:
    twins = [DriftiPerson("u9", "Marius Johansen", None), DriftiPerson("u1", "M J", "marius@demo.example")]
    links, unlinked = link_users(twins, PEOPLE, {"u1": 1})
    assert links["u1"].method is LinkMethod.STORED
    assert [(u.user_id, u.why, u.candidates) for u in unlinked] == [("u9", Unlinked.EMPLOYEE_TAKEN, (1,))]


def test_D_A1_activity_name_is_derived_from_the_rate_name() -> None:
    assert activity_name("Overtid  50 %") == "Drifti: Overtid 50 %"
    assert activity_name("Fagarbeider") == activity_name(" Fagarbeider ")


def _export(entries: list[TimeEntry], held: list[TimesheetEntry]) -> HoursExport:
    users = {
        u: User.model_validate(
            {"id": u, "version": 1, "created_at": _T0, "updated_at": _T0, "name": n, "email": f"{u}@x.no"}
        )
        for u, n in (("usr_a", "Ada"), ("usr_b", "Bo"), ("usr_x", "Xi"))
    }
    return HoursExport(
        tenant_id="acme",
        start=OCT[0],
        end=OCT[1],
        dry_run=False,
        entries=entries,
        users=users,
        jobs={},
        employees={u: EmployeeLink(u, e, LinkMethod.EMAIL) for u, e in TARGETS.employees.items()},
        unlinked=[UserNotLinked("usr_x", "Xi", "usr_x@x.no", Unlinked.NO_MATCH)],
        activities={"rat_fag": MadeLink("rat_fag", 501, LinkMethod.CREATED, "Fagarbeider")},
        projects={"job_1": MadeLink("job_1", 901, LinkMethod.FOUND, "1001")},
        plan=plan_export(entries, TARGETS, held, OCT),
    )


def test_D_H1_D_E1_D_A1_an_export_is_recorded_with_rule_ids_and_rejections_come_last() -> None:
    entries = [drifti(), drifti(day=7, status="pending", hours="2"), drifti(user="usr_x", hours="3")]
    decisions = export_decisions(_export(entries, []), uuid.uuid4(), datetime(2026, 11, 2, tzinfo=UTC))
    got = [(d.rule_id, d.entity_type.value, d.entity_id, d.verdict.value, d.error_code) for d in decisions]
    assert got == [
        ("D-E1", "employee", "usr_a", "skip", None),
        ("D-E1", "employee", "usr_b", "skip", None),
        ("D-A1", "activity", "rat_fag", "command", None),  # created now
        ("D-J2", "project", "job_1", "skip", None),  # found by number
        ("D-H1", "employee", "usr_a", "command", None),
        ("D-E1", "employee", "usr_x", "reject", DRIFTI_USER_NOT_LINKED),
        ("D-H1", "employee", "usr_a", "reject", DRIFTI_HOURS_NOT_APPROVED),
    ]
    assert [d.decided_at for d in decisions] == sorted({d.decided_at for d in decisions})  # strictly ordered
    assert len({d.decision_id for d in decisions}) == len(decisions)
    assert "1 entries created" in decisions[4].reason and "7.5 h" in decisions[4].reason
    assert "'Xi'" in decisions[5].reason and "3 h" in decisions[5].reason


def test_D_H1_a_repeated_export_is_recorded_as_skip_and_locked_hours_as_rejection() -> None:
    held = [tripletex(1), tripletex(2, day=9, locked=True)]  # day 9: reopened in Drifti, locked in Tripletex
    decisions = export_decisions(_export([drifti()], held), uuid.uuid4(), datetime(2026, 11, 2, tzinfo=UTC))
    hours = [(d.verdict.value, d.error_code) for d in decisions if d.rule_id == "D-H1"]
    assert hours == [("skip", None), ("reject", DRIFTI_HOURS_LOCKED)]
