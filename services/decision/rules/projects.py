"""Projects, Svenn ⇄ Tripletex: rules S-P1 … S-P8 (sync-rules.md, Part 1).

Number generation for S-P5 happens in the Tripletex writer, which can see every number in use
at write time; the rule only says that a number must be assigned.
"""

from __future__ import annotations

from contracts.entities import ProjectSnapshot, ProjectStatus
from contracts.envelope import ChangeEvent, ChangeKind, EntityType, LinkState, Operation, SourceSystem
from contracts.error_codes import PROJECT_MISSING_START_DATE
from services.decision.links import Links
from services.decision.ruling import Ruling, command, reject, skip


def project_rules(event: ChangeEvent, links: Links) -> Ruling:
    if event.source is SourceSystem.SVENN:
        return _from_svenn(event, links)
    return _from_tripletex(event, links)


def _from_svenn(event: ChangeEvent, links: Links) -> Ruling:
    link = links.of(event.tenant_id, EntityType.PROJECT, SourceSystem.SVENN, event.entity_id)
    to_tripletex = SourceSystem.TRIPLETEX
    if event.change_kind is ChangeKind.DELETED:
        return skip("S-P7", "project deleted in Svenn: nothing happens in Tripletex")
    project = _snapshot(event)
    if project.parent_id is not None:
        return skip("S-P2", "sub-projects are not synced (Tripletex needs a unique number per project)")
    if project.start_date is None:
        return reject(
            "S-P1", PROJECT_MISSING_START_DATE, "Tripletex requires a start date; the project is not synced"
        )
    if link.state is LinkState.LINKED:
        if project.status is ProjectStatus.COMPLETED:
            return command(
                "S-P7",
                "completed in Svenn: close it in Tripletex",
                event,
                to_tripletex,
                Operation.UPDATE,
                link,
            )
        return command(
            "S-P4", "linked project: sync name, dates and status", event, to_tripletex, Operation.UPDATE, link
        )
    return command(
        "S-P4",
        "link to the Tripletex project with this number, or create it",
        event,
        to_tripletex,
        Operation.CREATE,
        link,
    )


def _from_tripletex(event: ChangeEvent, links: Links) -> Ruling:
    link = links.of(event.tenant_id, EntityType.PROJECT, SourceSystem.TRIPLETEX, event.entity_id)
    to_svenn = SourceSystem.SVENN
    if event.change_kind is ChangeKind.DELETED:
        if link.state is not LinkState.LINKED:
            return skip("S-P7", "deleted in Tripletex and never synced to Svenn: nothing to complete")
        return command(
            "S-P7", "deleted in Tripletex: complete it in Svenn", event, to_svenn, Operation.COMPLETE, link
        )
    project = _snapshot(event)
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


def _snapshot(event: ChangeEvent) -> ProjectSnapshot:
    if not isinstance(event.snapshot, ProjectSnapshot):
        raise ValueError(f"project change {event.event_id} carries no project snapshot")
    return event.snapshot


def _svenn_members(event: ChangeEvent, links: Links, project: ProjectSnapshot) -> tuple[str, ...]:
    """S-P8: Tripletex participants become Svenn members, through the employee links."""
    members = []
    for participant in project.member_ids:
        link = links.of(event.tenant_id, EntityType.EMPLOYEE, SourceSystem.TRIPLETEX, participant)
        if link.state is LinkState.LINKED and link.target_entity_id is not None:
            members.append(link.target_entity_id)
    return tuple(members)
