"""Offline check of the rendered Kubernetes manifests (no cluster needed).

- every Kubernetes kind against its official schema (bundled in ``kubernetes-validate``), strictly;
- KEDA ``ScaledObject`` and Strimzi ``KafkaTopic`` against the schemas in ``schemas/``;
- consistency with the code: every topic in ``contracts.topics`` has a ``KafkaTopic`` with the
  retention and cleanup policy the code gives it (``TopicSpec.configs``), every
  consumer group is scaled on its own topics, every ConfigMap and Secret key is a setting the
  services read, and every role runs a command the CLI knows;
- the edge: an Ingress routes only ``/webhooks/`` and never to an internal port, and Prometheus
  scrapes ``/metrics`` on each pod's internal port (where it is served);
- who may reach what (``check_access.py``): each role's ``KafkaUser`` grants exactly the topics and
  groups its code uses, Deployments log in as it over TLS, KEDA too, and a ``NetworkPolicy`` per
  workload opens only what that role serves and reaches only what it uses.

Usage: python deploy/k8s/check.py RENDERED.yaml [...]   (``deploy/k8s/check.sh`` renders and calls it)
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from contracts.topics import topic_specs
from services.core.settings import Settings
from services.runtime import ALL_ROLES

KUBERNETES_VERSION = "1.32.0"
HERE = Path(__file__).resolve().parent
CUSTOM = {
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject.keda.sh-v1alpha1.json",
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "kafkatopic.kafka.strimzi.io-v1beta2.json",
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): "kafkauser.kafka.strimzi.io-v1beta2.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication.keda.sh-v1alpha1.json",
}
OTEL_KEYS = {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"}


def _sibling(name: str) -> ModuleType:
    """A module next to this file (this file is run as a script and loaded by path in tests)."""
    spec = importlib.util.spec_from_file_location(f"deploy_k8s_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


access = _sibling("check_access")  # KafkaUser ACLs, KEDA's Kafka login, NetworkPolicies


def check(documents: list[dict[str, Any]], *, complete: bool = False) -> list[str]:
    """Problems of ``documents``; ``complete``: they are a whole overlay (every role's user and policy)."""
    problems: list[str] = []
    for doc in documents:
        where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        key = (doc.get("apiVersion"), doc.get("kind"))
        try:
            if key in CUSTOM:
                schema = json.loads((HERE / "schemas" / CUSTOM[key]).read_text())  # type: ignore[index]
                jsonschema.validate(doc, schema)
            else:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            problems.append(f"{where}: {getattr(exc, 'message', exc)}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: no schema for {key}")
    return problems + _consistency(documents) + access.problems(_by_kind(documents), complete=complete)


def _by_kind(documents: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in documents:
        by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def _consistency(documents: list[dict[str, Any]]) -> list[str]:
    problems = []
    by_kind = _by_kind(documents)
    configs = {
        d["spec"].get("topicName", d["metadata"]["name"]): d["spec"].get("config", {})
        for d in by_kind.get("KafkaTopic", [])
    }
    topics = set(configs)
    for spec in topic_specs(6):
        if spec.name not in topics:
            problems.append(f"topic {spec.name} has no KafkaTopic")
            continue
        for key, value in spec.configs().items():
            # Retention and cleanup policy decide how long personal data stays: exactly as the code says.
            if str(configs[spec.name].get(key)) != value:
                problems.append(
                    f"topic {spec.name}: {key} is {configs[spec.name].get(key)!r} in its KafkaTopic, "
                    f"{value} in contracts/topics.py"
                )
    settings = {name.upper() for name in Settings.model_fields}
    for config in by_kind.get("ConfigMap", []) + by_kind.get("Secret", []):
        for key in {**config.get("data", {}), **config.get("stringData", {})}:
            if key not in settings | OTEL_KEYS:
                problems.append(
                    f"{config['kind']}/{config['metadata']['name']}: {key} is not a setting the services read"
                )
    problems += _edge(by_kind)
    roles = {str(role) for role in ALL_ROLES}
    for deployment in by_kind.get("Deployment", []):
        args = deployment["spec"]["template"]["spec"]["containers"][0].get("args", [])
        if args[:1] != ["run"] or not set(args[1:]) <= roles:
            problems.append(f"Deployment/{deployment['metadata']['name']}: unknown command {args}")
    deployments = {d["metadata"]["name"] for d in by_kind.get("Deployment", [])}
    for scaled in by_kind.get("ScaledObject", []):
        if scaled["spec"]["scaleTargetRef"]["name"] not in deployments:
            problems.append(
                f"ScaledObject/{scaled['metadata']['name']}: scales a Deployment that does not exist"
            )
        for trigger in scaled["spec"]["triggers"]:
            if trigger["metadata"]["topic"] not in topics:
                problems.append(
                    f"ScaledObject/{scaled['metadata']['name']}: topic {trigger['metadata']['topic']}"
                )
    return problems


def _edge(by_kind: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Only webhooks are public; the internal port (ingest API, readiness, metrics) stays inside."""
    problems = []
    internal_ports = {
        (service["metadata"]["name"], port.get("name")): port
        for service in by_kind.get("Service", [])
        for port in service["spec"]["ports"]
        if port.get("targetPort") == "internal"
    }
    for ingress in by_kind.get("Ingress", []):
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                service = path["backend"]["service"]
                port = service["port"].get("name") or service["port"].get("number")
                exposed = any(
                    name == service["name"] and port in (port_name, spec["port"])
                    for (name, port_name), spec in internal_ports.items()
                )
                if not path["path"].startswith("/webhooks/") or exposed:
                    problems.append(
                        f"Ingress/{ingress['metadata']['name']}: routes {path['path']} to "
                        f"{service['name']}:{port}; only /webhooks/ on a public port may be routed"
                    )
    internal_port = str(Settings.model_fields["internal_http_port"].default)
    for deployment in by_kind.get("Deployment", []):
        template = deployment["spec"]["template"]
        scraped = template["metadata"].get("annotations", {}).get("prometheus.io/port")
        ports = {str(p["containerPort"]) for p in template["spec"]["containers"][0].get("ports", [])}
        if scraped is not None and (scraped != internal_port or scraped not in ports):
            problems.append(
                f"Deployment/{deployment['metadata']['name']}: Prometheus scrapes port {scraped}, "
                f"but /metrics is on the internal port {internal_port}"
            )
    return problems


def main(paths: list[str]) -> int:
    failed = False
    for path in paths:
        documents = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
        problems = check(documents, complete=True)
        print(f"{path}: {len(documents)} resources, {len(problems)} problems")
        for problem in problems:
            print(f"  - {problem}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
