"""The Prometheus alert rules and the Grafana dashboard in deploy/: the rules pass promtool's
check and their unit tests; the dashboard is import-ready, its every query is valid PromQL
(promtool parses it as a recording rule) and names only metrics that /metrics exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.telemetry.test_metrics import readings  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "dcpower-alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "dcpower-alerts.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dcpower-dashboard.json"
METRIC = re.compile(r"\bdcpower_[a-z0-9_]+\b")
# Grafana's variables, as Grafana would substitute them.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$site": ".*"}


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=120, cwd=RULES.parent
    )


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


@pytest.fixture
def exported(client, readings) -> set[str]:  # noqa: F811 - the fixture imported above
    """Every dcpower_* sample name /metrics exports with readings of every kind present."""
    text = client.get("/metrics").content.decode()
    return {
        sample.name
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("dcpower_")
    }


@pytest.mark.requires_service("promtool")
def test_the_alert_rules_pass_promtool():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


@pytest.mark.requires_service("promtool")
def test_the_alert_rules_unit_tests_pass():
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_cover_what_on_call_must_know():
    alerts = {
        rule["alert"]: rule
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    assert set(alerts) >= {
        "DcpowerRackAbove80PercentOfRedundantCapacity",
        "DcpowerRackOverloadOnFailover",
        "DcpowerFeedOverloaded",
        "DcpowerPduDown",
        "DcpowerOutletDrift",
    }
    assert "0.8" in alerts["DcpowerRackAbove80PercentOfRedundantCapacity"]["expr"]


@pytest.mark.django_db
def test_the_rules_and_dashboard_name_only_exported_metrics(exported):
    used = set(METRIC.findall(RULES.read_text()))
    for query in dashboard_queries():
        used |= set(METRIC.findall(query))
    assert used, "no dcpower metric found in the rules or the dashboard"
    assert used <= exported, f"not exported: {sorted(used - exported)}"


def test_the_dashboard_is_import_ready():
    dashboard = json.loads(DASHBOARD.read_text())
    (source,) = dashboard["__inputs"]
    assert source["type"] == "datasource" and source["pluginId"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}, panel["title"]
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["site"]


@pytest.mark.requires_service("promtool")
def test_every_dashboard_query_is_valid_promql(tmp_path):
    """promtool has no expression checker; a recording rule per query makes it parse them."""
    rules = []
    for number, query in enumerate(dashboard_queries()):
        for variable, value in GRAFANA_VARIABLES.items():
            query = query.replace(variable, value)
        assert "$" not in query, f"an unknown Grafana variable in {query!r}"
        rules.append({"record": f"dashboard:query_{number}", "expr": query})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
