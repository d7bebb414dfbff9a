"""Prometheus text exposition (format 0.0.4) of the platform's live state, written straight from its counters.

No prometheus_client registry: it would keep a second copy of every counter and update it on every request.
The gateway already keeps cumulative per-version counters (``GatewayStats``), so a scrape reads those and the
request path pays nothing for ``/metrics``. Label sets are bounded: app, env, version (one per deployed
version), status class — never a path, client or user.

The latency histogram is the gateway's 160 log-spaced buckets folded into 15 Prometheus buckets. Cumulative
counts are exact at our bucket edges, so each ``le`` is the edge nearest a conventional value (5 ms … 30 s),
reported as the actual edge (``le="0.00496"`` rather than a rounded ``0.005`` the count would not match).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from edgeplane import __version__
from edgeplane.gateway.counters import BUCKETS, VersionStats, upper_edge

if TYPE_CHECKING:
    from edgeplane.control.service import ControlPlane

__all__ = ["CONTENT_TYPE", "LE_BOUNDS", "METRIC_NAMES", "Metrics", "MetricsState", "render", "state_of"]

log = logging.getLogger("edgeplane.observe.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_CONVENTIONAL_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0)
CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
ROLLOUT_STATES = ("idle", "queued", "awaiting_approval", "running", "paused")

VersionKey = tuple[str, str, str]


def _nearest_bucket(seconds: float) -> int:
    ms = seconds * 1000
    return min(range(BUCKETS - 1), key=lambda i: abs(upper_edge(i) - ms))


_LE_INDEXES = tuple(_nearest_bucket(s) for s in _CONVENTIONAL_S)
LE_BOUNDS = tuple(upper_edge(i) / 1000 for i in _LE_INDEXES)
"""The ``le`` bounds of ``edgeplane_request_duration_seconds`` (seconds, actual bucket edges)."""
_LE_LABELS = tuple(f"{b:.6g}" for b in LE_BOUNDS)

METRIC_NAMES = (
    "edgeplane_requests_total",
    "edgeplane_request_duration_seconds",
    "edgeplane_unrouted_requests_total",
    "edgeplane_version_weight_percent",
    "edgeplane_worker_processes",
    "edgeplane_worker_processes_healthy",
    "edgeplane_worker_restarts_total",
    "edgeplane_rollout_state",
    "edgeplane_rollout_weight_percent",
    "edgeplane_alerts",
    "edgeplane_notifications_total",
    "edgeplane_analytics_points_ingested_total",
    "edgeplane_metric_points_written_total",
    "edgeplane_trace_spans_total",
    "edgeplane_build_info",
    "process_start_time_seconds",
)
"""Every metric family /metrics can expose (histograms by their base name)."""


@dataclass
class MetricsState:
    """What one scrape reads: references to live counters plus small lists, gathered without copying them."""

    versions: Mapping[VersionKey, VersionStats]
    unrouted: VersionStats = field(default_factory=VersionStats)
    weights: Sequence[tuple[str, str, str, float]] = ()
    """(app, env, version, percent) of every version in the routing table."""
    pools: Sequence[tuple[str, str, str, Mapping[str, Any]]] = ()
    """(app, env, version, pool status) of every running worker pool."""
    rollouts: Sequence[Mapping[str, Any]] = ()
    """Rows of active rollouts (app, env, state, version_id)."""
    alerts: Sequence[Mapping[str, Any]] = ()
    """Alert instances (rule, labels, state, severity)."""
    notifications: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """Notifications by (receiver, result)."""
    spans: Mapping[str, int] | None = None
    """Trace spans by result (exported, dropped, failed); None when tracing is off."""
    analytics_points: int = 0
    metric_points: int = 0
    started_at: float = 0.0


# -- text ---------------------------------------------------------------------------------------------------
def _esc(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _num(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return "NaN" if math.isnan(value) else repr(value)


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items()) + "}"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines += (f"# HELP {name} {help_text}", f"# TYPE {name} {kind}")

    def sample(self, name: str, labels: str, value: float) -> None:
        self.lines.append(f"{name}{labels} {_num(value)}")

    def text(self) -> str:
        self.lines.append("")
        return "\n".join(self.lines)


# -- families -----------------------------------------------------------------------------------------------
def _requests(w: _Writer, versions: Mapping[VersionKey, VersionStats]) -> None:
    w.family("edgeplane_requests_total", "counter", "Requests answered, by version and status class.")
    for (app, env, version), stats in versions.items():
        head = f'{{app="{_esc(app)}",env="{_esc(env)}",version="{_esc(version)}",code_class="'
        for i, cls in enumerate(CODE_CLASSES, start=1):
            w.lines.append(f'edgeplane_requests_total{head}{cls}"}} {stats.classes[i]}')


def _durations(w: _Writer, versions: Mapping[VersionKey, VersionStats]) -> None:
    name = "edgeplane_request_duration_seconds"
    w.family(name, "histogram", "Time from request received to response sent (le = the gateway's bucket edges).")
    lines = w.lines
    for (app, env, version), stats in versions.items():
        base = f'app="{_esc(app)}",env="{_esc(env)}",version="{_esc(version)}"'
        cumulative = list(accumulate(stats.hist))
        for index, le in zip(_LE_INDEXES, _LE_LABELS, strict=True):
            lines.append(f'{name}_bucket{{{base},le="{le}"}} {cumulative[index]}')
        lines += (
            f'{name}_bucket{{{base},le="+Inf"}} {cumulative[-1]}',
            f"{name}_sum{{{base}}} {_num(stats.latency_sum / 1000)}",
            f"{name}_count{{{base}}} {cumulative[-1]}",
        )


def _unrouted(w: _Writer, unrouted: VersionStats) -> None:
    w.family("edgeplane_unrouted_requests_total", "counter", "Requests no deployment answered (no route, refused).")
    for i, cls in enumerate(CODE_CLASSES, start=1):
        w.sample("edgeplane_unrouted_requests_total", _labels(code_class=cls), unrouted.classes[i])


def _routing(w: _Writer, state: MetricsState) -> None:
    w.family("edgeplane_version_weight_percent", "gauge", "Share of an environment's traffic routed to a version.")
    for app, env, version, percent in state.weights:
        w.sample("edgeplane_version_weight_percent", _labels(app=app, env=env, version=version), percent)


def _pools(w: _Writer, pools: Sequence[tuple[str, str, str, Mapping[str, Any]]]) -> None:
    rows = [
        (_labels(app=app, env=env, version=version), (int(status.get("size", 0)), int(status.get("healthy", 0)),
         sum(int(p.get("restarts", 0)) for p in status.get("processes", ()))))
        for app, env, version, status in pools
    ]  # fmt: skip
    families = (
        ("edgeplane_worker_processes", "gauge", "Worker processes of a version's pool."),
        ("edgeplane_worker_processes_healthy", "gauge", "Worker processes ready to take requests."),
        ("edgeplane_worker_restarts_total", "counter", "Restarts of a pool's worker processes."),
    )
    for column, (name, kind, help_text) in enumerate(families):
        w.family(name, kind, help_text)
        for labels, values in rows:
            w.sample(name, labels, values[column])


def _rollouts(w: _Writer, state: MetricsState) -> None:
    counts: dict[tuple[str, str], dict[str, int]] = {(a, e): {} for a, e, _, _ in state.weights}
    weight = {(a, e, v): p for a, e, v, p in state.weights}
    active = [row for row in state.rollouts if row["state"] in ROLLOUT_STATES]  # not one just finishing
    for row in active:
        states = counts.setdefault((row["app"], row["env"]), {})
        states[row["state"]] = states.get(row["state"], 0) + 1
    w.family("edgeplane_rollout_state", "gauge", "Rollouts of an environment by state (idle: none active).")
    for (app, env), states in counts.items():
        for name in ROLLOUT_STATES:
            n = states.get(name, 0) if name != "idle" else int(not states)
            w.sample("edgeplane_rollout_state", _labels(app=app, env=env, state=name), n)
    w.family("edgeplane_rollout_weight_percent", "gauge", "Current traffic share of the version being rolled out.")
    for row in active:
        if row["state"] != "queued":
            app, env, version = row["app"], row["env"], row["version_id"]
            w.sample("edgeplane_rollout_weight_percent", _labels(app=app, env=env, version=version),
                     weight.get((app, env, version), 0.0))  # fmt: skip


def _alerts(w: _Writer, state: MetricsState) -> None:
    counts: dict[tuple[str, str, str], int] = {}
    for alert in state.alerts:
        name = (alert.get("labels") or {}).get("alertname") or alert.get("rule", "")
        key = (str(name), str(alert.get("severity", "")), str(alert.get("state", "")))
        counts[key] = counts.get(key, 0) + 1
    w.family("edgeplane_alerts", "gauge", "Alert instances by rule, severity and state.")
    for (rule, severity, alert_state), n in sorted(counts.items()):
        w.sample("edgeplane_alerts", _labels(alertname=rule, severity=severity, state=alert_state), n)
    w.family("edgeplane_notifications_total", "counter", "Notification attempts by receiver and result.")
    for (receiver, result), n in sorted(state.notifications.items()):
        w.sample("edgeplane_notifications_total", _labels(receiver=receiver, result=result), n)


def _platform(w: _Writer, state: MetricsState) -> None:
    w.family("edgeplane_analytics_points_ingested_total", "counter", "Analytics data points ingested.")
    w.sample("edgeplane_analytics_points_ingested_total", "", state.analytics_points)
    w.family("edgeplane_metric_points_written_total", "counter", "Recorded request-metric points written.")
    w.sample("edgeplane_metric_points_written_total", "", state.metric_points)
    if state.spans is not None:
        w.family("edgeplane_trace_spans_total", "counter", "Trace spans by export result (exported, dropped, failed).")
        for result, n in sorted(state.spans.items()):
            w.sample("edgeplane_trace_spans_total", _labels(result=result), n)
    w.family("edgeplane_build_info", "gauge", "The running edgeplane version.")
    w.sample("edgeplane_build_info", _labels(version=__version__), 1)
    w.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.")
    w.sample("process_start_time_seconds", "", state.started_at)


def render(state: MetricsState) -> str:
    """The exposition text of ``state``."""
    w = _Writer()
    _requests(w, state.versions)
    _durations(w, state.versions)
    _unrouted(w, state.unrouted)
    _routing(w, state)
    _pools(w, state.pools)
    _rollouts(w, state)
    _alerts(w, state)
    _platform(w, state)
    return w.text()


# -- reading the platform -----------------------------------------------------------------------------------
def _optional(read: Callable[[], Any], default: Any, what: str) -> Any:
    """A part that is missing or failing costs its own metrics, never the scrape."""
    try:
        return read()
    except Exception:
        log.exception("metrics: could not read %s", what)
        return default


def _process_start() -> float:
    """The process start time from /proc (Linux), else now: the moment metrics were first set up."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            ticks = int(fh.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/stat", "rb") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith(b"btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


def state_of(control: ControlPlane, started_at: float = 0.0) -> MetricsState:
    """Gather one scrape's state from a running control plane (a part that fails loses only its own metrics)."""
    stats = control.gateway.stats
    table = control.gateway.routes.table
    observe = control.observe
    return MetricsState(
        versions=stats.versions,
        unrouted=stats.unrouted,
        weights=[(t.app, t.env, v.version_id, v.percentage) for t in table.targets.values() for v in t.versions],
        pools=[(a, e, v, p.status()) for (a, e, v), p in list(control.runtime.pools.items())],
        rollouts=[run.row for run in list(control.rollouts.runs.values())],
        alerts=_optional(observe.alerts.instances, [], "alerts"),
        notifications=_optional(lambda: dict(observe.notifier.counts), {}, "notifications"),
        spans=_optional(observe.tracing.counts, None, "tracing"),
        analytics_points=control.analytics.points_ingested,
        metric_points=observe.recorder.points_written,
        started_at=started_at,
    )


class Metrics:
    """``control.observe.metrics``: renders ``/metrics`` for one platform node."""

    def __init__(self, control: ControlPlane) -> None:
        self.control = control
        self.started_at = _process_start()

    def render(self) -> str:
        return render(state_of(self.control, self.started_at))
