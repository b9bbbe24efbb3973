"""The manifest check keeps the edge closed: only /webhooks/ is routed from outside, never to the
internal port, and Prometheus scrapes the port /metrics is on."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

CHECK = Path(__file__).resolve().parents[2] / "deploy/k8s/check.py"
spec = importlib.util.spec_from_file_location("deploy_check_edge", CHECK)
assert spec and spec.loader
deploy_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(deploy_check)

SERVICES: list[dict[str, Any]] = [
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": "ingest"},
            "ports": [{"name": port, "port": number, "targetPort": port}],
        },
    }
    for name, port, number in (("ingest", "http", 80), ("ingest-internal", "internal", 8081))
]


def ingress(path: str, service: str, port: str) -> dict[str, Any]:
    backend = {"service": {"name": service, "port": {"name": port}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "webhooks"},
        "spec": {
            "rules": [
                {
                    "host": "sync.example.com",
                    "http": {"paths": [{"path": path, "pathType": "Prefix", "backend": backend}]},
                }
            ]
        },
    }


def deployment(scraped: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "tripletex-sync-ingest"},
        "spec": {
            "selector": {"matchLabels": {"app": "ingest"}},
            "template": {
                "metadata": {"labels": {"app": "ingest"}, "annotations": {"prometheus.io/port": scraped}},
                "spec": {
                    "containers": [
                        {
                            "name": "ingest",
                            "image": "x",
                            "args": ["run", "ingest"],
                            "ports": [
                                {"name": "http", "containerPort": 8080},
                                {"name": "internal", "containerPort": 8081},
                            ],
                        }
                    ]
                },
            },
        },
    }


def problems(*documents: dict[str, Any]) -> list[str]:
    return deploy_check._edge(deploy_check._by_kind(list(documents)))


def test_webhooks_on_the_public_port_and_metrics_scraped_on_the_internal_one_pass() -> None:
    assert problems(*SERVICES, ingress("/webhooks/", "ingest", "http"), deployment("8081")) == []


def test_an_ingress_routing_more_than_webhooks_fails() -> None:
    (problem,) = problems(*SERVICES, ingress("/", "ingest", "http"))
    assert "routes / to ingest:http" in problem


def test_an_ingress_routing_to_the_internal_port_fails() -> None:
    assert problems(*SERVICES, ingress("/webhooks/", "ingest-internal", "internal"))
    by_number = copy.deepcopy(ingress("/webhooks/", "ingest-internal", "internal"))
    by_number["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"number": 8081}
    assert problems(*SERVICES, by_number)


def test_prometheus_scraping_the_public_port_fails() -> None:
    (problem,) = problems(deployment("8080"))
    assert "/metrics is on the internal port 8081" in problem


def test_a_secret_key_that_is_no_setting_fails() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"INGEST_TOKEN": ""},
    }
    assert any("Secret/s: INGEST_TOKEN is not a setting" in p for p in deploy_check.check([secret]))
