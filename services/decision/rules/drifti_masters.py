"""Drifti customers and jobs → Tripletex: rules D-C1, D-J1, D-J2 (sync-rules.md, Part 2).

One way only. A customer or job the engine has not transferred yet becomes a ``create``
command, which the Tripletex writer turns into "search by number, link an exact match,
create only when there is none" (D-C1, D-J2): nothing is ever duplicated. Once linked,
Drifti's later edits are not copied (the transfer is of the record, not a two-way sync).
"""

from __future__ import annotations

from contracts.entities import CustomerSnapshot, JobSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, LinkState, Operation, SourceSystem
from contracts.error_codes import CUSTOMER_NON_NUMERIC_ID
from services.decision.links import Links
from services.decision.ruling import Ruling, command, reject, skip


def drifti_customer_rules(event: ChangeEvent, links: Links) -> Ruling:
    link = links.of(event.tenant_id, event.entity_type, event.source, event.entity_id)
    if event.change_kind is ChangeKind.DELETED or not isinstance(event.snapshot, CustomerSnapshot):
        return skip("D-C1", "Drifti customers are never deleted in Tripletex")
    if link.state is LinkState.LINKED:
        return skip("D-C1", f"already transferred (Tripletex customer {link.target_entity_id})")
    number = event.snapshot.customer_number or ""
    if not (number.isascii() and number.isdigit()):
        return reject("D-C1", CUSTOMER_NON_NUMERIC_ID, f"customer number {number!r} is not numeric")
    return command(
        "D-C1",
        f"find the Tripletex customer with number {number} and link it, or create it",
        event,
        SourceSystem.TRIPLETEX,
        Operation.CREATE,
        link,
    )


def drifti_job_rules(event: ChangeEvent, links: Links) -> Ruling:
    link = links.of(event.tenant_id, event.entity_type, event.source, event.entity_id)
    job = event.snapshot
    if event.change_kind is ChangeKind.DELETED or not isinstance(job, JobSnapshot):
        return skip("D-J1", "Drifti jobs are never deleted in Tripletex")
    if link.state is LinkState.LINKED:
        return skip("D-J1", f"already transferred (Tripletex project {link.target_entity_id})")
    if job.created_before_integration:
        return skip(
            "D-J1",
            "created before the integration was switched on: its project is made when its first "
            "invoice or hours are transferred",
        )
    return command(
        "D-J2",
        f"find the Tripletex project with number {job.job_number} and use it, or create it "
        "(with its customer, D-C1)",
        event,
        SourceSystem.TRIPLETEX,
        Operation.CREATE,
        link,
    )
