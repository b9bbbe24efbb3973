"""Who may reach what, checked against the code: KafkaUser ACLs, KEDA's Kafka login, NetworkPolicies.

Called by ``check.py`` (``problems``). With ``complete`` (a whole rendered overlay) it also
requires a ``KafkaUser`` per role and for the operator, a ``NetworkPolicy`` for every workload,
TLS to Kafka and a login for KEDA; without it (hand-made fragments in unit tests) it checks what
is there.

- **KafkaUser ACLs** are exactly ``services.core.kafka_access.role_access`` of the role named by the
  user's ``tripletex-sync/kafka-role`` label, with the ConfigMap's ``TOPIC_PREFIX``: topics it reads
  (Read, Describe), topics it writes (Write, Describe), its consumer groups (Read). What a role
  reads and its groups come from the broker its ``Runtime`` builds, so they cannot drift.
- **KEDA** measures a consumer group's lag as the role it scales (its ``TriggerAuthentication``
  takes the target container's ``KAFKA_SASL_*``), over TLS with the cluster's CA: every Kafka
  trigger names it and says ``sasl``/``tls`` as ``KAFKA_SECURITY_PROTOCOL`` does.
- **Deployments** log in as their role's user (``KAFKA_SASL_USERNAME``, ``KAFKA_SASL_PASSWORD`` from
  the Secret Strimzi creates for it) and mount the CA file ``KAFKA_SSL_CA_FILE`` names.
- **NetworkPolicies**: the public port (``http``) is open only to namespaces (the Ingress
  controller's) and only on the ingest and the panel (projections); the internal port only to
  named pods or namespaces (producers, operators, Prometheus), never to everyone; egress to
  Kafka only from workloads that run a role, to PostgreSQL only from those whose code opens the
  database (``Runtime(...).database``, or ``tsync migrate``), DNS for all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import SecretStr

from services.core.kafka_access import OPERATOR, offline_settings, role_access
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory
from services.runtime import ALL_ROLES, Role, Runtime

ROLE_LABEL = "tripletex-sync/kafka-role"
Acl = tuple[str, str, str]  # (resource type, name, operation)


def expected_acls(role: str, prefix: str) -> set[Acl]:
    """What the KafkaUser of ``role`` (a role, or ``operator``) must grant, no more, no less."""
    access = role_access(role)
    acls: set[Acl] = set()
    for topic in access.reads:
        acls |= {("topic", prefix + topic, "Read"), ("topic", prefix + topic, "Describe")}
    for topic in access.writes:
        acls |= {("topic", prefix + topic, "Write"), ("topic", prefix + topic, "Describe")}
    acls |= {("group", prefix + group, "Read") for group in access.groups}
    return acls


def granted(user: dict[str, Any]) -> tuple[set[Acl], list[str]]:
    """The (type, name, operation) a KafkaUser grants, and what is wrong with its ACL entries."""
    acls: set[Acl] = set()
    wrong = []
    for acl in user["spec"].get("authorization", {}).get("acls", []):
        resource = acl["resource"]
        if resource.get("patternType", "literal") != "literal" or acl.get("type", "allow") != "allow":
            wrong.append(f"{resource.get('name')}: only literal allow rules (no prefixes or wildcards)")
        if acl.get("host", "*") != "*":
            wrong.append(f"{resource.get('name')}: host {acl['host']!r}")
        for operation in acl.get("operations", []):
            acls.add((resource["type"], resource.get("name", ""), operation))
    return acls, wrong


def _config(by_kind: dict[str, list[dict[str, Any]]], kind: str, key: str) -> str | None:
    for doc in by_kind.get(kind, []):
        values = {**doc.get("data", {}), **doc.get("stringData", {})}
        if key in values:
            return str(values[key])
    return None


def _role_of(workload: dict[str, Any]) -> tuple[str, list[str]]:
    """(kind of workload, the CLI arguments of its container)."""
    containers = workload["spec"]["template"]["spec"]["containers"]
    return workload["kind"], list(containers[0].get("args", []))


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _kafka_users(by_kind: dict[str, list[dict[str, Any]]], prefix: str, complete: bool) -> list[str]:
    problems = []
    users: dict[str, dict[str, Any]] = {}
    for user in by_kind.get("KafkaUser", []):
        name = user["metadata"]["name"]
        role = user["metadata"].get("labels", {}).get(ROLE_LABEL)
        if role is None:
            problems.append(f"KafkaUser/{name}: no {ROLE_LABEL} label saying whose access it is")
            continue
        users[role] = user
        if user["spec"].get("authentication", {}).get("type") not in ("scram-sha-512", "tls"):
            problems.append(f"KafkaUser/{name}: authentication must be scram-sha-512 or tls")
        acls, wrong = granted(user)
        problems += [f"KafkaUser/{name}: {w}" for w in wrong]
        if role not in {str(r) for r in ALL_ROLES} | {OPERATOR}:
            problems.append(f"KafkaUser/{name}: {role!r} is no role")
            continue
        expected = expected_acls(role, prefix)
        for acl in sorted(expected - acls):
            problems.append(f"KafkaUser/{name}: missing {acl[2]} on {acl[0]} {acl[1]} ({role} uses it)")
        for acl in sorted(acls - expected):
            problems.append(
                f"KafkaUser/{name}: grants {acl[2]} on {acl[0]} {acl[1]}, which {role} does not use"
            )
    if complete:
        for role in [*(str(r) for r in ALL_ROLES), OPERATOR]:
            if role not in users:
                problems.append(f"no KafkaUser for {role} (label {ROLE_LABEL}: {role})")
    for deployment in by_kind.get("Deployment", []):
        _, args = _role_of(deployment)
        user = users.get(args[1]) if args[:1] == ["run"] and len(args) == 2 else None
        if user is None:
            continue  # not one role, or its user is missing (reported above for a whole overlay)
        name = deployment["metadata"]["name"]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = _env(container)
        username = env.get("KAFKA_SASL_USERNAME", {}).get("value")
        secret = env.get("KAFKA_SASL_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef", {})
        wanted = user["metadata"]["name"]
        if username != wanted or secret.get("name") != wanted or secret.get("key") != "password":
            problems.append(
                f"Deployment/{name}: must log in to Kafka as {wanted} (KAFKA_SASL_USERNAME, and "
                f"KAFKA_SASL_PASSWORD from Secret {wanted} key password)"
            )
        ca_file = _config(by_kind, "ConfigMap", "KAFKA_SSL_CA_FILE")
        mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
        if ca_file and not any(ca_file.startswith(m.rstrip("/") + "/") for m in mounts):
            problems.append(f"Deployment/{name}: mounts nothing at {ca_file} (KAFKA_SSL_CA_FILE)")
    return problems


def _scalers(by_kind: dict[str, list[dict[str, Any]]], complete: bool) -> list[str]:
    problems = []
    bootstrap = _config(by_kind, "ConfigMap", "KAFKA_BOOTSTRAP_SERVERS")
    protocol = _config(by_kind, "ConfigMap", "KAFKA_SECURITY_PROTOCOL")
    mechanism = _config(by_kind, "ConfigMap", "KAFKA_SASL_MECHANISM") or "SCRAM-SHA-512"
    # KEDA's names: scram_sha512 / scram_sha256, tls: enable
    wanted = {
        "sasl": "scram_" + mechanism.lower().removeprefix("scram-").replace("-", "")
        if protocol and protocol.startswith("SASL_")
        else None,
        "tls": "enable" if protocol in ("SSL", "SASL_SSL") else None,
    }
    authentications = {a["metadata"]["name"] for a in by_kind.get("TriggerAuthentication", [])}
    for scaled in by_kind.get("ScaledObject", []):
        name = scaled["metadata"]["name"]
        for trigger in scaled["spec"]["triggers"]:
            if bootstrap is not None and trigger["metadata"]["bootstrapServers"] != bootstrap:
                problems.append(
                    f"ScaledObject/{name}: bootstrapServers is not KAFKA_BOOTSTRAP_SERVERS ({bootstrap})"
                )
            if protocol is not None:
                for key, value in wanted.items():
                    if trigger["metadata"].get(key) != value:
                        problems.append(
                            f"ScaledObject/{name}: {key} must be {value} (KAFKA_SECURITY_PROTOCOL)"
                        )
            reference = trigger.get("authenticationRef", {}).get("name")
            if (complete or authentications) and reference not in authentications:
                problems.append(f"ScaledObject/{name}: a kafka trigger without a TriggerAuthentication")
    return problems


# ----------------------------------------------------------------------------- network policies
def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = policy["spec"].get("podSelector", {}).get("matchLabels", {})
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def _ports(rule: dict[str, Any]) -> set[str]:
    return {str(p.get("port")) for p in rule.get("ports", [])}


def _uses_database(args: list[str], registry: bool) -> bool:
    if args[:1] == ["migrate"]:
        return True
    if args[:1] != ["run"]:
        return False
    key = SecretStr(Fernet.generate_key().decode()) if registry else None
    settings = offline_settings(tenant_secret_keys=key)
    tenants = None if registry else StaticTenantDirectory()
    return Runtime(settings, [Role(r) for r in args[1:]], tenants=tenants).database is not None


def _network_policies(by_kind: dict[str, list[dict[str, Any]]], complete: bool) -> list[str]:
    problems = []
    policies = by_kind.get("NetworkPolicy", [])
    if not policies and not complete:
        return []
    kafka_port = (_config(by_kind, "ConfigMap", "KAFKA_BOOTSTRAP_SERVERS") or ":9093").rsplit(":", 1)[1]
    database_port = str(
        urlsplit(_config(by_kind, "Secret", "DATABASE_URL") or "postgresql://db").port or 5432
    )
    registry = _config(by_kind, "Secret", "TENANT_SECRET_KEYS") is not None
    public = str(Settings.model_fields["http_port"].default)
    for policy in policies:
        name = policy["metadata"]["name"]
        for rule in policy["spec"].get("ingress", []):
            peers = rule.get("from")
            if not peers or not rule.get("ports"):
                problems.append(f"NetworkPolicy/{name}: an ingress rule open to every peer or every port")
                continue
            for peer in peers:
                named = any(peer.get(s, {}).get("matchLabels") for s in ("podSelector", "namespaceSelector"))
                if "ipBlock" in peer or not named:
                    problems.append(f"NetworkPolicy/{name}: ingress from an unnamed peer {peer}")
    for workload in by_kind.get("Deployment", []) + by_kind.get("Job", []):
        kind, args = _role_of(workload)
        name = workload["metadata"]["name"]
        labels = workload["spec"]["template"]["metadata"].get("labels", {})
        chosen = [p for p in policies if _selects(p, labels)]
        if not chosen:
            if complete:
                problems.append(f"{kind}/{name}: no NetworkPolicy selects its pods")
            continue
        if len(chosen) > 1:
            problems.append(
                f"{kind}/{name}: {len(chosen)} NetworkPolicies select its pods; keep one per role"
            )
        spec = chosen[0]["spec"]
        if set(spec.get("policyTypes", [])) != {"Ingress", "Egress"}:
            problems.append(f"{kind}/{name}: its NetworkPolicy must restrict both Ingress and Egress")
        roles = args[1:] if args[:1] == ["run"] else []
        for rule in spec.get("ingress", []):
            ports = _ports(rule) & {public, "http"}
            if ports and not set(roles) & {Role.INGEST, Role.PROJECTIONS}:
                problems.append(
                    f"{kind}/{name}: the public port is open, but only the ingest and the panel serve it"
                )
            if ports and any("namespaceSelector" not in peer for peer in rule.get("from", [])):
                problems.append(
                    f"{kind}/{name}: the public port is open to pods, not only the Ingress's namespace"
                )
        egress = set().union(*(_ports(rule) for rule in spec.get("egress", [])))
        uses = {
            "Kafka": (kafka_port, bool(roles)),
            "PostgreSQL": (database_port, _uses_database(args, registry)),
        }
        for what, (port, used) in uses.items():
            if used and port not in egress:
                problems.append(
                    f"{kind}/{name}: uses {what} but its NetworkPolicy allows no egress to port {port}"
                )
            if not used and port in egress:
                problems.append(f"{kind}/{name}: egress to {what} (port {port}), which it does not use")
        if "53" not in egress:
            problems.append(f"{kind}/{name}: no DNS egress (port 53)")
        if any(not rule.get("ports") for rule in spec.get("egress", [])):
            problems.append(f"{kind}/{name}: an egress rule to every port")
    return problems


def problems(by_kind: dict[str, list[dict[str, Any]]], *, complete: bool) -> list[str]:
    prefix = _config(by_kind, "ConfigMap", "TOPIC_PREFIX") or ""
    found = _kafka_users(by_kind, prefix, complete) + _scalers(by_kind, complete)
    found += _network_policies(by_kind, complete)
    if complete and _config(by_kind, "ConfigMap", "KAFKA_SECURITY_PROTOCOL") not in ("SASL_SSL", "SSL"):
        found.append("ConfigMap: KAFKA_SECURITY_PROTOCOL must be SASL_SSL or SSL in a cluster")
    return found


HEADER = """\
# One Strimzi KafkaUser per role, and one for the operator's CLI: SCRAM-SHA-512 logins with ACLs
# for exactly the topics and consumer groups that role uses (services/core/kafka_access.py, with
# TOPIC_PREFIX). Written by `python deploy/k8s/check_access.py > deploy/k8s/base/kafka-users.yaml`;
# `make check-deploy` fails when they differ from the code. Strimzi's User Operator creates a
# Secret per user (same name, key `password`) that the role's Deployment reads.
"""


def render_users(prefix: str = "") -> str:
    """kafka-users.yaml: every role's and the operator's KafkaUser, one ACL per line."""
    documents = []
    for role in [*(str(r) for r in ALL_ROLES), OPERATOR]:
        acls: dict[tuple[str, str], list[str]] = {}
        for kind, name, operation in sorted(expected_acls(role, prefix)):
            acls.setdefault((kind, name), []).append(operation)
        lines = [
            "apiVersion: kafka.strimzi.io/v1beta2",
            "kind: KafkaUser",
            "metadata:",
            f"  name: tripletex-sync-{role}",
            "  labels:",
            "    strimzi.io/cluster: tripletex-sync",
            f"    {ROLE_LABEL}: {role}",
            "spec:",
            "  authentication:",
            "    type: scram-sha-512",
            "  authorization:",
            "    type: simple",
            "    acls:",
            *(
                f"      - {{resource: {{type: {kind}, name: {name}, patternType: literal}}, "
                f'operations: [{", ".join(operations)}], host: "*"}}'
                for (kind, name), operations in acls.items()
            ),
        ]
        documents.append("\n".join(lines) + "\n")
    return HEADER + "---\n".join(documents)


if __name__ == "__main__":
    print(render_users(), end="")
