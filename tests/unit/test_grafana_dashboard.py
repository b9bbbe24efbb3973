"""deploy/grafana/tripletex-sync.json: a valid dashboard whose queries use only metrics the engine exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

from services.core import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "tripletex-sync.json"
# Labels Prometheus adds when it scrapes (Kubernetes service discovery, static configs) and histogram buckets.
SCRAPE_LABELS = {"namespace", "pod", "instance", "job", "le"}
# What the project asks the dashboard to show (issue 6), as metric family names.
REQUIRED = {
    "tsync_messages_consumed",  # events in per topic
    "tsync_messages_published",  # events out per topic
    "tsync_decisions",  # decisions per rule
    "tsync_writes",  # writes per outcome
    "tsync_error_log_open_entries",  # open error-log entries per code
    "tsync_consumer_lag_messages",  # consumer lag
    "tsync_rate_limit_remaining",  # rate limit remaining
}
_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


def _exported() -> dict[str, tuple[str, set[str]]]:
    """``{sample name: (family name, label names)}`` of every metric defined in services/core/metrics.py."""
    names: dict[str, tuple[str, set[str]]] = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            family = value._name
            for suffix in _SUFFIXES[str(value._type)]:
                names[family + suffix] = (family, set(value._labelnames))
    return names


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def _grouped(expr: str) -> set[str]:
    """Labels named in the expression's ``by (...)`` clauses."""
    return {g.strip() for by in re.findall(r"by \(([^)]*)\)", expr) for g in by.split(",")}


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _panels(dashboard) for t in p["targets"]]


def test_is_a_dashboard_with_a_prometheus_datasource_variable(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "tripletex-sync" and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == ("datasource", "prometheus")
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and panel["title"] and panel["description"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0
    for name, variable in variables.items():
        if variable["type"] == "query":
            (metric,) = re.findall(r"label_values\((\w+), (\w+)\)", variable["query"]["query"])
            assert metric[0] in _exported(), name
            assert metric[1] == name


def test_every_query_uses_exported_metrics_and_their_labels(dashboard: dict[str, Any]) -> None:
    exported = _exported()
    used: set[str] = set()
    for expr in _exprs(dashboard):
        names = set(re.findall(r"\btsync_\w+", expr))
        assert names, expr
        for opening, closing in ("()", "{}", "[]"):
            assert expr.count(opening) == expr.count(closing), f"unbalanced {opening}{closing}: {expr}"
        unknown = names - set(exported)
        assert not unknown, f"{expr}: not in services/core/metrics.py: {unknown}"
        labels = set().union(*(exported[n][1] for n in names)) | SCRAPE_LABELS
        grouped = _grouped(expr)
        matched = set(re.findall(r"(\w+)\s*(?:=~|!=|!~|=)\s*\"", expr))
        assert grouped | matched <= labels, f"{expr}: labels {sorted((grouped | matched) - labels)}"
        used |= {exported[n][0] for n in names}
    assert used >= REQUIRED, f"no panel for {REQUIRED - used}"
    every = {family for family, _ in exported.values()}
    assert used >= every, f"metrics without a panel: {every - used}"


def test_legends_name_only_grouped_labels(dashboard: dict[str, Any]) -> None:
    for panel in _panels(dashboard):
        for target in panel["targets"]:
            shown = set(re.findall(r"\{\{(\w+)\}\}", target.get("legendFormat", "")))
            assert shown <= _grouped(target["expr"]), (panel["title"], shown)
