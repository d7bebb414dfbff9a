"""A Grafana dashboard over the ``/metrics`` series (``edgeplane observe grafana-dashboard``).

Built in code rather than shipped as a JSON file so every expression is written once from the same selector and
a test can check that each metric it names is one ``/metrics`` exposes. Import it in Grafana (Dashboards → New →
Import) or provision it; the ``datasource`` variable picks the Prometheus that scrapes the platform.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA_VERSION", "dashboard", "expressions"]

SCHEMA_VERSION = 39
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'app=~"$app",env=~"$env",version=~"$version"'
ENV_SEL = 'app=~"$app",env=~"$env"'
RATE = "[$__rate_interval]"


def _requests(extra: str = "") -> str:
    return f"edgeplane_requests_total{{{SEL}{extra}}}"


def _quantile(q: float) -> str:
    buckets = f"edgeplane_request_duration_seconds_bucket{{{SEL}}}"
    return f"histogram_quantile({q}, sum by (le, app, env) (rate({buckets}{RATE})))"


ALL = _requests()
ERRORS = _requests(',code_class="5xx"')
CLIENT_SERVER_ERRORS = _requests(',code_class=~"4xx|5xx"')

# (title, panel type, unit, width, [(expr, legend)], extra fieldConfig defaults)
_Panel = tuple[str, str, str, int, list[tuple[str, str]], dict[str, Any]]
_STACKED = {"custom": {"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 30}}

PANELS: list[_Panel] = [
    ("Request rate", "timeseries", "reqps", 12,
     [(f"sum by (app, env) (rate({ALL}{RATE}))", "{{app}}/{{env}}")], {}),
    ("Error rate (5xx)", "timeseries", "percentunit", 12,
     [(f"sum by (app, env) (rate({ERRORS}{RATE})) / sum by (app, env) (rate({ALL}{RATE}))", "{{app}}/{{env}}")],
     {"min": 0}),
    ("Latency p50 / p95 / p99", "timeseries", "s", 12,
     [(_quantile(0.5), "p50 {{app}}/{{env}}"), (_quantile(0.95), "p95 {{app}}/{{env}}"),
      (_quantile(0.99), "p99 {{app}}/{{env}}")], {}),
    ("4xx / 5xx", "timeseries", "reqps", 12,
     [(f"sum by (code_class) (rate({CLIENT_SERVER_ERRORS}{RATE}))", "{{code_class}}")], _STACKED),
    ("Traffic by version (rollout view)", "timeseries", "reqps", 12,
     [(f"sum by (app, env, version) (rate({ALL}{RATE}))", "{{app}}/{{env}} {{version}}")], _STACKED),
    ("Routing weight by version", "timeseries", "percent", 12,
     [(f"edgeplane_version_weight_percent{{{SEL}}}", "{{app}}/{{env}} {{version}}"),
      (f"edgeplane_rollout_weight_percent{{{SEL}}}", "rolling out {{app}}/{{env}} {{version}}")],
     {"min": 0, "max": 100}),
    ("Worker processes", "timeseries", "short", 8,
     [(f"sum by (app, env, version) (edgeplane_worker_processes{{{SEL}}})", "all {{app}}/{{env}} {{version}}"),
      (f"sum by (app, env, version) (edgeplane_worker_processes_healthy{{{SEL}}})",
       "healthy {{app}}/{{env}} {{version}}"),
      (f"sum by (app, env, version) (increase(edgeplane_worker_restarts_total{{{SEL}}}{RATE}))",
       "restarts {{app}}/{{env}} {{version}}")], {"min": 0}),
    ("Rollout state", "state-timeline", "short", 8,
     [(f"max by (app, env, state) (edgeplane_rollout_state{{{ENV_SEL},state!=\"idle\"}}) > 0",
       "{{app}}/{{env}} {{state}}")], {}),
    ("Firing alerts", "stat", "short", 8,
     [('sum by (alertname, severity) (edgeplane_alerts{state="firing"})', "{{alertname}} ({{severity}})")],
     {"thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}]}}),
    ("Notifications failed", "timeseries", "short", 8,
     [('sum by (receiver) (increase(edgeplane_notifications_total{result="failed"}' + RATE + "))", "{{receiver}}")],
     {"min": 0}),
    ("Trace spans", "timeseries", "short", 8,
     [("sum by (result) (rate(edgeplane_trace_spans_total" + RATE + "))", "{{result}}")], {"min": 0}),
    ("Analytics and metric points", "timeseries", "short", 8,
     [("rate(edgeplane_analytics_points_ingested_total" + RATE + ")", "analytics points/s"),
      ("rate(edgeplane_metric_points_written_total" + RATE + ")", "metric points/s")], {"min": 0}),
]  # fmt: skip


def _panel(index: int, x: int, y: int, spec: _Panel) -> dict[str, Any]:
    title, kind, unit, width, targets, defaults = spec
    options: dict[str, Any] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                               "tooltip": {"mode": "multi", "sort": "desc"}}  # fmt: skip
    if kind == "stat":
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                   "colorMode": "background", "textMode": "value_and_name"}  # fmt: skip
    return {
        "id": index + 1,
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": {"h": 8, "w": width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit, **defaults}, "overrides": []},
        "options": options,
        "targets": [
            {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": chr(ord("A") + i)}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _variable(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name, "label": name, "type": "query", "datasource": DS, "definition": query,
        "query": {"query": query, "refId": f"{name}-values"}, "refresh": 2, "includeAll": True, "multi": True,
        "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "sort": 1,
    }  # fmt: skip


def dashboard(title: str = "edgeplane", uid: str = "edgeplane") -> dict[str, Any]:
    """The dashboard as a dict (``json.dumps`` it for Grafana)."""
    panels, x, y = [], 0, 0
    for index, spec in enumerate(PANELS):
        width = spec[3]
        if x + width > 24:
            x, y = 0, y + 8
        panels.append(_panel(index, x, y, spec))
        x += width
    datasource = {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
                  "current": {}, "hide": 0, "refresh": 1}  # fmt: skip
    return {
        "uid": uid,
        "title": title,
        "tags": ["edgeplane"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "timezone": "",
        "templating": {
            "list": [
                datasource,
                _variable("app", "label_values(edgeplane_requests_total, app)"),
                _variable("env", 'label_values(edgeplane_requests_total{app=~"$app"}, env)'),
                _variable("version", 'label_values(edgeplane_requests_total{app=~"$app",env=~"$env"}, version)'),
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def expressions(board: dict[str, Any]) -> list[str]:
    """Every PromQL expression in a dashboard: panel targets and template variable queries."""
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in board["templating"]["list"] if v["type"] == "query"]
    return exprs
