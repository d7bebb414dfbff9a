"""Request analytics end to end: requests through the real gateway (2xx, injected 500s, 504s from a slow
version, unrouted 404s) become points of ``edgeplane_requests``; the admin API and ``edgeplane analytics requests``
show the right counts, error rate, latency, countries, colos, routes and per-version breakdown; a clean stop
right after a burst loses no point; gateway failures are logged as JSON lines carrying the request's fields."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import RunningPlatform
from tests.integration.test_rollouts import flaky

pytestmark = pytest.mark.timeout(150)

SERVER = """[server]
colo = "ams"
country_header = "cf-ipcountry"
upstream_timeout = 1

[server.observe.logging]
format = "json"
"""
OVERRIDE = "edgeplane-version-override"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    root = tmp_path_factory.mktemp("request-analytics")
    (root / "edgeplane.toml").write_text(SERVER)
    p = RunningPlatform(root).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def versions(platform: RunningPlatform) -> dict[str, str]:
    """ok (v1, serves everything by weight), failing (v2, every answer a 500), slow (v3, slower than the gateway's
    1 s upstream timeout: 504); v2 and v3 get traffic only by override header."""
    ids = {}
    made: tuple[tuple[str, dict[str, Any]], ...] = (
        ("ok", {}),
        ("failing", {"ERROR_RATE": 1}),
        ("slow", {"DELAY_MS": 3000}),
    )
    for name, extra in made:
        project = flaky(platform.root, name, name, **extra)
        ids[name] = platform.cli_json("versions", "upload", project=project)["id"]
    splits = [{"version": ids["ok"], "percentage": 100}, {"version": ids["failing"], "percentage": 0},
              {"version": ids["slow"], "percentage": 0}]  # fmt: skip
    r = platform.admin.post("/v1/apps/flaky/deployments", json={"env": "production", "splits": splits})
    assert r.status_code in (200, 201), r.text
    return ids


def summary(platform: RunningPlatform, **params: str) -> dict[str, Any]:
    r = platform.admin.get("/v1/observe/requests", params={"since": "10m", **params})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def wait_for_requests(platform: RunningPlatform, count: int, timeout: float = 15, **params: str) -> dict[str, Any]:
    """The summary once ``count`` requests are in (points reach the store within about a second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = summary(platform, **params)
        if data["requests"] >= count:
            return data
        time.sleep(0.1)
    raise AssertionError(f"only {data['requests']} of {count} requests recorded:\n{platform.log()[-3000:]}")


def send_traffic(platform: RunningPlatform, ids: dict[str, str]) -> dict[str, Any]:
    """43 requests to flaky (30 ok, a 405, 10 x 500, 2 x 504) and 3 that match no route; what was sent, for asserts."""
    for i in range(30):
        r = platform.get(f"/items/{i}", headers={"cf-ipcountry": "NL" if i < 20 else "US"})
        assert r.status_code == 200, r.text
    for _ in range(10):
        assert platform.get("/", headers={OVERRIDE: ids["failing"]}).status_code == 500
    slow = [platform.get("/", headers={OVERRIDE: ids["slow"]}) for _ in range(2)]
    assert [r.status_code for r in slow] == [504, 504]
    upload = platform.gateway.post("/upload/abc?token=secret", content=b"x" * 1000, headers={"host": "localhost"})
    assert upload.status_code == 405  # the app takes only GET: still a request, with a body
    for _ in range(3):
        assert platform.get("/", host="nowhere.example").status_code == 404
    return {"slow_ids": [r.headers["edgeplane-request-id"] for r in slow],
            "upload_id": upload.headers["edgeplane-request-id"]}  # fmt: skip


def test_summary_counts_error_rate_latency_and_versions(platform: RunningPlatform, versions: dict[str, str]) -> None:
    sent = send_traffic(platform, versions)
    s = wait_for_requests(platform, 43, app="flaky")
    time.sleep(0.6)  # one more flush interval: nothing beyond the 43 may show up
    s = summary(platform, app="flaky")
    assert s["requests"] == 43 and s["errors"] == 12
    assert s["error_rate"] == pytest.approx(12 / 43, abs=1e-6)
    assert s["throughput_rps"] == pytest.approx(43 / 600, abs=1e-4)
    assert s["status_classes"] == {"2xx": 30, "3xx": 0, "4xx": 1, "5xx": 12}
    latency = s["latency_ms"]
    assert 0 < latency["p50"] < 1000 <= latency["p99"]  # 2 of 43 waited out the 1 s upstream timeout
    # 42 GETs looked up (none cacheable: the app sends no Cache-Control), the POST bypassed the cache
    assert s["cache"] == {"hits": 0, "cacheable": 42, "hit_rate": 0.0}
    assert s["top_countries"] == [{"country": "NL", "requests": 20}, {"country": "", "requests": 13},
                                  {"country": "US", "requests": 10}]  # fmt: skip
    assert s["top_colos"] == [{"colo": "ams", "requests": 43}]
    assert s["top_routes"] == [{"route": "localhost/*", "requests": 43}]  # the pattern, never the raw path
    by_number = {v["number"]: v for v in s["versions"]}
    assert {n: (v["requests"], v["errors"]) for n, v in by_number.items()} == {1: (31, 0), 2: (10, 10), 3: (2, 2)}
    assert by_number[2]["error_rate"] == 1.0 and by_number[3]["latency_ms"]["p50"] >= 1000
    assert by_number[1]["version_id"] == versions["ok"]

    everything = summary(platform)
    assert everything["requests"] == 46  # the 3 unrouted requests count where no app is asked for
    unrouted = [v for v in everything["versions"] if v["app"] == ""]
    assert [(v["env"], v["version_id"], v["requests"], v["number"]) for v in unrouted] == [("", "", 3, None)]
    assert summary(platform, app="flaky", env="staging")["requests"] == 0

    # The raw points, through the ordinary SQL API: the upload's request id, method, route, bytes in and out.
    result = platform.cli_json(
        "analytics", "query",
        "SELECT blob5 AS method, blob6 AS route, double1 AS status, double3 AS bytes_in, double4 AS bytes_out, "
        f"index1 AS app, blob1 AS env, blob3 AS colo FROM edgeplane_requests WHERE blob10 = '{sent['upload_id']}'",
    )  # fmt: skip
    assert result["data"] == [{"method": "POST", "route": "localhost/*", "status": 405, "bytes_in": 1000,
                               "bytes_out": 18, "app": "flaky", "env": "production", "colo": "ams"}]  # fmt: skip

    # Gateway failures are JSON log lines naming the request.
    lines = [json.loads(line) for line in platform.log().splitlines() if line.startswith("{")]
    failures = [line for line in lines if line.get("request_id") in sent["slow_ids"]]
    assert len(failures) == 2, platform.log()[-3000:]
    for line in failures:
        assert line["level"] == "warning" and line["logger"] == "edgeplane.gateway"
        assert (line["app"], line["env"], line["version"]) == ("flaky", "production", versions["slow"])
        assert "worker_timeout" in line["message"]
    assert "token=secret" not in platform.log()  # the query string is never logged


def test_cli_shows_the_dashboard(
    platform: RunningPlatform, versions: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich tables in the CLI subprocess: no wrapped cells
    wait_for_requests(platform, 43, app="flaky")
    shown = platform.cli("analytics", "requests", "--app", "flaky", "--since", "10m")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    for text in ("requests · app=flaky · last 10m", "27.91%", "versions", "v1", "v2", "v3", "100.00%", "NL",
                 "ams", "localhost/*"):  # fmt: skip
        assert text in out, out
    as_json = platform.cli_json("analytics", "requests", "--app", "flaky", "--since", "10m")
    assert as_json["requests"] == summary(platform, app="flaky")["requests"]


def test_bad_parameters_are_refused(platform: RunningPlatform) -> None:
    for params in ({"since": "5x"}, {"since": "0s"}, {"app": "Bad Name'; --"}, {"env": "x'y"}):
        r = platform.admin.get("/v1/observe/requests", params=params)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_request"


def test_a_clean_stop_right_after_a_burst_loses_no_point(platform: RunningPlatform, versions: dict[str, str]) -> None:
    before = summary(platform, app="flaky", since="1h")["requests"]
    for i in range(300):
        assert platform.get(f"/burst/{i}").status_code == 200
    assert platform.stop() == 0  # SIGTERM at once: most points are still in the writer's buffer
    platform.start()
    assert summary(platform, app="flaky", since="1h")["requests"] == before + 300


def test_request_analytics_can_be_switched_off(tmp_path: Path) -> None:
    (tmp_path / "edgeplane.toml").write_text("[server.observe]\nrequest_analytics = false\n")
    p = RunningPlatform(tmp_path).start()
    try:
        project = flaky(tmp_path, "app", "one")
        assert (
            p.cli("deploy", p.cli_json("versions", "upload", project=project)["id"], "--app", "flaky").returncode == 0
        )
        for _ in range(5):
            assert p.get("/").status_code == 200
        time.sleep(1.0)
        assert summary(p)["requests"] == 0
    finally:
        p.stop()
