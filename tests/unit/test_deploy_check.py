"""The offline manifest check must catch what a real cluster would refuse or silently ignore."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import pytest

CHECK = Path(__file__).resolve().parents[2] / "deploy/k8s/check.py"
spec = importlib.util.spec_from_file_location("deploy_check", CHECK)
assert spec and spec.loader
deploy_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(deploy_check)

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "tripletex-sync-decision"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "d"}},
        "template": {
            "metadata": {"labels": {"app": "d"}},
            "spec": {"containers": [{"name": "decision", "image": "x", "args": ["run", "decision"]}]},
        },
    },
}
SCALED: dict[str, Any] = {
    "apiVersion": "keda.sh/v1alpha1",
    "kind": "ScaledObject",
    "metadata": {"name": "tripletex-sync-decision"},
    "spec": {
        "scaleTargetRef": {"name": "tripletex-sync-decision"},
        "triggers": [
            {
                "type": "kafka",
                "metadata": {
                    "bootstrapServers": "k:9092",
                    "consumerGroup": "sync-decision",
                    "topic": "svenn.changes.v1",
                    "lagThreshold": "1000",
                },
            }
        ],
    },
}


def topics(*missing: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": {"name": spec.name.replace(".", "-"), "labels": {"strimzi.io/cluster": "c"}},
            "spec": {"topicName": spec.name, "partitions": 6, "replicas": 3, "config": spec.configs()},
        }
        for spec in deploy_check.topic_specs(6)
        if spec.name not in missing
    ]


def test_a_consistent_set_passes() -> None:
    assert deploy_check.check([DEPLOYMENT, SCALED, *topics()]) == []


def test_a_misspelt_kubernetes_field_fails() -> None:
    broken = copy.deepcopy(DEPLOYMENT)
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    assert any("replica" in p for p in deploy_check.check([broken, *topics()]))


def test_a_misspelt_custom_resource_field_fails() -> None:
    broken = copy.deepcopy(SCALED)
    broken["spec"]["triggers"][0]["metadata"]["lagTreshold"] = "5"
    assert deploy_check.check([DEPLOYMENT, broken, *topics()])


@pytest.mark.parametrize(
    ("topic", "key", "value"),
    [
        ("svenn.changes.v1", "retention.ms", -1),  # kept forever: personal data with no end
        ("tripletex.commands.v1", "retention.ms", 2419200000),
        ("sync.outcomes.v1", "cleanup.policy", "delete"),
        ("sync.decisions.v1", "max.compaction.lag.ms", None),
    ],
)
def test_a_kafka_topic_whose_retention_differs_from_the_code_fails(
    topic: str, key: str, value: object
) -> None:
    documents = topics()
    (doc,) = [d for d in documents if d["spec"]["topicName"] == topic]
    if value is None:
        del doc["spec"]["config"][key]
    else:
        doc["spec"]["config"][key] = value
    (spec,) = [s for s in deploy_check.topic_specs(6) if s.name == topic]
    problems = deploy_check.check([DEPLOYMENT, SCALED, *documents])
    assert problems == [
        f"topic {topic}: {key} is {value!r} in its KafkaTopic, {spec.configs()[key]} in contracts/topics.py"
    ]


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        ([DEPLOYMENT, SCALED, *topics("sync.outcomes.v1")], "topic sync.outcomes.v1 has no KafkaTopic"),
        ([SCALED, *topics()], "scales a Deployment that does not exist"),
        (
            [
                {
                    **DEPLOYMENT,
                    "spec": {
                        **DEPLOYMENT["spec"],
                        "template": {
                            "metadata": {"labels": {"app": "d"}},
                            "spec": {
                                "containers": [{"name": "d", "image": "x", "args": ["run", "deciding"]}]
                            },
                        },
                    },
                },
                *topics(),
            ],
            "unknown command",
        ),
        (
            [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "c"},
                    "data": {"KAFKA_BOOTSTRAP": "x"},
                }
            ],
            "KAFKA_BOOTSTRAP is not a setting",
        ),
    ],
)
def test_inconsistency_with_the_code_fails(documents: list[dict[str, Any]], expected: str) -> None:
    assert any(expected in p for p in deploy_check.check(documents))
