"""The /metrics exposition rendered from a small state, read back with Prometheus' own parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from edgeplane.config.observe import ObserveSettings
from edgeplane.config.server import ServerConfig
from edgeplane.control.api import create_admin_app
from edgeplane.control.service import ControlPlane
from edgeplane.gateway.app import Gateway
from edgeplane.gateway.counters import VersionStats, bucket_of, upper_edge
from edgeplane.observe.metrics import LE_BOUNDS, METRIC_NAMES, MetricsState, render


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def value(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    hits = [v for have, v in found[name] if all(have.get(k) == x for k, x in labels.items())]
    assert len(hits) == 1, (name, labels, found.get(name))
    return hits[0]


def stats_with(latencies_ms: list[float], statuses: list[int]) -> VersionStats:
    stats = VersionStats()
    for ms, status in zip(latencies_ms, statuses, strict=True):
        stats.requests += 1
        stats.classes[status // 100] += 1
        stats.errors += status >= 500
        stats.hist[bucket_of(ms)] += 1
        stats.latency_sum += ms
    return stats


def small_state() -> MetricsState:
    latencies = [1.0, 3.0, 7.0, 40.0, 120.0, 900.0, 4000.0, 45_000.0]
    statuses = [200, 200, 200, 404, 200, 500, 503, 200]
    versions = {("shop", "production", "v-aaa"): stats_with(latencies, statuses),
                ("shop", "staging", "v-bbb"): VersionStats()}  # fmt: skip
    unrouted = stats_with([0.5, 0.5], [404, 431])
    return MetricsState(
        versions=versions,
        unrouted=unrouted,
        weights=[
            ("shop", "production", "v-aaa", 80.0),
            ("shop", "production", "v-ccc", 20.0),
            ("shop", "staging", "v-bbb", 100.0),
        ],
        pools=[
            ("shop", "production", "v-aaa", {"size": 2, "healthy": 1, "processes": [{"restarts": 3}, {"restarts": 1}]})
        ],
        rollouts=[{"app": "shop", "env": "production", "state": "running", "version_id": "v-ccc"}],
        alerts=[
            {"rule": "HighErrors", "labels": {"app": "shop"}, "state": "firing", "severity": "critical"},
            {"rule": "HighErrors", "labels": {"app": "blog"}, "state": "firing", "severity": "critical"},
            {"rule": 'Odd "name"\\', "labels": {}, "state": "pending", "severity": "info"},
        ],
        notifications={("ops", "sent"): 4, ("ops", "failed"): 2},
        spans={"exported": 10, "dropped": 1, "failed": 0},
        analytics_points=123,
        metric_points=45,
        started_at=1_700_000_000.5,
    )


def test_request_counters_by_status_class() -> None:
    found = samples(render(small_state()))
    where = {"app": "shop", "env": "production", "version": "v-aaa"}
    assert value(found, "edgeplane_requests_total", **where, code_class="2xx") == 5
    assert value(found, "edgeplane_requests_total", **where, code_class="4xx") == 1
    assert value(found, "edgeplane_requests_total", **where, code_class="5xx") == 2
    # every class of every version exists from the start, so rate() has a zero to start from
    assert value(found, "edgeplane_requests_total", app="shop", env="staging", code_class="5xx") == 0
    assert value(found, "edgeplane_unrouted_requests_total", code_class="4xx") == 2


def test_histogram_buckets_are_exact_cumulative_counts_at_our_bucket_edges() -> None:
    state = small_state()
    found = samples(render(state))
    where = {"app": "shop", "env": "production", "version": "v-aaa"}
    buckets = [(have["le"], v) for have, v in found["edgeplane_request_duration_seconds_bucket"]
               if have["version"] == "v-aaa"]  # fmt: skip
    assert len(buckets) == 16 and buckets[-1] == ("+Inf", 8)
    bounds = [float(le) for le, _ in buckets[:-1]]
    assert bounds == sorted(bounds) and abs(bounds[0] - 0.005) < 0.0005 and abs(bounds[-1] - 30) < 3
    latencies = [1.0, 3.0, 7.0, 40.0, 120.0, 900.0, 4000.0, 45_000.0]
    for (le, count), edge in zip(buckets[:-1], LE_BOUNDS, strict=True):
        assert abs(float(le) - edge) < edge * 1e-5  # the reported bound is the real edge
        assert count == sum(1 for ms in latencies if ms / 1000 <= edge), le
    assert value(found, "edgeplane_request_duration_seconds_count", **where) == 8
    assert abs(value(found, "edgeplane_request_duration_seconds_sum", **where) - sum(latencies) / 1000) < 1e-9


def test_every_le_is_one_of_the_gateway_bucket_edges() -> None:
    edges = {round(upper_edge(i) / 1000, 12) for i in range(160)}
    assert all(round(b, 12) in edges for b in LE_BOUNDS)


def test_pools_rollouts_alerts_and_platform_counters() -> None:
    found = samples(render(small_state()))
    where = {"app": "shop", "env": "production", "version": "v-aaa"}
    assert value(found, "edgeplane_worker_processes", **where) == 2
    assert value(found, "edgeplane_worker_processes_healthy", **where) == 1
    assert value(found, "edgeplane_worker_restarts_total", **where) == 4
    assert value(found, "edgeplane_version_weight_percent", app="shop", env="production", version="v-ccc") == 20
    assert value(found, "edgeplane_rollout_state", app="shop", env="production", state="running") == 1
    assert value(found, "edgeplane_rollout_state", app="shop", env="production", state="idle") == 0
    assert value(found, "edgeplane_rollout_state", app="shop", env="staging", state="idle") == 1
    assert value(found, "edgeplane_rollout_weight_percent", app="shop", env="production", version="v-ccc") == 20
    assert value(found, "edgeplane_alerts", alertname="HighErrors", severity="critical", state="firing") == 2
    assert value(found, "edgeplane_alerts", alertname='Odd "name"\\', state="pending") == 1  # escaped and back
    assert value(found, "edgeplane_notifications_total", receiver="ops", result="failed") == 2
    assert value(found, "edgeplane_trace_spans_total", result="dropped") == 1
    assert value(found, "edgeplane_analytics_points_ingested_total") == 123
    assert value(found, "edgeplane_metric_points_written_total") == 45
    assert value(found, "process_start_time_seconds") == 1_700_000_000.5
    assert found["edgeplane_build_info"][0][1] == 1


def test_every_family_has_help_and_type_and_is_listed() -> None:
    text = render(small_state())
    families = {f.name: f for f in text_string_to_metric_families(text)}
    typed = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    helped = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP")}
    assert typed == helped == set(METRIC_NAMES)
    assert all(f.documentation for f in families.values())
    assert families["edgeplane_request_duration_seconds"].type == "histogram"
    assert families["edgeplane_requests"].type == "counter"


def test_labels_are_bounded() -> None:
    allowed = {"app", "env", "version", "code_class", "le", "state", "alertname", "severity", "receiver", "result"}
    for family in text_string_to_metric_families(render(small_state())):
        for s in family.samples:
            assert set(s.labels) <= allowed, (s.name, s.labels)


def test_state_without_optional_parts_renders() -> None:
    state: dict[str, Any] = {"versions": {}}
    found = samples(render(MetricsState(**state)))
    assert "edgeplane_trace_spans_total" not in found
    assert value(found, "edgeplane_unrouted_requests_total", code_class="2xx") == 0


async def test_metrics_public_serves_without_a_token(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=tmp_path / "data", observe=ObserveSettings(metrics_public=True))
    control = ControlPlane(config, Gateway(config))
    await control.start()
    try:
        control.gateway.stats.of("shop", "production", "v1").classes[2] += 1
        transport = httpx.ASGITransport(app=create_admin_app(control))
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        found = samples(response.text)
        assert value(found, "edgeplane_requests_total", app="shop", version="v1", code_class="2xx") == 1
    finally:
        await control.close()
