"""The rollout CLI against a running platform: ``deploy --strategy`` starts a rollout, ``rollout status`` shows
the judges, ``rollout status --watch`` follows the event stream to the end (exit 0 on success, 1 on failure;
plain lines off a terminal, a live view on one), and pause / resume / abort / a refused second rollout."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.harness import RunningPlatform
from tests.integration.test_rollouts import Load, flaky

pytestmark = pytest.mark.timeout(120)

APP = "flaky"
SHORT = """[deploy]
strategy = "canary"
mode = "auto"

[[deploy.canary]]
weight = 20
duration = "3s"
min_requests = 10

[[deploy.canary]]
weight = 100

[deploy.analysis]
min_requests = 10
"""
LONG = SHORT.replace('duration = "3s"', 'duration = "60s"')


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    p = RunningPlatform(tmp_path_factory.mktemp("rollout-cli")).start()
    try:
        v1 = p.cli_json("versions", "upload", project=flaky(p.root, "stable", "one"))
        assert p.cli("deploy", v1["id"], "--app", APP).returncode == 0
        yield p
    finally:
        p.stop()


def cli(platform: RunningPlatform, *args: str) -> subprocess.CompletedProcess[str]:
    return platform.cli(*args, "--app", APP)


def cli_json(platform: RunningPlatform, *args: str) -> Any:
    return platform.cli_json(*args, "--app", APP)


def command(platform: RunningPlatform, *args: str) -> list[str]:
    return [sys.executable, "-m", "edgeplane", "--admin-url", platform.admin_url, "--token", platform.token,
            *args, "--app", APP]  # fmt: skip


def upload(platform: RunningPlatform, name: str, deploy: str, **vars: object) -> int:
    project = flaky(platform.root, name, name, deploy=deploy, **vars)
    return int(platform.cli_json("versions", "upload", project=project)["number"])


def wait_for_evidence(platform: RunningPlatform, timeout: float = 10) -> dict[str, Any]:
    """The current rollout's status once the comparison judges have seen traffic on both versions."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = platform.admin.get(f"/v1/apps/{APP}/rollouts/current").json()
        errors = next((v for v in status["verdicts"] if v["judge"] == "errors"), None)
        if errors and errors["evidence"]["canary"]["requests"] and errors["evidence"]["baseline"]["requests"]:
            return status
        time.sleep(0.05)
    raise AssertionError(f"no evidence yet: {status}")


def test_deploy_strategy_starts_a_rollout_that_status_shows_and_watch_follows(platform: RunningPlatform) -> None:
    number = upload(platform, "healthy", SHORT)
    with Load(platform.url):
        started = cli(platform, "deploy", f"v{number}", "--strategy", "canary", "-m", "via the cli")
        assert started.returncode == 0, started.stderr
        assert "started canary rollout" in started.stdout and f"v{number} (stable: v1)" in started.stdout
        assert "edgeplane rollout status --watch" in started.stdout
        watch = subprocess.Popen(command(platform, "rollout", "status", "--watch"), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)  # fmt: skip
        try:
            wait_for_evidence(platform)
            shown = cli(platform, "rollout", "status")
            out, err = watch.communicate(timeout=30)
        finally:
            watch.kill()
    assert shown.returncode == 0, shown.stderr
    assert "running" in shown.stdout and f"v{number} replacing v1" in shown.stdout
    assert "20% for 3s" in shown.stdout and "left" in shown.stdout  # the current step's progress
    for word in ("judge", "verdict", "evidence", "thresholds", "errors", "latency", "health", "pass"):
        assert word in shown.stdout, shown.stdout
    assert "req" in shown.stdout and "p95" in shown.stdout and "p=" in shown.stdout  # evidence, not raw JSON
    assert "{" not in shown.stdout
    # --watch off a terminal: the history, one line per status change, then the final view; exit 0.
    assert watch.returncode == 0, out + err
    assert "created" in out and "step_passed" in out and "status running" in out
    assert out.rstrip().splitlines()[-1].endswith("succeeded")
    final = cli_json(platform, "rollout", "status")
    assert final["state"] == "succeeded" and final["version"]["weight"] == 100
    listed = cli_json(platform, "rollout", "list")
    assert listed[0]["id"] == final["id"] and listed[0]["state"] == "succeeded"
    history = cli(platform, "rollout", "history", final["id"][:8])
    assert history.returncode == 0 and "step_passed" in history.stdout and "succeeded" in history.stdout


