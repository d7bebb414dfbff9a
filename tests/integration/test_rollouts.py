"""Progressive delivery end to end: canary, blue-green and rolling rollouts judged from live traffic, each
trust mode, approvals, bad input, and a controller restart in the middle of a rollout."""

from __future__ import annotations

import re
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

    def __init__(self, url: str, rate: float = 80.0) -> None:
        self.url = url
        self.rate = rate
        self.results: list[tuple[float, int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10, headers={"host": "localhost"}) as client:
            next_at = time.monotonic()
            while not self._stop.is_set():
                try:
                    r = client.get("/")
                    self.results.append((time.monotonic(), r.status_code, r.text))
                except httpx.HTTPError as exc:
                    self.results.append((time.monotonic(), 0, str(exc)))
                next_at += 1 / self.rate
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

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
