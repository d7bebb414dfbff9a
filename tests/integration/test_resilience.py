"""Crash recovery, retries on a dead process, versions that fail to start, restart of the platform."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.harness import RunningPlatform, make_app


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    p = RunningPlatform(tmp_path_factory.mktemp("resilience")).start()
    try:
        project = make_app(p.root, "probe")
        assert p.cli("versions", "upload", project=project).returncode == 0
        assert p.cli("deploy", "v1", "--app", "probe").returncode == 0
        yield p
    finally:
        p.stop()


def _version(p: RunningPlatform) -> str:
    return str(p.cli_json("versions", "view", "v1", "--app", "probe")["id"])


def _wait_healthy(p: RunningPlatform, vid: str, n: int = 2, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pool = p.pool("probe", "production", vid)
        if pool["healthy"] == n:
            return pool
        time.sleep(0.05)
    raise AssertionError(f"pool not healthy again: {pool}")


def test_killed_worker_is_restarted_and_traffic_keeps_flowing(platform: RunningPlatform) -> None:
    vid = _version(platform)
    pool = _wait_healthy(platform, vid)
    victim = pool["processes"][0]
    failures: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=platform.url, headers={"host": "localhost"}) as client:
            while not stop.is_set():
                status = client.get("/whoami").status_code
                if status != 200:
                    failures.append(status)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    os.kill(victim["pid"], signal.SIGKILL)
    time.sleep(0.3)
    pool = _wait_healthy(platform, vid)
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    restarted = pool["processes"][0]
    assert restarted["pid"] != victim["pid"] and restarted["restarts"] == victim["restarts"] + 1
    assert failures == [], f"idempotent requests failed while a worker died: {failures}"


def test_idempotent_request_to_dying_process_is_retried_on_a_healthy_one(platform: RunningPlatform) -> None:
    vid = _version(platform)
    pool = _wait_healthy(platform, vid)
    victim = pool["processes"][1]
    # Round-robin: within two requests one reaches the victim, which exits without answering.
    answers = [platform.get(f"/crash-if/{victim['pid']}") for _ in range(2)]
    assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
    assert all(r.json()["pid"] != victim["pid"] for r in answers)
    pool = _wait_healthy(platform, vid)
    assert pool["processes"][1]["restarts"] == victim["restarts"] + 1


def test_non_idempotent_request_to_dying_process_is_not_retried(platform: RunningPlatform) -> None:
    vid = _version(platform)
    pool = _wait_healthy(platform, vid)
    victim = pool["processes"][0]["pid"]
    statuses = [platform.gateway.post(f"/crash-if/{victim}", headers={"host": "localhost"}) for _ in range(2)]
    failed = [r for r in statuses if r.status_code != 200]
    assert len(failed) == 1
    assert failed[0].status_code == 502 and failed[0].json()["error"]["code"] == "worker_failed"
    _wait_healthy(platform, vid)


def test_version_that_crashes_on_import_is_reported_with_its_output(platform: RunningPlatform) -> None:
    broken = make_app(platform.root, "broken", source="broken")
    assert platform.cli("versions", "upload", project=broken).returncode == 0
    before = platform.cli_json("deployments", "status", "--app", "probe")
    result = platform.cli("deploy", "v2", "--app", "probe")
    assert result.returncode == 1
    assert "worker_start_failed" in result.stderr
    assert "boom: this worker cannot start" in result.stderr  # the worker's own stderr is shown
    api = platform.admin.post("/v1/apps/probe/deployments", json={"splits": [{"version": "v2"}]})
    assert api.status_code == 422
    assert api.json()["error"]["code"] == "worker_start_failed"
    assert "RuntimeError: boom" in api.json()["error"]["details"]["stderr"]
    after = platform.cli_json("deployments", "status", "--app", "probe")
    assert after["deployment"]["id"] == before["deployment"]["id"]
    assert platform.get("/whoami").status_code == 200
    broken_id = platform.cli_json("versions", "view", "v2", "--app", "probe")["id"]
    deadline = time.monotonic() + 10
    while f"probe/production/{broken_id}" in platform.admin.get("/v1/status").json()["pools"]:
        assert time.monotonic() < deadline, "the failed version's processes were left running"
        time.sleep(0.05)


def test_platform_restart_restores_deployments(platform: RunningPlatform) -> None:
    vid = _version(platform)
    old_pids = {p["pid"] for p in platform.pool("probe", "production", vid)["processes"]}
    assert platform.stop() == 0
    for pid in old_pids:  # workers exit with the platform
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        assert not _alive(pid), f"worker {pid} outlived the platform"
    platform.start()
    assert platform.served_by() == vid
    assert platform.cli_json("versions", "list", "--app", "probe")[0]["number"] == 2


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split()[2] != "Z"
