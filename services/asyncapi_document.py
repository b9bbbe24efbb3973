"""The AsyncAPI document of every topic and message, generated from the engine's FastStream app.

``Runtime(…, ALL_ROLES).faststream()`` is the app; FastStream's ``AsyncAPI`` factory turns its
broker into an AsyncAPI 3.0 document (channels, consumer groups, operations). Two things the
app cannot say by itself are added here, each from the contracts so they cannot drift:

* **What is published where.** Messages go out through the engine's own aiokafka producer
  (``services.core.publisher``), not FastStream publishers, so each topic's sender is
  declared as a FastStream publisher with the contract's model (``TOPIC_MESSAGES``), for the
  document only; ``build_document`` makes its own app and nothing is ever sent through them.
* **What is received.** Consumers take raw batches (``services.core.batch_consumer``) and decode
  each message themselves, so FastStream sees no payload type; each receiving channel gets
  the same payload as its topic's sending channel.

Every message also names its headers (ids, tenant, ``traceparent``) and its correlation id.
``contracts/asyncapi.json`` is the committed copy; ``tsync asyncapi`` (``make asyncapi``)
regenerates it and ``tsync asyncapi --check`` fails when it is stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from faststream.specification import AsyncAPI

from contracts import headers
from contracts.envelope import ChangeEvent, Command, DecisionRecord, Outcome, SideStatus
from contracts.topics import (
    CHANGE_TOPICS,
    COMMAND_TOPICS,
    CONSUMERS,
    SYNC_DECISIONS,
    SYNC_OUTCOMES,
    dead_letter_topic,
)
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory
from services.runtime import ALL_ROLES, Runtime

DOCUMENT = Path(__file__).resolve().parents[1] / "contracts" / "asyncapi.json"
TITLE = "tripletex-sync"
VERSION = "1"


@dataclass(frozen=True)
class TopicMessages:
    topic: str
    schema: Any  # a contract model, or a union of them (the outcome topic)
    sender: str
    description: str


TOPIC_MESSAGES: tuple[TopicMessages, ...] = (
    *(
        TopicMessages(
            topic,
            ChangeEvent,
            "ingest",
            f"A change of a {side} record (webhook, catch-up poll or full pass), in the engine's contract.",
        )
        for side, topic in CHANGE_TOPICS.items()
    ),
    *(
        TopicMessages(
            topic,
            Command,
            "decision",
            f"What the decision asks the {side} writer to do (create, update, link, …), with the rule id.",
        )
        for side, topic in COMMAND_TOPICS.items()
    ),
    TopicMessages(
        SYNC_DECISIONS,
        DecisionRecord,
        "decision",
        "Every decision: rule id, verdict (command / skip / reject), reason and error code.",
    ),
    TopicMessages(
        SYNC_OUTCOMES,
        Outcome | SideStatus,
        "tripletex-writer, svenn-writer",
        "What a writer did with a command: applied, skipped or failed (with an error code); and a "
        "side_status when a tenant's side has not answered for API_UNREACHABLE_AFTER_S, or answers again "
        "(key tenant|connection|side).",
    ),
    *(
        TopicMessages(
            dead_letter_topic(consumer),
            bytes,
            consumer,
            f"Messages the {consumer} consumer could not handle: the original key, value and headers "
            f"byte for byte, plus {headers.DLQ_REASON}, {headers.DLQ_STAGE} and the source "
            "topic/partition/offset in headers.",
        )
        for consumer in CONSUMERS
    ),
)

_HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        headers.MESSAGE_ID: {"type": "string", "format": "uuid", "description": "The message's own id."},
        headers.MESSAGE_TYPE: {
            "type": "string",
            "enum": ["change_event", "command", "decision", "outcome", "side_status"],
            "description": "The payload's message_type.",
        },
        headers.TENANT: {"type": "string", "description": "The tenant the message is about."},
        "traceparent": {
            "type": "string",
            "description": "W3C trace context: every message of one change is in one trace.",
        },
        "tracestate": {"type": "string", "description": "W3C trace state, when there is one."},
    },
    "required": [headers.MESSAGE_ID, headers.MESSAGE_TYPE, headers.TENANT],
}
_DLQ_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "The original message's headers, unchanged, plus where and why it failed.",
    "properties": {
        **_HEADERS["properties"],
        **{
            name: {"type": "string", "description": what}
            for name, what in (
                (headers.DLQ_REASON, "Why the message could not be handled."),
                (headers.DLQ_STAGE, "Where it failed: decode, decide, write, project."),
                (headers.DLQ_CONSUMER, "The consumer group that gave up on it."),
                (headers.DLQ_SOURCE_TOPIC, "The topic it was read from."),
                (headers.DLQ_SOURCE_PARTITION, "Its partition there."),
                (headers.DLQ_SOURCE_OFFSET, "Its offset there."),
                (headers.DLQ_FAILED_AT, "When it failed (ISO 8601, UTC)."),
                (headers.DLQ_EXCEPTION, "The exception, when there was one."),
            )
        },
    },
    "required": [headers.DLQ_REASON, headers.DLQ_STAGE, headers.DLQ_CONSUMER, headers.DLQ_SOURCE_TOPIC],
}
_KEY = "Record key: tenant|entity_type|entity_id (one record, one partition, in order)."


def documented_app() -> Runtime:
    """The engine with every role, as ``tsync run all`` builds it, plus the declared senders."""
    settings = Settings(
        topic_prefix="",
        kafka_bootstrap_servers="127.0.0.1:19092",
        catch_up=False,
        tenants_file=None,
    )
    runtime = Runtime(settings, ALL_ROLES, tenants=StaticTenantDirectory())
    for spec in TOPIC_MESSAGES:
        runtime.broker.publisher(
            spec.topic,
            schema=spec.schema,
            title=f"{spec.topic}:send",
            description=f"{spec.description} Sent by: {spec.sender}. {_KEY}",
        )
    return runtime


def build_document() -> dict[str, Any]:
    runtime = documented_app()
    app = runtime.faststream()
    assert app.broker is not None
    factory = AsyncAPI(
        app.broker,
        title=TITLE,
        version=VERSION,
        description=(
            "Topics and messages of the tripletex-sync engine (Svenn/Drifti <-> Tripletex). "
            "Generated from the FastStream app by `tsync asyncapi`; do not edit by hand."
        ),
    )
    document: dict[str, Any] = factory.to_specification().to_jsonable()
    _complete(document)
    _name_consumer_groups(document, runtime.consumer_topics())
    return document


def _complete(document: dict[str, Any]) -> None:
    """Receiving channels get their topic's payload; every message its headers and correlation id."""
    channels: dict[str, Any] = document["channels"]
    messages: dict[str, Any] = document["components"]["messages"]
    sent: dict[str, Any] = {}
    for channel in channels.values():
        for ref in channel["messages"].values():
            message = messages[_ref_name(ref)]
            if message["payload"] != {"$ref": "#/components/schemas/EmptyPayload"}:
                sent[channel["address"]] = message["payload"]
    for channel in channels.values():
        for ref in channel["messages"].values():
            message = messages[_ref_name(ref)]
            if message["payload"] == {"$ref": "#/components/schemas/EmptyPayload"}:
                message["payload"] = sent[channel["address"]]
            dead_letters = channel["address"].startswith("dlq.")
            message["headers"] = _DLQ_HEADERS if dead_letters else _HEADERS
            message["correlationId"] = {
                "description": "The change this message descends from (copied through every hop).",
                "location": "$message.payload#/correlation_id",
            }
    schemas: dict[str, Any] = document["components"]["schemas"]
    if "EmptyPayload" in schemas and "EmptyPayload" not in json.dumps(messages):
        del schemas["EmptyPayload"]


