"""Projects, Svenn ⇄ Tripletex: rules S-P1 … S-P8 and S-P7a (sync-rules.md, Part 1).

Number generation for S-P5 happens in the Tripletex writer, which can see every number in use
at write time; the rule only says that a number must be assigned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from contracts.entities import ProjectSnapshot, ProjectStatus
from contracts.envelope import ChangeEvent, ChangeKind, EntityType, LinkState, Operation, SourceSystem
from contracts.error_codes import PROJECT_MISSING_START_DATE
from services.decision.links import Deleted, Links
from services.decision.natural_keys import natural_keys
from services.decision.ruling import Ruling, command, reject, skip


def project_rules(event: ChangeEvent, links: Links) -> Ruling:
    if event.source is SourceSystem.SVENN:
        return _from_svenn(event, links)
    return _from_tripletex(event, links)


def _from_svenn(event: ChangeEvent, links: Links) -> Ruling:
    link = links.of(event.tenant_id, EntityType.PROJECT, SourceSystem.SVENN, event.entity_id)
    to_tripletex = SourceSystem.TRIPLETEX
    if event.change_kind is ChangeKind.DELETED:
        ruling = skip("S-P7", "project deleted in Svenn: nothing happens in Tripletex")
        # S-P7a: remembered, so later Tripletex changes of its twin are skipped quietly.
        deletion = Deleted(
            event.tenant_id,
            EntityType.PROJECT,
            SourceSystem.SVENN,
            event.entity_id,
            other_id=link.target_entity_id,
        )
        return replace(ruling, deleted=deletion)
    project = _snapshot(event)
    gone = _deleted_in_tripletex(event, links, project)
    if gone is not None:
        return skip(
            "S-P7",
            f"its Tripletex project {gone} was deleted: Svenn keeps the project (completed) and it is "
            "no longer synced, so it is neither re-created nor written to Tripletex",
        )
    if project.parent_id is not None:
        return skip("S-P2", "sub-projects are not synced (Tripletex needs a unique number per project)")
    if project.start_date is None:
        return reject(
            "S-P1", PROJECT_MISSING_START_DATE, "Tripletex requires a start date; the project is not synced"
        )
    if link.state is LinkState.LINKED:
        if project.status is ProjectStatus.COMPLETED:
            ruling = command(
                "S-P7",
                "completed in Svenn: close it in Tripletex",
                event,
                to_tripletex,
                Operation.UPDATE,
                link,
            )
        else:
            ruling = command(
                "S-P4",
                "linked project: sync name, dates, status and members",
                event,
                to_tripletex,
                Operation.UPDATE,
                link,
            )
        return _with_participants(ruling, event, links, project)
    ruling = command(
        "S-P4",
        "link to the Tripletex project with this number, or create it",
        event,
        to_tripletex,
        Operation.CREATE,
        link,
    )
    return _with_participants(ruling, event, links, project)


def _with_participants(ruling: Ruling, event: ChangeEvent, links: Links, project: ProjectSnapshot) -> Ruling:
    """S-P8 the other way: Svenn members become Tripletex participants, through the employee links.

    Only when the members changed (or the command writes everything). Members whose employees
    are not linked are left out, as Tripletex participants without a Svenn employee are on the
    way to Svenn; removed members are named so the writer removes just those participants and
    never one that Svenn does not know.
    """
    if len(ruling.commands) != 1:
        return ruling
    (issued,) = ruling.commands
    if issued.changed_fields is not None and "member_ids" not in issued.changed_fields:
        return ruling
    synced = links.of(event.tenant_id, EntityType.PROJECT, SourceSystem.SVENN, event.entity_id).synced
    before = synced.member_ids if isinstance(synced, ProjectSnapshot) else ()
    removed = [m for m in before if m not in project.member_ids]
    participants = issued.model_copy(
        update={
            "participants": _linked_employees(event, links, SourceSystem.SVENN, project.member_ids),
            "former_participants": _linked_employees(event, links, SourceSystem.SVENN, removed),
        }
    )
    return replace(ruling, commands=(participants,))


def _from_tripletex(event: ChangeEvent, links: Links) -> Ruling:
    link = links.of(event.tenant_id, EntityType.PROJECT, SourceSystem.TRIPLETEX, event.entity_id)
    to_svenn = SourceSystem.SVENN
    if event.change_kind is ChangeKind.DELETED:
        return _deleted_from_tripletex(event, links)
    project = _snapshot(event)
    gone = links.deleted_record(
        event.tenant_id, EntityType.PROJECT, SourceSystem.SVENN, [link.target_entity_id, event.entity_id]
    )
    if gone is not None:
        return skip(
            "S-P7a",
            f"its Svenn project {gone} was deleted: Tripletex's changes are no longer synced to it",
        )
    if project.parent_id is not None and link.state is not LinkState.LINKED:
        return skip("S-P2", "Tripletex sub-projects are not created in Svenn (Svenn numbers are its own)")
    if project.is_internal and link.state is not LinkState.LINKED:
        # A Svenn project already linked to an internal one keeps syncing (S-P4); new ones are skipped.
        return skip("S-P3", "internal Tripletex projects are not created in Svenn")
    if project.number is None:
        return command(
            "S-P5",
            "Tripletex project has no number: generate one and write it back",
            event,
            SourceSystem.TRIPLETEX,
            Operation.ASSIGN_NUMBER,
            link,
        )
    payload = project.model_copy(update={"member_ids": _svenn_members(event, links, project)})
    if link.state is LinkState.LINKED:
        rule = "S-P7" if project.status is ProjectStatus.COMPLETED else "S-P4"
        return command(
            rule, "linked project: bring Svenn up to date", event, to_svenn, Operation.UPDATE, link, payload
        )
    return command(
        "S-P8",
        "create in Svenn with the Tripletex participants as members",
        event,
        to_svenn,
        Operation.CREATE,
        link,
        payload,
    )


def _deleted_from_tripletex(event: ChangeEvent, links: Links) -> Ruling:
    """S-P7: complete the Svenn twin, linked or still being created, and remember the deletion.

    A project deleted while its first sync to Svenn is in flight has no link yet; the create
    intent names the Svenn project by its number, and the Svenn writer completes it after
    creating it (both commands are keyed by this project, so they arrive in order).
    """
    link = links.of(event.tenant_id, EntityType.PROJECT, SourceSystem.TRIPLETEX, event.entity_id)
    if link.state is LinkState.LINKED:
        ruling = command(
            "S-P7",
            "deleted in Tripletex: complete it in Svenn",
            event,
            SourceSystem.SVENN,
            Operation.COMPLETE,
            link,
        )
        number = link.synced.number if isinstance(link.synced, ProjectSnapshot) else None
        return replace(ruling, deleted=_deleted(event, number, link.target_entity_id))
    in_flight = links.create_in_flight_from(
        event.tenant_id, EntityType.PROJECT, SourceSystem.TRIPLETEX, event.entity_id
    )
    if not isinstance(in_flight, ProjectSnapshot):
        return skip("S-P7", "deleted in Tripletex and never synced to Svenn: nothing to complete")
    ruling = command(
        "S-P7",
        "deleted in Tripletex while its create in Svenn was in flight: complete the Svenn project "
        "with this number once it is there",
        event,
        SourceSystem.SVENN,
        Operation.COMPLETE,
        link,
        in_flight,
    )
    return replace(ruling, deleted=_deleted(event, in_flight.number, None))


def _deleted(event: ChangeEvent, number: str | None, other_id: str | None) -> Deleted:
    return Deleted(
        event.tenant_id,
        EntityType.PROJECT,
        SourceSystem.TRIPLETEX,
        event.entity_id,
        natural_key=f"number:{number}" if number else None,
        other_id=other_id,
    )


def _deleted_in_tripletex(event: ChangeEvent, links: Links, project: ProjectSnapshot) -> str | None:
    """The Tripletex project this Svenn project followed, if Tripletex deleted it.

    A linked project is found by its link (and by its own id, named when the deletion was
    decided); one whose link is not projected yet by its number, which the deletion recorded
    from the create in flight. A project linked to a live Tripletex project is never matched
    by number: a new project may reuse the number of a deleted one.
    """
    link = links.of(event.tenant_id, EntityType.PROJECT, SourceSystem.SVENN, event.entity_id)
    probes = [link.target_entity_id, event.entity_id]
    if link.state is not LinkState.LINKED:
        probes += natural_keys(project)
    return links.deleted_record(event.tenant_id, EntityType.PROJECT, SourceSystem.TRIPLETEX, probes)


def _snapshot(event: ChangeEvent) -> ProjectSnapshot:
    if not isinstance(event.snapshot, ProjectSnapshot):
        raise ValueError(f"project change {event.event_id} carries no project snapshot")
    return event.snapshot


def _svenn_members(event: ChangeEvent, links: Links, project: ProjectSnapshot) -> tuple[str, ...]:
    """S-P8: Tripletex participants become Svenn members, through the employee links."""
    return _linked_employees(event, links, SourceSystem.TRIPLETEX, project.member_ids)


def _linked_employees(
    event: ChangeEvent, links: Links, side: SourceSystem, employee_ids: Iterable[str]
) -> tuple[str, ...]:
    """The other side's ids of these employees of ``side``, for those that are linked."""
    found = []
    for employee_id in employee_ids:
        link = links.of(event.tenant_id, EntityType.EMPLOYEE, side, employee_id)
        if link.state is LinkState.LINKED and link.target_entity_id is not None:
            found.append(link.target_entity_id)
    return tuple(found)
