"""/metrics on a real platform: auth, and counters and histograms that match the traffic sent."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edgeplane import __version__
from tests.integration.harness import RunningPlatform, make_app

pytestmark = pytest.mark.timeout(120)

Samples = list[tuple[str, dict[str, str], float]]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    p = RunningPlatform(tmp_path_factory.mktemp("metrics")).start()
    try:
        assert p.cli("versions", "upload", project=make_app(p.root, "echo", source="echo")).returncode == 0
        assert p.cli("deploy", "v1", "--app", "echo").returncode == 0
        yield p
    finally:
        p.stop()


def scrape(p: RunningPlatform) -> Samples:
    response = p.admin.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(response.text) for s in f.samples]


def one(samples: Samples, name: str, **labels: str) -> float:
    hits = [v for n, have, v in samples if n == name and all(have.get(k) == x for k, x in labels.items())]
    assert len(hits) == 1, (name, labels, [s for s in samples if s[0] == name])
    return hits[0]


def test_metrics_need_a_read_token(platform: RunningPlatform) -> None:
    bare = httpx.get(f"{platform.admin_url}/metrics")
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "unauthorized"
    wrong = httpx.get(f"{platform.admin_url}/metrics", headers={"authorization": "Bearer ep_wrong"})
    assert wrong.status_code == 401
    token = platform.cli_json("tokens", "create", "prometheus", "--scope", "read")["token"]
    ok = httpx.get(f"{platform.admin_url}/metrics", headers={"authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and "edgeplane_requests_total" in ok.text


def test_counters_and_histogram_match_the_traffic(platform: RunningPlatform) -> None:
    before = scrape(platform)
    sent = {"2xx": 0, "4xx": 0, "5xx": 0}
    for path, n, cls in (("/", 20, "2xx"), ("/status/404", 5, "4xx"), ("/status/500", 3, "5xx"),
                         ("/status/503", 2, "5xx"), ("/slow/600", 4, "2xx")):  # fmt: skip
        for _ in range(n):
            platform.get(path)
        sent[cls] += n
    version = platform.get("/").headers["edgeplane-version"]
    sent["2xx"] += 1
    for _ in range(3):
        assert platform.get("/", host="nowhere.example").status_code == 404  # no route: unrouted

    after = scrape(platform)
    where = {"app": "echo", "env": "production", "version": version}
    for cls, n in sent.items():
        grown = one(after, "edgeplane_requests_total", **where, code_class=cls) - one(
            before, "edgeplane_requests_total", **where, code_class=cls
        )
        assert grown == n, cls
    total = sum(sent.values())
    hist = "edgeplane_request_duration_seconds"
    count = one(after, f"{hist}_count", **where) - one(before, f"{hist}_count", **where)
    inf = one(after, f"{hist}_bucket", **where, le="+Inf") - one(before, f"{hist}_bucket", **where, le="+Inf")
    assert count == inf == total
    # the 4 slow requests (600 ms) are above the ~0.5 s bound, everything else below it
    half = min((le for n, labels, _ in after if n == f"{hist}_bucket" and (le := labels["le"]) != "+Inf"),
               key=lambda le: abs(float(le) - 0.5))  # fmt: skip
    fast = one(after, f"{hist}_bucket", **where, le=half) - one(before, f"{hist}_bucket", **where, le=half)
    assert fast == total - 4
    seconds = one(after, f"{hist}_sum", **where) - one(before, f"{hist}_sum", **where)
    assert 4 * 0.6 <= seconds < 4 * 0.6 + total * 0.5
    unrouted = one(after, "edgeplane_unrouted_requests_total", code_class="4xx") - one(
        before, "edgeplane_unrouted_requests_total", code_class="4xx"
    )
    assert unrouted == 3


def test_labels_are_bounded(platform: RunningPlatform) -> None:
    for path in ("/a/b/c", "/users/12345", "/status/404?secret=x"):
        platform.get(path)
    allowed = {"app", "env", "version", "code_class", "le", "state", "alertname", "severity", "receiver", "result"}
    for name, labels, _ in scrape(platform):
        assert set(labels) <= allowed, name
        assert not any(v.startswith("/") or "12345" in v or "secret" in v for v in labels.values()), (name, labels)


def test_pools_rollout_state_and_build_info(platform: RunningPlatform) -> None:
    version = platform.served_by("/")
    samples = scrape(platform)
    where = {"app": "echo", "env": "production", "version": version}
    assert one(samples, "edgeplane_worker_processes", **where) == 1
    assert one(samples, "edgeplane_worker_processes_healthy", **where) == 1
    assert one(samples, "edgeplane_version_weight_percent", **where) == 100
    assert one(samples, "edgeplane_rollout_state", app="echo", env="production", state="idle") == 1
    assert one(samples, "edgeplane_rollout_state", app="echo", env="production", state="running") == 0
    assert one(samples, "edgeplane_build_info", version=__version__) == 1
    assert 0 < one(samples, "process_start_time_seconds") <= __import__("time").time()
    assert not any(name.startswith("edgeplane_trace_spans") for name, _, _ in samples)  # tracing is off