def _name_consumer_groups(document: dict[str, Any], groups: dict[str, list[str]]) -> None:
    """Each receive operation names its consumer group (Kafka operation binding ``groupId``).

    FastStream keys a subscriber's channel ``{topic}:{HandlerName}``; the batch handler of
    consumer ``sync-decision`` is ``sync_decision_batch``, so the name says which group it is.
    """
    by_channel = {
        f"{topic}:{''.join(w.capitalize() for w in f'{group}_batch'.replace('-', '_').split('_'))}": group
        for group, topics in groups.items()
        for topic in topics
    }
    for operation in document["operations"].values():
        if operation["action"] != "receive":
            continue
        channel = operation["channel"]["$ref"].removeprefix("#/channels/")
        group = by_channel[channel]
        operation["description"] = (
            f"Read in batches by consumer group {group}; failures go to {dead_letter_topic(group)}."
        )
        operation["bindings"] = {
            "kafka": {"groupId": {"type": "string", "enum": [group]}, "bindingVersion": "0.4.0"}
        }


def _ref_name(ref: dict[str, str]) -> str:
    return ref["$ref"].removeprefix("#/components/messages/")


def render(document: dict[str, Any]) -> str:
    """Stable text: FastStream's channel order varies between runs, so keys are sorted."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write(path: Path = DOCUMENT) -> bool:
    """Write the document; ``True`` if it changed."""
    text = render(build_document())
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def is_current(path: Path = DOCUMENT) -> bool:
    return path.exists() and path.read_text(encoding="utf-8") == render(build_document())


def asyncapi_command(
    check: Annotated[bool, typer.Option("--check", help="Fail if the committed document is stale.")] = False,
) -> None:
    """Regenerate contracts/asyncapi.json from the FastStream app (``--check``: only compare)."""
    if check:
        if not is_current():
            typer.echo(f"{DOCUMENT} is stale: run `tsync asyncapi` (make asyncapi)", err=True)
            raise typer.Exit(1)
        typer.echo(f"{DOCUMENT} is current")
        return
    typer.echo(f"{'wrote' if write() else 'unchanged'}: {DOCUMENT}")
