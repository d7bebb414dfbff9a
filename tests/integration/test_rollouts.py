"""Progressive delivery end to end: canary, blue-green and rolling rollouts judged from live traffic, each
trust mode, approvals, bad input, and a controller restart in the middle of a rollout."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.harness import RunningPlatform, make_app

pytestmark = pytest.mark.timeout(180)


class Load:
    """Steady traffic at the gateway from a background thread; records (time, status, body)."""

    THREADS = 4

    def __init__(self, url: str, rate: float = 80.0) -> None:
        self.url = url
        self.rate = rate
        self.results: list[tuple[float, int, str]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.THREADS)]

    def _run(self) -> None:
        """Each thread sends rate/THREADS requests a second, so a slow version does not slow the others."""
        with httpx.Client(base_url=self.url, timeout=10, headers={"host": "localhost"}) as client:
            next_at = time.monotonic()
            while not self._stop.is_set():
                try:
                    r = client.get("/")
                    self.results.append((time.monotonic(), r.status_code, r.text))
                except httpx.HTTPError as exc:
                    self.results.append((time.monotonic(), 0, str(exc)))
                next_at = max(next_at + self.THREADS / self.rate, time.monotonic() - 1)
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def since(self, t: float) -> list[tuple[float, int, str]]:
        return [r for r in self.results if r[0] >= t]


def flaky(root: Path, name: str, label: str, *, deploy: str | None = None, **vars: object) -> Path:
    """A copy of the flaky app with LABEL and other vars set, and optionally its [deploy] tables replaced."""
    project = make_app(root, name, source="flaky")
    config = project / "edgeplane.toml"
    text = config.read_text().replace('LABEL = "one"', f'LABEL = "{label}"')
    for key, value in vars.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {value!r}".replace("'", '"'), text, flags=re.M)
    if deploy is not None:
        text = text[: text.index("[deploy]")] + deploy
    config.write_text(text)
    return project


class Flow:
    """One app on one platform: upload versions, start rollouts, wait for states."""

    def __init__(self, platform: RunningPlatform, app: str) -> None:
        self.p = platform
        self.app = app

    def upload(self, project: Path) -> dict[str, Any]:
        data: dict[str, Any] = self.p.cli_json("versions", "upload", project=project)
        return data

    def start(self, version: str, **body: Any) -> httpx.Response:
        return self.p.admin.post(f"/v1/apps/{self.app}/rollouts", json={"version": version, **body})

    def status(self, rollout: str) -> dict[str, Any]:
        r = self.p.admin.get(f"/v1/apps/{self.app}/rollouts/{rollout}")
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def wait(self, rollout: str, states: set[str], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(rollout)
            if status["state"] in states:
                return status
            time.sleep(0.05)
        raise AssertionError(f"rollout never reached {states}: {status}\n{self.p.log()[-3000:]}")

    def events(self, rollout: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.p.admin.get(f"/v1/apps/{self.app}/rollouts/{rollout}/events").json()[
            "events"
        ]
        return events

    def command(self, rollout: str, action: str, token: str | None = None, **body: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return self.p.admin.post(f"/v1/apps/{self.app}/rollouts/{rollout}/{action}", json=body or None, headers=headers)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    p = RunningPlatform(tmp_path_factory.mktemp("rollouts")).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def flow(platform: RunningPlatform) -> Flow:
    f = Flow(platform, "flaky")
    v1 = f.upload(flaky(platform.root, "stable", "one"))
    assert platform.cli("deploy", v1["id"], "--app", "flaky").returncode == 0
    return f


def served(load: Load, since: float) -> set[str]:
    return {body for _, status, body in load.since(since) if status == 200}


def test_healthy_canary_walks_its_stages_and_promotes(flow: Flow, platform: RunningPlatform) -> None:
    v2 = flow.upload(flaky(platform.root, "healthy", "two"))
    with Load(platform.url) as load:
        r = flow.start(v2["id"])
        assert r.status_code == 201, r.text
        rollout = r.json()
        assert rollout["state"] == "running" and rollout["strategy"] == "canary" and rollout["mode"] == "auto"
        assert [s["kind"] for s in rollout["steps"]] == ["traffic", "promote"]
        time.sleep(1.5)
        mid = flow.status(rollout["id"])
        assert mid["version"]["weight"] == 20 and mid["stable"]["weight"] == 80
        assert 0 < mid["time_left"] < 3
        judges = {v["judge"]: v for v in mid["verdicts"]}
        assert {"thresholds", "errors", "latency", "health", "slo_burn"} <= set(judges)
        assert judges["errors"]["evidence"]["canary"]["requests"] > 0
        done = flow.wait(rollout["id"], {"succeeded", "failed", "paused"})
        assert done["state"] == "succeeded", (done["reason"], done["verdicts"])
        end = time.monotonic()
        time.sleep(0.5)
    assert served(load, end + 0.2) == {"two"}
    assert all(status == 200 for _, status, _ in load.results)  # a healthy rollout fails no request
    kinds = [e["kind"] for e in flow.events(rollout["id"])]
    assert kinds[0] == "created" and "step_passed" in kinds and kinds[-1] == "succeeded"
    passed = next(e for e in flow.events(rollout["id"]) if e["kind"] == "step_passed")
    assert passed["details"]["verdict"] == "pass"
    assert {f["judge"] for f in passed["details"]["findings"]} >= {"errors", "latency", "thresholds"}
    history = platform.admin.get("/v1/apps/flaky/deployments", params={"env": "production"}).json()["deployments"]
    assert [d["kind"] for d in history[:2]] == ["promote", "rollout"]


def test_failing_canary_rolls_back_within_a_second(flow: Flow, platform: RunningPlatform) -> None:
    stable = flow.status("current")["version"]["id"]
    bad = flow.upload(flaky(platform.root, "bad", "bad", ERROR_RATE=0.3))
    with Load(platform.url) as load:
        rollout = flow.start(bad["id"]).json()
        done = flow.wait(rollout["id"], {"failed", "succeeded"}, timeout=30)
        verdict_at = time.monotonic()
        time.sleep(1.5)
    assert done["state"] == "failed", done
    assert done["stable"]["weight"] == 100 and done["version"]["weight"] == 0
    rolled = next(e for e in flow.events(rollout["id"]) if e["kind"] == "rolled_back")
    assert rolled["details"]["rollback_ms"] < 1000
    errors = next(f for f in rolled["details"]["findings"] if f["judge"] == "errors")
    assert errors["verdict"] == "fail" and errors["evidence"]["p_value"] <= 0.001
    assert errors["evidence"]["canary"]["errors"] > 0
    # From the client's side: one second after the failed state was seen, only stable answers.
    assert served(load, verdict_at + 1.0) == {"two"}
    assert all(status == 200 for _, status, _ in load.since(verdict_at + 1.0))
    assert flow.status("current")["id"] == rollout["id"]
    assert stable  # the rollout compared against the version serving before it


def _restore(flow: Flow, platform: RunningPlatform, version: str) -> None:
    r = platform.admin.post("/v1/apps/flaky/rollback", json={"env": "production", "version": version})
    assert r.status_code == 201, r.text


def test_pause_mode_stops_for_a_human_and_abort_restores_stable(flow: Flow, platform: RunningPlatform) -> None:
    bad = flow.upload(flaky(platform.root, "bad-pause", "bad", ERROR_RATE=0.3))
    with Load(platform.url):
        rollout = flow.start(bad["id"], mode="pause").json()
        paused = flow.wait(rollout["id"], {"paused", "failed", "succeeded"}, timeout=30)
        assert paused["state"] == "paused" and paused["reason"].startswith("failed: errors:")
        assert paused["version"]["weight"] == 20  # nothing moved: a human decides
        time.sleep(0.5)
        assert flow.status(rollout["id"])["state"] == "paused"
        aborted = flow.command(rollout["id"], "abort").json()
    assert aborted["state"] == "aborted" and aborted["stable"]["weight"] == 100
    assert {e["kind"] for e in flow.events(rollout["id"])} >= {"paused", "aborted"}
    # Retrying needs the environment to be idle and starts from the first step with fresh evidence.
    assert flow.command(rollout["id"], "promote").json()["error"]["code"] == "rollout_not_active"


def test_shadow_mode_judges_but_never_acts(flow: Flow, platform: RunningPlatform) -> None:
    stable = flow.status("current")["stable"]["id"]
    bad = flow.upload(flaky(platform.root, "bad-shadow", "bad", ERROR_RATE=0.3))
    with Load(platform.url):
        rollout = flow.start(bad["id"], mode="shadow").json()
        done = flow.wait(rollout["id"], {"succeeded", "failed", "paused"}, timeout=30)
    assert done["state"] == "succeeded" and done["version"]["weight"] == 100
    shadow = [e for e in flow.events(rollout["id"]) if e["kind"] == "shadow_fail"]
    assert len(shadow) == 1 and "errors" in shadow[0]["message"]
    _restore(flow, platform, stable)


def test_manual_pause_stage_and_promote_full(flow: Flow, platform: RunningPlatform) -> None:
    stages = """[deploy]
