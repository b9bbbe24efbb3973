"""The wire contracts: what they accept, what they refuse, and ids that repeat when their cause does."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from contracts.bounds import BIGINT_MAX, MAX_EXPLANATION, MAX_ID, MAX_ITEMS, MAX_TEXT
from contracts.entities import CustomerSnapshot, ProjectSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, Command, EntityType, Outcome, SourceSystem
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


# ---------------------------------------------------------------- bounds (security #10, item 2)
# What passes a contract must be storable: ids and versions as PostgreSQL keeps them.

ROOF = {"kind": "project", "number": "A12.3", "name": "Roof", "start_date": "2026-11-01"}
IDS = {"tenant_id": "acme", "correlation_id": str(uuid.uuid4()), "command_id": str(uuid.uuid4())}
COMMAND = {
    **IDS,
    **{"source": "svenn", "target": "tripletex", "operation": "update", "entity_type": "project"},
    **{"source_entity_id": "p-1", "rule_id": "S-P4"},
    "expected_link": {"state": "linked", "target_entity_id": "42"},
}
OUTCOME = {**COMMAND, "outcome_id": str(uuid.uuid4()), "status": "failed"}


def refused_fields(model: type[BaseModel], body: dict[str, object]) -> set[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate_json(json.dumps(body))
    return {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"entity_id": "p-1\x00"}, "entity_id"),
        ({"entity_id": "p\n1"}, "entity_id"),
        ({"entity_id": "p" * (MAX_ID + 1)}, "entity_id"),
        ({"tenant_id": "acme\x00"}, "tenant_id"),
        ({"tenant_id": "acme\n"}, "tenant_id"),
        ({"source_version": "99999999999999999999"}, "source_version"),  # does not fit a bigint
        ({"source_version": str(BIGINT_MAX + 1) + "+pabc"}, "source_version"),
        ({"source_version": "7\x00"}, "source_version"),
        ({"source_version": "7" * 101}, "source_version"),
        ({"snapshot": {**ROOF, "member_ids": ["emp-1\x00"]}}, "snapshot.project.member_ids.0"),
        (
            {"snapshot": {**ROOF, "member_ids": [f"e{i}" for i in range(MAX_ITEMS + 1)]}},
            "snapshot.project.member_ids",
        ),
        ({"snapshot": {**ROOF, "customer_id": "c\x00"}}, "snapshot.project.customer_id"),
        ({"snapshot": {**ROOF, "name": "x" * (MAX_TEXT + 1)}}, "snapshot.project.name"),
        ({"trace": {"traceparent": "x" * 500}}, "trace.traceparent"),
    ],
)
def test_change_event_refuses_what_postgresql_cannot_store_naming_the_field(
    override: dict[str, object], field: str
) -> None:
    assert field in refused_fields(ChangeEvent, event_json(**override))


def test_versions_within_bigint_and_participant_digests_pass() -> None:
    for version in (str(BIGINT_MAX), "7+p3f9c2a1b07", "deleted", "12-2026"):
        assert ChangeEvent.model_validate(event_json(source_version=version)).source_version == version


def test_user_text_with_a_nul_is_not_refused_at_the_edge_S_X2() -> None:
    # A Svenn user can type a NUL into a project name: the change must reach the decision, which
    # rejects the record with an error-log entry (S-X2) instead of losing the change silently.
    event = ChangeEvent.model_validate_json(json.dumps(event_json(snapshot={**ROOF, "name": "Roof\x00 2"})))
    assert isinstance(event.snapshot, ProjectSnapshot)
    assert event.snapshot.name == "Roof\x00 2"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"base_version": BIGINT_MAX + 1}, "base_version"),
        (
            {"expected_link": {"state": "linked", "target_entity_id": "42\x00"}},
            "expected_link.target_entity_id",
        ),
        ({"rule_id": "S-P4\x00"}, "rule_id"),
        ({"participants": ["emp\x00"]}, "participants.0"),
    ],
)
def test_command_refuses_unstorable_ids_and_versions(override: dict[str, object], field: str) -> None:
    assert field in refused_fields(Command, {**COMMAND, **override})


def test_outcome_refuses_a_target_version_beyond_bigint() -> None:
    assert refused_fields(Outcome, {**OUTCOME, "target_version": "99999999999999999999"}) == {
        "target_version"
    }


def test_explanations_are_made_storable_not_refused() -> None:
    # A side's error message is what the user reads in the error log: keep it, minus what
    # PostgreSQL cannot hold, rather than lose the outcome it explains.
    body = {**OUTCOME, "error_message": "bad\x00name " + "x" * 5000, "reason": "ok\ttab"}
    outcome = Outcome.model_validate_json(json.dumps(body))
    assert outcome.error_message is not None and outcome.error_message.startswith("bad\ufffdname ")
    assert len(outcome.error_message) == MAX_EXPLANATION
    assert outcome.reason == "ok\ttab"
