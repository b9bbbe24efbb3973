"""Each role's declared Kafka writes (services/core/kafka_access.py) cover every publish in the code.

Reads every call that hands a message to Kafka (``publisher.send``, a consumer's ``self.publish``,
a raw producer's ``send_and_wait``, FastStream's ``broker.publish``) in services/ and projections/,
resolves the topic it names, and requires it in ``PUBLISHES`` of every role that module runs in.
A new publish from a module no role claims, or to a topic its role does not declare, fails here
(and would otherwise be refused by the KafkaUser's ACLs in a cluster).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from contracts import topics as contract_topics
from contracts.envelope import SourceSystem
from contracts.topics import CHANGE_TOPICS, COMMAND_TOPICS, CONSUMERS, dead_letter_topic
from services.core.kafka_access import OPERATOR, PUBLISHES, role_access

ROOT = Path(__file__).resolve().parents[2]

# Where each publishing module runs. A module missing here that publishes fails the test.
MODULE_ROLES: dict[str, tuple[str, ...]] = {
    "services/ingest/http.py": ("ingest",),
    "services/svenn/ingest.py": ("ingest",),
    "services/tripletex/ingest.py": ("ingest",),
    "services/drifti/ingest.py": ("ingest",),
    "services/svenn/catch_up.py": ("ingest",),
    "services/tripletex/catch_up.py": ("ingest",),
    "services/drifti/catch_up.py": ("ingest",),
    "services/ingest/catch_up.py": ("ingest",),
    # the hours export: Drifti's signed button on the ingest, and `tsync drifti export-hours`
    "services/drifti/hours/decisions.py": ("ingest", OPERATOR),
    "services/decision/consumer.py": ("decision",),
    "services/core/writer.py": ("tripletex-writer", "svenn-writer"),
    "services/tenants/outages.py": ("tripletex-writer", "svenn-writer"),
    "services/panel/retry.py": ("projections",),
    "services/operator_actions.py": (OPERATOR,),
    "services/onboarding/run.py": (OPERATOR,),
    "services/replay/resync.py": (OPERATOR,),
    "services/tenants/resume.py": (OPERATOR,),
    "services/replay/dead_letter_admin.py": (OPERATOR,),
    "services/tenants/offboard.py": (OPERATOR,),
    "services/demo.py": (OPERATOR,),
}
OWN_COMMANDS = {
    "tripletex-writer": COMMAND_TOPICS[SourceSystem.TRIPLETEX],
    "svenn-writer": COMMAND_TOPICS[SourceSystem.SVENN],
}
# Publishes whose topic is not a constant: what it can be.
DYNAMIC: dict[tuple[str, str], frozenset[str]] = {
    # the publisher itself, and the shared consumer's helper: their callers are read above
    ("services/core/publisher.py", "name"): frozenset(),
    ("services/core/publisher.py", "topic"): frozenset(),  # store: send, and wait for Kafka
    # the shared consumer's helper: its callers (decision, writers) are read above
    ("services/core/batch_consumer.py", "topic"): frozenset(),
    # a dead letter to its consumer's own DLQ (granted per group, see role_access)
    ("services/core/dead_letters.py", "self.topic"): frozenset(),
    # a parked command back to its command topic
    ("services/tenants/resume.py", "row['topic']"): frozenset(COMMAND_TOPICS.values()),
    # offboarding's tombstones, on the compacted topics only
    ("services/tenants/offboard.py", "partition.topic"): frozenset(contract_topics.PER_MESSAGE_KEYS),
    # a dead letter back to the topic it was consumed from
    ("services/replay/dead_letter_admin.py", "letter.source_topic"): frozenset(
        {
            t
            for c in ("decision", "tripletex-writer", "svenn-writer", "projections")
            for t in role_access(c).reads
        }
    ),
}
_SENDS = {"send", "send_and_wait", "publish", "store"}
_CONSTANTS = {
    name: frozenset({value})
    for name, value in vars(contract_topics).items()
    if name.isupper() and isinstance(value, str) and value.endswith(".v1")
}
_CONSTANTS["CHANGE_TOPICS"] = frozenset(CHANGE_TOPICS.values())
_CONSTANTS["COMMAND_TOPICS"] = frozenset(COMMAND_TOPICS.values())


def _is_kafka_send(call: ast.Call) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in _SENDS:
        return False
    receiver = ast.unparse(func.value).lower()
    return receiver == "self" or any(w in receiver for w in ("publisher", "producer", "broker"))


def _topic_arg(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "topic":
            return keyword.value
    return call.args[0] if call.args else None


def _resolve(expr: ast.expr, function: ast.AST) -> frozenset[str] | None:
    names = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
    found = frozenset().union(*(_CONSTANTS[n] for n in names if n in _CONSTANTS))
    if found:
        return found
    if isinstance(expr, ast.Name):  # `topic = CHANGE_TOPICS[...]` earlier in the function
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == expr.id for t in node.targets
            ):
                assigned = _resolve(node.value, function)
                if assigned:
                    return assigned
    return None


def publishes() -> list[tuple[str, int, str, frozenset[str] | None]]:
    """(module, line, topic expression, topics it can be or None) for every publish in the code."""
    found = []
    for path in sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("projections/**/*.py")]):
        module = str(path.relative_to(ROOT))
        if "/simulator/" in module or "/client/" in module or module.startswith("services/restsim"):
            continue  # the simulators and HTTP clients send HTTP, not Kafka messages
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and _is_kafka_send(node):
                    topic = _topic_arg(node)
                    if topic is None:
                        continue
                    text = ast.unparse(topic).replace('"', "'")
                    resolved = (
                        DYNAMIC[(module, text)] if (module, text) in DYNAMIC else _resolve(topic, function)
                    )
                    found.append((module, node.lineno, text, resolved))
    return found


def test_every_publish_is_found() -> None:
    modules = {module for module, *_ in publishes()}
    # the scan sees the publishers it must see (a rename of `send` would otherwise pass silently)
    assert {"services/decision/consumer.py", "services/core/writer.py", "services/ingest/http.py"} <= modules


@pytest.mark.parametrize("module,line,topic,resolved", publishes(), ids=lambda v: str(v))
def test_each_publish_is_granted_to_its_roles(
    module: str, line: int, topic: str, resolved: frozenset[str] | None
) -> None:
    assert resolved is not None, f"{module}:{line}: which topic is {topic}? add it to DYNAMIC"
    if not resolved:
        return  # a passthrough or a dead-letter topic, checked where it is decided
    assert module in MODULE_ROLES, f"{module}:{line} publishes {topic}: which role runs it? (MODULE_ROLES)"
    for role in MODULE_ROLES[module]:
        missing = resolved - PUBLISHES[role]
        assert not missing, f"{module}:{line}: role {role} publishes {sorted(missing)}; add to PUBLISHES"


def test_reads_and_groups_come_from_the_runtime() -> None:
    assert role_access("decision").reads == set(CHANGE_TOPICS.values())
    assert role_access("decision").groups == {"sync-decision"}
    assert role_access("ingest").groups == set()
    assert {
        g
        for r in ("decision", "tripletex-writer", "svenn-writer", "projections")
        for g in role_access(r).groups
    } == set(CONSUMERS)
    for role in ("decision", "tripletex-writer", "svenn-writer", "projections"):
        access = role_access(role)
        assert {dead_letter_topic(g) for g in access.groups} <= access.writes


def test_writers_may_release_parked_commands_to_their_own_topic_only() -> None:
    """``publish_parked`` (a side's outage ended) puts a writer's parked commands back on its own topic."""
    calls = [
        str(path.relative_to(ROOT))
        for path in ROOT.glob("services/**/*.py")
        if "publish_parked(" in path.read_text(encoding="utf-8")
        and str(path.relative_to(ROOT)) != "services/tenants/resume.py"
    ]
    for module in calls:
        for role in MODULE_ROLES.get(module, ()):
            if role in OWN_COMMANDS:
                assert PUBLISHES[role] & set(COMMAND_TOPICS.values()) == {OWN_COMMANDS[role]}, role
