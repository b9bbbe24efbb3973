"""The manifest check keeps Kafka and the network closed: each role's KafkaUser grants exactly what
its code uses, every Deployment logs in as its own user over TLS, and each workload's
NetworkPolicy opens only what that role serves and reaches only what it uses."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.core import kafka_access

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy/k8s/base"
spec = importlib.util.spec_from_file_location("deploy_check_access", ROOT / "deploy/k8s/check.py")
assert spec and spec.loader
deploy_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(deploy_check)


def base() -> list[dict[str, Any]]:
    """The base manifests as kustomize lists them (what the overlays render, before their patches)."""
    resources = yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"]
    return [d for r in resources for d in yaml.safe_load_all((BASE / r).read_text()) if d]


def find(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def problems(documents: list[dict[str, Any]]) -> list[str]:
    """What the access check finds (the schemas are validated once, in the first test)."""
    return deploy_check.access.problems(deploy_check._by_kind(documents), complete=True)


def test_the_base_passes() -> None:
    assert deploy_check.check(base(), complete=True) == []


def test_the_kafka_users_file_is_what_the_code_says() -> None:
    assert (BASE / "kafka-users.yaml").read_text() == deploy_check.access.render_users()


def test_a_missing_or_extra_acl_fails() -> None:
    documents = base()
    decision = find(documents, "KafkaUser", "tripletex-sync-decision")
    acls = decision["spec"]["authorization"]["acls"]
    acls[:] = [a for a in acls if a["resource"]["name"] != "svenn.changes.v1"]
    ingest = find(documents, "KafkaUser", "tripletex-sync-ingest")
    ingest["spec"]["authorization"]["acls"].append(
        {"resource": {"type": "topic", "name": "sync.outcomes.v1"}, "operations": ["Read"], "host": "*"}
    )
    found = problems(documents)
    assert (
        "KafkaUser/tripletex-sync-decision: missing Read on topic svenn.changes.v1 (decision uses it)"
        in found
    )
    assert any("tripletex-sync-ingest: grants Read on topic sync.outcomes.v1" in p for p in found)


def test_a_wildcard_or_prefixed_acl_fails() -> None:
    documents = base()
    writer = find(documents, "KafkaUser", "tripletex-sync-svenn-writer")
    writer["spec"]["authorization"]["acls"].append(
        {"resource": {"type": "topic", "name": "sync.", "patternType": "prefix"}, "operations": ["Write"]}
    )
    assert any("only literal allow rules" in p for p in problems(documents))


def test_acls_follow_the_code_and_the_topic_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """A role that starts publishing somewhere new fails until its KafkaUser grants it."""
    monkeypatch.setitem(
        kafka_access.PUBLISHES, "projections", kafka_access.PUBLISHES["projections"] | {"sync.outcomes.v1"}
    )
    assert any(
        "tripletex-sync-projections: missing Write on topic sync.outcomes.v1" in p for p in problems(base())
    )
    monkeypatch.undo()
    documents = base()
    find(documents, "ConfigMap", "tripletex-sync")["data"]["TOPIC_PREFIX"] = "staging."
    found = problems(documents)
    assert (
        "KafkaUser/tripletex-sync-decision: missing Read on group staging.sync-decision (decision uses it)"
        in found
    )


def test_every_role_and_the_operator_need_a_user() -> None:
    documents = [d for d in base() if d["metadata"]["name"] != "tripletex-sync-operator"]
    assert "no KafkaUser for operator (label tripletex-sync/kafka-role: operator)" in problems(documents)


def test_a_deployment_logging_in_as_another_role_fails() -> None:
    documents = base()
    deployment = find(documents, "Deployment", "tripletex-sync-ingest")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    for variable in env:
        if variable["name"] == "KAFKA_SASL_PASSWORD":
            variable["valueFrom"]["secretKeyRef"]["name"] = "tripletex-sync-operator"
    assert any(
        "Deployment/tripletex-sync-ingest: must log in to Kafka as tripletex-sync-ingest" in p
        for p in problems(documents)
    )


def test_plaintext_kafka_or_a_scaler_without_login_fails() -> None:
    documents = base()
    find(documents, "ConfigMap", "tripletex-sync")["data"]["KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"
    found = problems(documents)
    assert "ConfigMap: KAFKA_SECURITY_PROTOCOL must be SASL_SSL or SSL in a cluster" in found
    documents = base()
    scaled = find(documents, "ScaledObject", "tripletex-sync-decision")
    del scaled["spec"]["triggers"][0]["authenticationRef"]
    assert (
        "ScaledObject/tripletex-sync-decision: a kafka trigger without a TriggerAuthentication"
        in problems(documents)
    )


def _policy(documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return find(documents, "NetworkPolicy", name)["spec"]


def test_the_public_port_is_open_only_on_the_ingest_and_the_panel() -> None:
    documents = base()
    ingest_rule = copy.deepcopy(_policy(documents, "tripletex-sync-ingest")["ingress"][0])
    _policy(documents, "tripletex-sync-decision")["ingress"].append(ingest_rule)
    assert any(
        "Deployment/tripletex-sync-decision: the public port is open" in p for p in problems(documents)
    )


def test_an_ingress_rule_open_to_everyone_fails() -> None:
    documents = base()
    _policy(documents, "tripletex-sync-ingest")["ingress"][1]["from"] = []
    found = problems(documents)
    assert "NetworkPolicy/tripletex-sync-ingest: an ingress rule open to every peer or every port" in found
    documents = base()
    _policy(documents, "tripletex-sync-ingest")["ingress"][1]["from"].append(
        {"ipBlock": {"cidr": "0.0.0.0/0"}}
    )
    assert any("ingress from an unnamed peer" in p for p in problems(documents))


def test_kafka_and_postgresql_egress_only_for_what_uses_them() -> None:
    documents = base()
    kafka_rule = next(
        r for r in _policy(documents, "tripletex-sync-decision")["egress"] if r["ports"][0]["port"] == 9093
    )
    _policy(documents, "tripletex-sync-migrate")["egress"].append(copy.deepcopy(kafka_rule))
    writer = _policy(documents, "tripletex-sync-svenn-writer")
    writer["egress"] = [r for r in writer["egress"] if r["ports"][0]["port"] != 5432]
    found = problems(documents)
    assert "Job/tripletex-sync-migrate: egress to Kafka (port 9093), which it does not use" in found
    assert (
        "Deployment/tripletex-sync-svenn-writer: uses PostgreSQL but its NetworkPolicy allows no egress "
        "to port 5432" in found
    )


def test_a_workload_without_a_policy_fails() -> None:
    documents = [
        d
        for d in base()
        if d["metadata"]["name"] != "tripletex-sync-projections" or d["kind"] != "NetworkPolicy"
    ]
    assert "Deployment/tripletex-sync-projections: no NetworkPolicy selects its pods" in problems(documents)
