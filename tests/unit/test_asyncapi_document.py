"""contracts/asyncapi.json: current, and naming every topic with its message schema."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.envelope import ChangeEvent, Command, DecisionRecord, Outcome, SideStatus
from contracts.topics import CONSUMERS, dead_letter_topic, topic_specs
from services.asyncapi_document import DOCUMENT, build_document, render

SCHEMA_OF = {
    "svenn.changes.v1": ("ChangeEvent",),
    "tripletex.changes.v1": ("ChangeEvent",),
    "drifti.changes.v1": ("ChangeEvent",),
    "svenn.commands.v1": ("Command",),
    "tripletex.commands.v1": ("Command",),
    "sync.decisions.v1": ("DecisionRecord",),
    # A writer's outcomes, and a tenant's side that does not answer (S-X1, API_UNREACHABLE).
    "sync.outcomes.v1": ("Outcome", "SideStatus"),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _models(document: dict[str, Any], payload: dict[str, Any]) -> tuple[str, ...]:
    """The contract models a payload names: one ``$ref``, or a schema that is any of several."""
    ref = payload["$ref"]
    schema = _resolve(document, ref)
    if "anyOf" in schema:
        return tuple(option["$ref"].removeprefix("#/components/schemas/") for option in schema["anyOf"])
    return (ref.removeprefix("#/components/schemas/"),)


def _messages(document: dict[str, Any], action: str) -> dict[str, list[dict[str, Any]]]:
    """``{topic: [message, …]}`` of the operations doing ``action`` (send / receive)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for operation in document["operations"].values():
        if operation["action"] != action:
            continue
        channel = _resolve(document, operation["channel"]["$ref"])
        for ref in operation["messages"]:
            message = _resolve(document, _resolve(document, ref["$ref"])["$ref"])
            found.setdefault(channel["address"], []).append(message)
    return found


def test_the_committed_document_is_a_fresh_generation(document: dict[str, Any]) -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == render(document), (
        "contracts/asyncapi.json is stale: run `make asyncapi` (tsync asyncapi)"
    )


def test_every_topic_is_sent_with_its_contract_schema(document: dict[str, Any]) -> None:
    assert document["asyncapi"].startswith("3.")
    sent = _messages(document, "send")
    assert set(sent) == {spec.name for spec in topic_specs(1)}
    for topic, models in SCHEMA_OF.items():
        (message,) = sent[topic]
        assert _models(document, message["payload"]) == models
        assert "traceparent" in message["headers"]["properties"]
        assert message["correlationId"]["location"] == "$message.payload#/correlation_id"
    for consumer in CONSUMERS:
        (message,) = sent[dead_letter_topic(consumer)]
        payload = _resolve(document, message["payload"]["$ref"])
        assert (payload["type"], payload["format"]) == ("string", "binary")
        assert "tsync-dlq-reason" in message["headers"]["properties"]


def test_every_consumed_topic_is_received_with_the_same_schema_and_group(document: dict[str, Any]) -> None:
    received = _messages(document, "receive")
    assert set(received) == set(SCHEMA_OF)
    for topic, messages in received.items():
        assert [_models(document, m["payload"]) for m in messages] == [SCHEMA_OF[topic]]
    groups = {
        o["bindings"]["kafka"]["groupId"]["enum"][0]
        for o in document["operations"].values()
        if o["action"] == "receive"
    }
    assert groups == set(CONSUMERS)


def test_message_schemas_are_the_contracts(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for model in (ChangeEvent, Command, DecisionRecord, Outcome, SideStatus):
        schema = schemas[model.__name__]
        assert set(schema["properties"]) == set(model.model_fields)
        assert schema["properties"]["message_type"]["const"] == model.model_fields["message_type"].default