mode = "auto"
[[deploy.canary]]
weight = 10
duration = "1s"
min_requests = 0
[[deploy.canary]]
pause = true
[[deploy.canary]]
weight = 50
duration = "10m"
[[deploy.canary]]
weight = 100
"""
    v = flow.upload(flaky(platform.root, "staged", "staged", deploy=stages))
    rollout = flow.start(v["id"]).json()
    assert [s["label"] for s in rollout["steps"]] == ["10% for 1s", "manual pause", "50% for 10m", "100%"]
    paused = flow.wait(rollout["id"], {"paused"}, timeout=20)
    assert "manual pause" in paused["reason"] and paused["step"] == 1
    promoted = flow.command(rollout["id"], "promote").json()
    assert promoted["state"] == "running" and promoted["step"] == 2 and promoted["version"]["weight"] == 50
    flow.command(rollout["id"], "promote", full=True)
    done = flow.wait(rollout["id"], {"succeeded"}, timeout=10)
    assert done["version"]["weight"] == 100


def test_bad_input_is_refused_with_state_unchanged(flow: Flow, platform: RunningPlatform) -> None:
    stages = '[deploy]\n[[deploy.canary]]\nweight = 10\nduration = "10m"\n[[deploy.canary]]\nweight = 100\n'
    v = flow.upload(flaky(platform.root, "slow-stage", "slow", deploy=stages))
    running = flow.start(v["id"]).json()
    second = flow.start(v["id"])
    assert second.status_code == 409 and second.json()["error"]["code"] == "rollout_in_progress"
    assert running["id"][:8] in second.json()["error"]["message"]
    deploy = platform.admin.post(
        "/v1/apps/flaky/deployments", json={"env": "production", "splits": [{"version": "v1"}]}
    )
    assert deploy.status_code == 409 and deploy.json()["error"]["code"] == "rollout_in_progress"
    missing = flow.start("v999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "version_not_found"
    assert flow.start(v["id"], strategy="yolo").status_code == 422
    # Queued behind the running one; it starts once the first ends.
    queued = flow.start(v["id"], queue=True).json()
    assert queued["state"] == "queued"
    flow.command(running["id"], "abort")
    flow.wait(queued["id"], {"running"}, timeout=10)
    deadline = time.monotonic() + 5
    while flow.status(queued["id"])["version"]["weight"] != 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flow.status(queued["id"])["version"]["weight"] == 10
    flow.command(queued["id"], "abort")
    flow.wait(queued["id"], {"aborted"})
    # Configs that cannot be a rollout are rejected at upload, naming the key.
    for bad, words in (
        ('[deploy]\n[[deploy.canary]]\nweight = 10\nduration = "1m"\n', "weight = 100"),
        ('[deploy]\n[[deploy.canary]]\nweight = 10\nduration = "-5m"\n[[deploy.canary]]\nweight = 100\n', "duration"),
        ('[deploy]\n[[deploy.canary]]\nweight = 10\nduration = "5x"\n[[deploy.canary]]\nweight = 100\n', "'5x'"),
    ):
        project = flaky(platform.root, f"invalid-{abs(hash(bad))}", "x", deploy=bad)
        result = platform.cli("versions", "upload", project=project)
        assert result.returncode != 0 and "deploy" in result.stderr + result.stdout, result.stderr
        assert words in result.stderr + result.stdout


def test_latency_regression_fails_on_the_latency_judge(flow: Flow, platform: RunningPlatform) -> None:
    slow = flow.upload(flaky(platform.root, "slow", "slow", DELAY_MS=150))
    with Load(platform.url):
        rollout = flow.start(slow["id"]).json()
        done = flow.wait(rollout["id"], {"failed", "succeeded"}, timeout=30)
    assert done["state"] == "failed"
    rolled = next(e for e in flow.events(rollout["id"]) if e["kind"] == "rolled_back")
    latency = next(f for f in rolled["details"]["findings"] if f["judge"] == "latency")
    evidence = latency["evidence"]
    assert evidence["canary_ms"] - evidence["baseline_ms"] >= 100 and evidence["p_value"] <= 0.001
    assert evidence["probability_canary_slower"] > 0.9


def test_failing_health_checks_fail_the_rollout(flow: Flow, platform: RunningPlatform) -> None:
    sick = flow.upload(flaky(platform.root, "sick", "sick", HEALTH_FAIL_AFTER=1))
    with Load(platform.url, rate=20):
        rollout = flow.start(sick["id"]).json()
        done = flow.wait(rollout["id"], {"failed", "succeeded"}, timeout=30)
    assert done["state"] == "failed" and "health" in done["reason"]


BLUE_GREEN = """[deploy]
strategy = "blue-green"
[deploy.blue_green]
validation = "2s"
rollback_window = "1m"
[[deploy.blue_green.smoke]]
path = "/anything"
expect_status = 200
expect_body = "{label}"
"""


def test_blue_green_previews_checks_switches_and_keeps_blue_warm(flow: Flow, platform: RunningPlatform) -> None:
    blue = flow.status("current")["stable"]["id"]
    green = flow.upload(flaky(platform.root, "green", "green", deploy=BLUE_GREEN.format(label="green")))
    with Load(platform.url) as load:
        rollout = flow.start(green["id"]).json()
        assert [s["kind"] for s in rollout["steps"]] == ["checks", "traffic", "promote"]
        done = flow.wait(rollout["id"], {"succeeded", "failed"}, timeout=30)
        end = time.monotonic()
        time.sleep(0.3)
    assert done["state"] == "succeeded", done["reason"]
    smoke = next(e for e in flow.events(rollout["id"]) if e["kind"] == "verdict" and e["details"]["judge"] == "smoke")
    # The smoke check went through the gateway with the override header while green had 0% of traffic, and
    # only green answers "green": the preview works.
    assert smoke["details"]["verdict"] == "pass"
    assert smoke["details"]["evidence"]["checks"][0]["got"] == "200"
    assert served(load, end + 0.1) == {"green"}
    assert all(status == 200 for _, status, _ in load.results)
    assert platform.pool("flaky", "production", blue)["healthy"] >= 1  # blue stays warm for the rollback window
    # A green whose smoke check fails never takes traffic.
    broken = flow.upload(flaky(platform.root, "green-bad", "nope", deploy=BLUE_GREEN.format(label="green")))
    rollout = flow.start(broken["id"]).json()
    failed = flow.wait(rollout["id"], {"failed", "succeeded"}, timeout=30)
    assert failed["state"] == "failed" and "smoke" in failed["reason"]
    assert failed["version"]["weight"] == 0 and platform.get("/").text == "green"


ROLLING = """[deploy]
strategy = "rolling"
[deploy.rolling]
batch_size = 1
grace_period = "0.5s"
batch_duration = "2s"
"""


def test_rolling_replaces_processes_batch_by_batch_without_failed_requests(
    flow: Flow, platform: RunningPlatform
) -> None:
    old = flow.status("current")["version"]["id"]
    project = flaky(platform.root, "rolled", "rolled", deploy=ROLLING)
    config = project / "edgeplane.toml"
    config.write_text(config.read_text().replace("pool_size = 1", "pool_size = 2"))
    new = flow.upload(project)
    with Load(platform.url) as load:
        rollout = flow.start(new["id"]).json()
        assert [s.get("weight") for s in rollout["steps"]] == [50.0, 100]
        time.sleep(1.2)
        mid = flow.status(rollout["id"])
        assert mid["version"]["weight"] == 50
        assert platform.pool("flaky", "production", new["id"])["size"] == 1
        done = flow.wait(rollout["id"], {"succeeded", "failed"}, timeout=30)
        time.sleep(0.3)
    assert done["state"] == "succeeded", done["reason"]
    assert platform.pool("flaky", "production", new["id"])["size"] == 2
    assert all(status == 200 for _, status, _ in load.results), {s for _, s, _ in load.results}
    assert {"green", "rolled"} <= {body for _, _, body in load.results}
    assert old != new["id"]


def test_production_needs_two_approvals_from_distinct_other_tokens(tmp_path: Path) -> None:
    (tmp_path / "edgeplane.toml").write_text('[server]\napprovals = { production = 2 }\napprove_before = "start"\n')
    p = RunningPlatform(tmp_path).start()
    try:
        flow = Flow(p, "flaky")
        v1 = flow.upload(flaky(tmp_path, "v1", "one"))
        direct = p.admin.post(
            "/v1/apps/flaky/deployments", json={"env": "production", "splits": [{"version": v1["id"]}]}
        )
        assert direct.status_code == 403 and direct.json()["error"]["code"] == "approval_required"
        sneaky = p.admin.post("/v1/apps/flaky/rollback", json={"env": "production", "version": v1["id"]})
        assert sneaky.status_code in (403, 404)  # a "rollback" to a version that never served is no way around
        assert (
            p.admin.post(
                "/v1/apps/flaky/deployments", json={"env": "staging", "splits": [{"version": v1["id"]}]}
            ).status_code
            == 201
        )
        tokens = {
            name: p.admin.post("/v1/tokens", json={"name": name, "scopes": ["deploy"]}).json()["token"]
            for name in ("alice", "bob")
        }
        # The first rollout of an environment has no baseline: approvals, then straight to 100%.
        first_rollout = flow.start(v1["id"]).json()
        assert first_rollout["state"] == "awaiting_approval" and [s["kind"] for s in first_rollout["steps"]] == [
            "promote"
        ]
        for name in ("alice", "bob"):
            flow.command(first_rollout["id"], "approve", token=tokens[name])
        flow.wait(first_rollout["id"], {"succeeded"}, timeout=20)
        assert p.get("/").text == "one"
        v2 = flow.upload(flaky(tmp_path, "v2", "two"))
        rollout = flow.start(v2["id"]).json()
        assert rollout["state"] == "awaiting_approval" and rollout["approvals"]["required"] == 2
        assert p.get("/").text == "one"
        own = flow.command(rollout["id"], "approve")
        assert own.status_code == 403 and own.json()["error"]["code"] == "self_approval"
        first = flow.command(rollout["id"], "approve", token=tokens["alice"]).json()
        assert first["state"] == "awaiting_approval" and [a["token_name"] for a in first["approvals"]["approvers"]] == [
            "alice"
        ]
        again = flow.command(rollout["id"], "approve", token=tokens["alice"])
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_approved"
        assert flow.status(rollout["id"])["state"] == "awaiting_approval"  # unchanged by the refused approval
        second = flow.command(rollout["id"], "approve", token=tokens["bob"]).json()
        assert second["state"] == "running"
        audit = p.admin.get("/v1/audit").json()["entries"]
        approvals = [a["actor"] for a in audit if a["action"] == "rollout.approve" and a["target"] == rollout["id"]]
        assert sorted(approvals) == ["alice", "bob"]
        flow.command(rollout["id"], "abort")
    finally:
        p.stop()


def test_killed_controller_resumes_at_the_same_step_with_its_evidence(tmp_path: Path) -> None:
    p = RunningPlatform(tmp_path).start()
    try:
        flow = Flow(p, "flaky")
        v1 = flow.upload(flaky(tmp_path, "v1", "one"))
        assert p.cli("deploy", v1["id"], "--app", "flaky").returncode == 0
        stages = '[deploy]\n[[deploy.canary]]\nweight = 50\nduration = "20s"\n[[deploy.canary]]\nweight = 100\n'
        v2 = flow.upload(flaky(tmp_path, "v2", "two", deploy=stages))
        with Load(p.url, rate=40) as load:
            rollout = flow.start(v2["id"]).json()
            time.sleep(3.5)
            before = flow.status(rollout["id"])
            events_before = flow.events(rollout["id"])
            p.stop(signal.SIGKILL)
            p.start()
            after = flow.status(rollout["id"])
            time.sleep(1.5)
            later = flow.status(rollout["id"])
        served_by_v2 = sum(1 for _, status, body in load.results if status == 200 and body == "two")
        assert after["state"] == "running" and after["step"] == before["step"] == 0
        assert after["version"]["weight"] == 50
        # Elapsed time and evidence come back as last saved (at most a second old), not from zero.
        assert before["step_elapsed"] - 1.5 <= after["step_elapsed"] <= before["step_elapsed"] + 0.5
        errors = {v["judge"]: v for v in later["verdicts"]}["errors"]["evidence"]
        saved = {v["judge"]: v for v in before["verdicts"]}["errors"]["evidence"]
        assert errors["canary"]["requests"] >= saved["canary"]["requests"] - 40  # kept what was saved
        assert errors["canary"]["requests"] <= served_by_v2  # and counted nothing twice
        events_after = flow.events(rollout["id"])
        assert events_after[: len(events_before)] == events_before
        flow.command(rollout["id"], "promote", full=True)
        assert flow.wait(rollout["id"], {"succeeded"}, timeout=20)["version"]["weight"] == 100
    finally:
        p.stop()
