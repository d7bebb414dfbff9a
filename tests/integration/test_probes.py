"""Synthetic probes against a real local HTTP server flipped between 200, 500 and down: results in memory and the
admin API, failures in the metric recorder (what alert rules read), points in the ``edgeplane_probes`` dataset;
reloads restart only the probes that changed."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from edgeplane.config.observe import AlertingConfig, ProbeConfig
from edgeplane.config.server import ServerConfig
from edgeplane.control.service import ControlPlane
from edgeplane.gateway.app import Gateway
from edgeplane.observe.health import check
from edgeplane.observe.rules import METRICS
from edgeplane.observe.series import probe_key
from tests.integration.harness import RunningPlatform


class Target:
    """An HTTP server answering GET and HEAD with ``status`` (``/status/NNN``: NNN) and the body ``pong``;
    ``stop()`` takes it down."""

    def __init__(self) -> None:
        self.status = 200
        self.paths: Counter[str] = Counter()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.paths[self.path] += 1
                body = b"pong"
                fixed = self.path.removeprefix("/status/")  # /status/NNN always answers NNN
                self.send_response(int(fixed) if fixed.isdigit() else target.status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.stop()


@pytest.fixture
async def control(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    config = ServerConfig(data_dir=tmp_path / "data", colo="ams")
    control = ControlPlane(config, Gateway(config))
    await control.start()
    yield control
    await control.close()


async def configure(control: ControlPlane, *probes: ProbeConfig) -> None:
    """What a reload of the alerting file does: new config, then the probes follow it."""
    control.observe.alerting = AlertingConfig(probes=list(probes))
    await control.observe.probes.reload()


async def until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_results_follow_the_target_into_memory_and_the_recorder(control: ControlPlane, target: Target) -> None:
    probes = control.observe.probes
    recorder = control.observe.recorder
    await configure(control, ProbeConfig(name="target", url=target.url + "/ping", interval=0.05, timeout=1))
    await until(lambda: len(probes.results("target", 100) or []) >= 3)
    summary = probes.summary("target")
    assert summary is not None
    assert summary["latest"]["ok"] and summary["latest"]["status"] == 200 and summary["colo"] == "ams"
    assert summary["success_rate_1h"] == 1.0 and summary["p95_latency_ms_1h"] > 0
    await recorder.record()

    target.status = 500
    await until(lambda: (probes.summary("target") or {})["latest"]["status"] == 500)
    failed = probes.results("target", 1)
    assert failed is not None
    assert failed[0]["ok"] is False and failed[0]["error"] == "status 500, expected 200"
    await until(lambda: (probes.summary("target") or {})["failures_1h"] >= 2)

    target.stop()  # down: a failed result with the reason, and the loop goes on
    await until(lambda: "ConnectError" in ((probes.results("target", 1) or [{}])[0].get("error") or ""))
    await recorder.record()
    window = recorder.window(probe_key("target", "ams"), 60)
    assert METRICS["probe_failures"].read(window) >= 3
    assert METRICS["probe_checks"].read(window) == len(probes.results("target", 1000) or [])
    rate = METRICS["probe_success_rate"].read(window)
    assert rate is not None and 0 < rate < 1
    assert (METRICS["probe_latency_p95_ms"].read(window) or 0) > 0

    report = await check(control)
    assert report["components"]["probes"]["status"] == "healthy"  # a failing target is not a failing platform
    assert report["components"]["probes"]["details"]["failing"] == ["target"]
    assert probes.stalled() == []


async def test_expected_body_and_timeout(control: ControlPlane, target: Target) -> None:
    silent = socket.socket()  # accepts connections and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        await configure(
            control,
            ProbeConfig(name="body-ok", url=target.url, interval=1, expect_body="pong"),
            ProbeConfig(name="body-wrong", url=target.url, interval=1, expect_body="hello"),
            ProbeConfig(name="hangs", url=f"http://127.0.0.1:{silent.getsockname()[1]}/", interval=1, timeout=0.3),
            ProbeConfig(
                name="any-status", url=target.url + "/status/500", interval=1, expect_status=[200, 500], method="HEAD"
            ),
        )
        probes = control.observe.probes
        await until(lambda: all(probes.results(n, 1) for n in probes.names()))
        latest = {n: (probes.results(n, 1) or [{}])[0] for n in probes.names()}
        assert latest["body-ok"]["ok"] is True
        assert latest["body-wrong"]["error"] == "the body does not contain 'hello'"
        assert latest["hangs"]["ok"] is False and latest["hangs"]["error"] == "timed out after 0.3 s"
        assert 300 <= latest["hangs"]["latency_ms"] < 2000
        assert latest["any-status"]["ok"] is True and latest["any-status"]["status"] == 500
    finally:
        silent.close()


async def test_reload_restarts_only_changed_probes(control: ControlPlane, target: Target) -> None:
    probes = control.observe.probes
    kept = ProbeConfig(name="kept", url=target.url + "/kept", interval=0.05)
    changed = ProbeConfig(name="changed", url=target.url + "/old", interval=0.05)
    await configure(control, kept, changed, ProbeConfig(name="removed", url=target.url + "/removed", interval=0.05))
    await until(lambda: all(len(probes.results(n, 10) or []) >= 2 for n in ("kept", "changed", "removed")))
    oldest = {n: (probes.results(n, 1000) or [])[-1]["at"] for n in probes.names()}

    reloaded_at = time.time()
    new = changed.model_copy(update={"url": target.url + "/new"})
    await configure(control, kept, new, ProbeConfig(name="added", url=target.url + "/added", interval=0.05))
    assert probes.names() == ["added", "changed", "kept"]
    assert probes.summary("removed") is None and probes.results("removed") is None
    await asyncio.sleep(0.1)  # a request a stopped loop sent just before may still be arriving
    hits = dict(target.paths)
    await until(
        lambda: target.paths["/new"] >= 3 and target.paths["/added"] >= 3 and target.paths["/kept"] >= hits["/kept"] + 3
    )
    assert target.paths["/removed"] == hits["/removed"] and target.paths["/old"] == hits["/old"]  # stopped
    assert (probes.results("kept", 1000) or [])[-1]["at"] == oldest["kept"]  # the same loop, results kept
    changed_results = probes.results("changed", 1000) or []
    first = datetime.fromisoformat(changed_results[-1]["at"].replace("Z", "+00:00")).timestamp()
    assert first >= reloaded_at - 0.001  # restarted: the old URL's results are gone
    assert (probes.summary("changed") or {})["url"] == target.url + "/new"


def test_platform_runs_configured_probes_and_stores_them_in_analytics(tmp_path: Path, target: Target) -> None:
    (tmp_path / "edgeplane.toml").write_text(
        '[server]\ncolo = "ams"\n[server.observe]\nalerts_file = "alerts.toml"\nresolution = "1s"\n'
    )
    (tmp_path / "alerts.toml").write_text(
        f'[[probes]]\nname = "target"\nurl = "{target.url}/ping"\ninterval = "100ms"\ntimeout = "1s"\n'
    )
    p = RunningPlatform(tmp_path).start()
    try:
        deadline = time.monotonic() + 15
        while (listing := p.admin.get("/v1/probes").json())["probes"][0]["checks_1h"] < 3:
            assert time.monotonic() < deadline, listing
            time.sleep(0.05)
        assert listing["colo"] == "ams"
        probe = listing["probes"][0]
        assert probe["name"] == "target" and probe["latest"]["ok"] and probe["success_rate_1h"] == 1.0
        target.status = 500
        while p.admin.get("/v1/probes/target", params={"results": 1}).json()["results"][0]["status"] != 500:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert p.admin.get("/v1/probes/nope").json()["error"]["code"] == "probe_not_found"
        table = p.cli("probes")
        assert table.returncode == 0 and "target" in table.stdout and "failed" in table.stdout, table.stdout
        sql = "SELECT blob2 AS colo, blob5 AS result, double2 AS status, count() AS n FROM edgeplane_probes " \
              "WHERE index1 = 'target' GROUP BY colo, result, status ORDER BY status"  # fmt: skip
        rows: list[dict[str, Any]] = []
        while len(rows) < 2:
            assert time.monotonic() < deadline, rows
            body = p.admin.post("/v1/analytics/sql", content=sql.encode()).json()
            rows = body.get("data", [])  # until the first batch is ingested the dataset does not exist
            if "error" in body:
                assert "edgeplane_probes" in body["error"]["message"], body
            time.sleep(0.1)
        assert [(r["colo"], r["result"], r["status"]) for r in rows] == [("ams", "ok", 200), ("ams", "failed", 500)]
        assert all(r["n"] >= 1 for r in rows)
    finally:
        p.stop()
