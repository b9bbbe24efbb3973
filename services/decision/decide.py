"""The decision entry point: which rule family answers which change."""

from __future__ import annotations

from contracts.envelope import ChangeEvent, EntityType, SourceSystem
from services.decision.links import Links
from services.decision.rules.customers import customer_rules
from services.decision.rules.employees import employee_rules
from services.decision.rules.projects import project_rules
from services.decision.ruling import Ruling, skip

_FAMILIES = {
    EntityType.PROJECT: project_rules,
    EntityType.CUSTOMER: customer_rules,
    EntityType.EMPLOYEE: employee_rules,
}


def decide(event: ChangeEvent, links: Links) -> Ruling:
    """Pure: the same change and links always give the same ruling (with the same command ids)."""
    if event.source is SourceSystem.DRIFTI:
        return skip(
            "D-PENDING", "Drifti's rules (D-*) are not implemented yet; the change is kept on its topic"
        )
    return _FAMILIES[event.entity_type](event, links)
