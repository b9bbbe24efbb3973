"""Deterministic ids: the same cause always yields the same id.

A redelivered webhook, a replayed topic or a decision re-run after a crash must produce the
ids it produced the first time, so every consumer downstream can recognise the repeat.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

# Fixed for the life of the wire format; changing it changes every derived id.
NAMESPACE = UUID("6f0c7a5e-2b1d-4a63-9a51-6f1e5c2d8b40")


def change_event_id(
    tenant_id: str, source: str, entity_type: str, entity_id: str, source_version: str
) -> UUID:
    """Same record version on the same side => same event id (so polling never republishes a change)."""
    return uuid5(NAMESPACE, f"change|{tenant_id}|{source}|{entity_type}|{entity_id}|{source_version}")


def command_id(cause_id: UUID, target: str, operation: str, entity_type: str, entity_id: str) -> UUID:
    return uuid5(NAMESPACE, f"command|{cause_id}|{target}|{operation}|{entity_type}|{entity_id}")


def outcome_id(command: UUID, status: str) -> UUID:
    return uuid5(NAMESPACE, f"outcome|{command}|{status}")


def decision_id(cause_id: UUID, rule_id: str) -> UUID:
    return uuid5(NAMESPACE, f"decision|{cause_id}|{rule_id}")


def side_status_id(tenant_id: str, target: str, side: str, since: datetime, reachable: bool) -> UUID:
    """A side status (``SideStatus``): one per tenant, writer (or "webhooks"), side, start and state."""
    return uuid5(NAMESPACE, f"side-status|{tenant_id}|{target}|{side}|{since.isoformat()}|{reachable}")