def test_pause_resume_abort_and_a_second_rollout_is_refused(platform: RunningPlatform) -> None:
    number = upload(platform, "long", LONG)
    started = cli_json(platform, "deploy", f"v{number}", "--strategy", "canary")
    assert started["state"] == "running" and started["steps"][0]["duration"] == 60
    rollout = started["id"]

    again = cli(platform, "deploy", f"v{number}", "--strategy", "canary")
    assert again.returncode == 1 and "rollout_in_progress" in again.stderr and rollout[:8] in again.stderr
    split = cli(platform, "deploy", "v1@90", f"v{number}@10", "--strategy", "canary")
    assert split.returncode == 2 and "one VERSION" in split.stderr
    own = cli(platform, "rollout", "approve")
    assert own.returncode == 1 and "self_approval" in own.stderr

    paused = cli(platform, "rollout", "pause")
    assert paused.returncode == 0 and "now paused" in paused.stdout, paused.stderr
    assert cli_json(platform, "rollout", "status")["state"] == "paused"
    twice = cli(platform, "rollout", "pause")
    assert twice.returncode == 1 and "rollout_not_running" in twice.stderr
    resumed = cli_json(platform, "rollout", "resume", rollout[:8])  # by id prefix, with --json
    assert resumed["state"] == "running" and resumed["id"] == rollout
    aborted = cli(platform, "rollout", "abort")
    assert aborted.returncode == 0 and "now aborted" in aborted.stdout, aborted.stderr
    status = cli_json(platform, "rollout", "status", rollout)
    assert status["state"] == "aborted" and status["stable"]["weight"] == 100

    # Watching a finished rollout replays its history and exits at once: 1 for aborted (JSON lines with --json).
    watched = subprocess.run(command(platform, "--json", "rollout", "status", "--watch"), capture_output=True,
                             text=True, timeout=30, check=False)  # fmt: skip
    assert watched.returncode == 1, watched.stderr
    frames = [json.loads(line) for line in watched.stdout.splitlines()]
    assert frames[-1]["event"] == "status" and frames[-1]["data"]["state"] == "aborted"
    assert [f["data"]["kind"] for f in frames if f["event"] == "event"][-1] == "aborted"


def test_watch_exits_1_when_the_rollout_fails(platform: RunningPlatform) -> None:
    number = upload(platform, "bad", SHORT, ERROR_RATE=0.4)
    with Load(platform.url):
        started = cli(platform, "deploy", f"v{number}", "--strategy", "canary")
        assert started.returncode == 0, started.stderr
        watched = cli(platform, "rollout", "status", "--watch")
    assert watched.returncode == 1, watched.stdout + watched.stderr
    assert "rolled_back" in watched.stdout and watched.stdout.rstrip().endswith("failed")
    assert "errors" in watched.stdout and "fail" in watched.stdout


@pytest.mark.skipif(not hasattr(pty, "openpty"), reason="needs a pseudo-terminal")
def test_watch_on_a_terminal_draws_a_live_view(platform: RunningPlatform) -> None:
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    proc = subprocess.Popen(command(platform, "rollout", "status", "--watch"), stdin=slave, stdout=slave,
                            stderr=slave, env=env)  # fmt: skip
    os.close(slave)
    output = b""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal closed: the command exited
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(10)
    finally:
        proc.kill()
        os.close(master)
    text = output.decode(errors="replace")
    assert code == 1, text  # the newest rollout failed
    assert "\x1b[" in text  # drawn with terminal control sequences (colours, cursor moves)
    assert "rolled_back" in text and "failed" in text and "judge" in text
