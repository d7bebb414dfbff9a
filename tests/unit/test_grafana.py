"""The Grafana dashboard: valid JSON for Grafana, and every series it queries is one /metrics exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from edgeplane.cli.main import cli
from edgeplane.observe.grafana import SCHEMA_VERSION, dashboard, expressions
from edgeplane.observe.metrics import render
from tests.unit.test_metrics import small_state

# Metric names in PromQL: identifiers followed by a selector, a range or a closing paren, not functions or labels.
NAME = re.compile(r"\b((?:edgeplane|process)_[a-z0-9_]+)\b")


def exposed_names() -> set[str]:
    text = render(small_state())
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def test_every_metric_in_the_dashboard_is_exposed() -> None:
    exposed = exposed_names()
    used = {name for expr in expressions(dashboard()) for name in NAME.findall(expr)}
    assert len(used) >= 12
    assert used - exposed == set()


def test_dashboard_covers_the_operator_questions() -> None:
    board = dashboard()
    titles = " | ".join(p["title"] for p in board["panels"]).lower()
    for topic in ("request rate", "error rate", "p99", "by version", "4xx / 5xx", "worker processes",
                  "rollout state", "firing alerts", "notifications failed"):  # fmt: skip
        assert topic in titles
    exprs = expressions(board)
    assert sum("histogram_quantile" in e and "_bucket" in e for e in exprs) == 3


def test_dashboard_is_importable_json_with_template_variables() -> None:
    board = json.loads(json.dumps(dashboard()))
    assert board["schemaVersion"] == SCHEMA_VERSION
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for name in ("app", "env", "version"):
        assert variables[name]["query"]["query"].startswith("label_values(")
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"])
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24


def test_cli_writes_the_dashboard(tmp_path: Path) -> None:
    out = tmp_path / "board.json"
    result = CliRunner().invoke(cli, ["observe", "grafana-dashboard", "-o", str(out), "--title", "edge"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["title"] == "edge"
    printed = CliRunner().invoke(cli, ["observe", "grafana-dashboard"])
    assert printed.exit_code == 0 and json.loads(printed.output)["uid"] == "edgeplane"
