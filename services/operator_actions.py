"""Actions an operator takes, published as events so the projections can be rebuilt with them.

Restoring a link broken by S-C5 is a decision of a person rather than a rule: it travels on
``sync.decisions.v1`` like every other decision (rule id ``OPERATOR-LINK-RESTORE``), so a replay
of the topics restores it again.
"""

from __future__ import annotations

import uuid

from contracts.envelope import DecisionRecord, EntityType, LinkEffect, SourceSystem, Verdict
from contracts.ids import decision_id
from contracts.topics import SYNC_DECISIONS, record_key
from services.core.publisher import Publisher
from services.core.settings import Settings

RESTORE_RULE = "OPERATOR-LINK-RESTORE"


def restore_decision(
    tenant_id: str, entity_type: EntityType, side: SourceSystem, entity_id: str
) -> DecisionRecord:
    action = uuid.uuid4()
    return DecisionRecord(
        tenant_id=tenant_id,
        correlation_id=action,
        causation_id=action,
        decision_id=decision_id(action, RESTORE_RULE),
        cause_event_id=action,
        source=side,
        entity_type=entity_type,
        entity_id=entity_id,
        rule_id=RESTORE_RULE,
        verdict=Verdict.SKIP,
        reason="an operator restored the link; changes on both sides sync again",
        link_effect=LinkEffect.RESTORE,
    )


async def restore_link(
    settings: Settings, tenant_id: str, entity_type: EntityType, side: SourceSystem, entity_id: str
) -> DecisionRecord:
    decision = restore_decision(tenant_id, entity_type, side, entity_id)
    async with Publisher(settings) as publisher:
        await (await publisher.send(SYNC_DECISIONS, record_key(tenant_id, entity_type, entity_id), decision))
    return decision
