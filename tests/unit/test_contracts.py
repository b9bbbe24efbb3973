"""The wire contracts: what they accept, what they refuse, and ids that repeat when their cause does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts.entities import CustomerSnapshot, ProjectSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, EntityType, SourceSystem
from contracts.ids import change_event_id, command_id, outcome_id
from contracts.topics import CONSUMERS, dead_letter_topic, record_key, topic_specs


def event_json(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "tenant_id": "acme-as",
        "correlation_id": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "source": "svenn",
        "entity_type": "project",
        "entity_id": "p-1",
        "change_kind": "created",
        "occurred_at": "2026-11-23T10:00:00+01:00",
        "snapshot": {"kind": "project", "number": "A12.3", "name": "Roof", "start_date": "2026-11-01"},
    }
    body.update(overrides)
    return body


def test_change_event_parses_a_typed_snapshot() -> None:
    event = ChangeEvent.model_validate(event_json())
    assert isinstance(event.snapshot, ProjectSnapshot)
    assert event.snapshot.number == "A12.3"
    assert event.schema_version == 1


def test_numbers_stay_strings_S_P6_S_C1() -> None:
    # S-P6: numbers with letters and dots; S-C1: non-numeric customer ids must reach the rules intact.
    event = ChangeEvent.model_validate(
        event_json(
            entity_type="customer", snapshot={"kind": "customer", "customer_number": "007", "name": "X"}
        )
    )
    assert isinstance(event.snapshot, CustomerSnapshot)
    assert event.snapshot.customer_number == "007"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"tenant_id": "Acme AS"}, "tenant_id"),
        ({"occurred_at": "2026-11-23T10:00:00"}, "occurred_at"),  # a time without a zone is ambiguous
        ({"source": "visma"}, "source"),
        ({"change_kind": "renamed"}, "change_kind"),
        ({"snapshot": {"kind": "project"}}, "snapshot.project.name"),
        ({"schema_version": 2}, "schema_version"),
    ],
)
def test_change_event_refuses_bad_input_with_the_field_named(override: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ChangeEvent.model_validate(event_json(**override))
    assert field in {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}


def test_same_record_version_gives_the_same_event_id() -> None:
    a = change_event_id("acme", "tripletex", "project", "42", "7")
    assert a == change_event_id("acme", "tripletex", "project", "42", "7")
    assert a != change_event_id("acme", "tripletex", "project", "42", "8")
    assert a != change_event_id("other", "tripletex", "project", "42", "7")


def test_command_and_outcome_ids_are_deterministic_from_their_cause() -> None:
    cause = uuid.uuid4()
    first = command_id(cause, "tripletex", "create", "project", "p-1")
    assert first == command_id(cause, "tripletex", "create", "project", "p-1")
    assert first != command_id(uuid.uuid4(), "tripletex", "create", "project", "p-1")
    assert outcome_id(first, "applied") == outcome_id(first, "applied") != outcome_id(first, "failed")


def test_record_key_keeps_one_record_of_one_tenant_together() -> None:
    assert record_key("acme", EntityType.PROJECT, "p-1") == b"acme|project|p-1"
    assert record_key("acme", EntityType.PROJECT, "p-1") != record_key("acme", EntityType.CUSTOMER, "p-1")


def test_every_consumer_has_a_dead_letter_topic() -> None:
    names = {spec.name for spec in topic_specs(3)}
    assert {dead_letter_topic(c) for c in CONSUMERS} <= names
    assert {"svenn.changes.v1", "tripletex.commands.v1", "sync.outcomes.v1"} <= names


def test_envelopes_are_immutable() -> None:
    event = ChangeEvent(
        tenant_id="acme",
        correlation_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        source=SourceSystem.SVENN,
        entity_type=EntityType.PROJECT,
        entity_id="p-1",
        change_kind=ChangeKind.DELETED,
        occurred_at=datetime.now(UTC),
    )
    with pytest.raises(ValidationError):
        event.entity_id = "p-2"  # type: ignore[misc]
