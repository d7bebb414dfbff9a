"""Incidents and DORA metrics on the real platform: the incident lifecycle through the admin API and the CLI
(actors from tokens, conflicts, response figures, audit), rollout events joining an open incident's timeline,
and the four DORA metrics from a delivery history made through the admin API (deploys, a rollback, an aborted
canary that had taken traffic, a promoted canary)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.harness import RunningPlatform, make_app

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    p = RunningPlatform(tmp_path_factory.mktemp("incidents")).start()
    try:
        yield p
    finally:
        p.stop()


def _token(platform: RunningPlatform, name: str, scope: str) -> dict[str, str]:
    r = platform.admin.post("/v1/tokens", json={"name": name, "scopes": [scope]})
    assert r.status_code == 201, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    return data


def test_incident_lifecycle_through_the_api(platform: RunningPlatform) -> None:
    bob = _token(platform, "oncall-bob", "deploy")
    viewer = _token(platform, "viewer", "read")
    body = {"title": "checkout 5xx", "severity": "sev2", "app": "shop", "env": "production", "summary": "payments"}
    denied = platform.admin.post("/v1/incidents", json=body, headers=viewer)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "insufficient_scope"
    opened = _ok(platform.admin.post("/v1/incidents", json=body, headers=bob), 201)
    number = opened["number"]
    assert opened["severity"] == "SEV2" and opened["state"] == "triggered" and opened["created_by"] == "oncall-bob"
    assert opened["source"] == "manual" and opened["target_s"] == 3600 and opened["summary"] == "payments"

    listed = _ok(platform.admin.get("/v1/incidents", params={"state": "open"}, headers=viewer))["incidents"]
    assert number in [i["number"] for i in listed]
    by_hash = _ok(platform.admin.get(f"/v1/incidents/%23{number}", headers=viewer))
    by_prefix = _ok(platform.admin.get(f"/v1/incidents/{opened['id'][:8]}", headers=viewer))
    assert by_hash["id"] == by_prefix["id"] == opened["id"]

    acked = _ok(platform.admin.post(f"/v1/incidents/{number}/ack"))
    assert acked["acknowledged_by"] == "admin" and acked["target_met"] is True and 0 <= acked["mtta_s"] < 30
    twice = platform.admin.post(f"/v1/incidents/{number}/ack", headers=bob)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "incident_already_acknowledged"
    noted = _ok(platform.admin.post(f"/v1/incidents/{number}/note", json={"text": "rolled back the canary"},
                                    headers=bob))  # fmt: skip
    assert noted["timeline"][-1]["kind"] == "note" and noted["timeline"][-1]["actor"] == "oncall-bob"
    empty = platform.admin.post(f"/v1/incidents/{number}/note", json={"text": ""}, headers=bob)
    assert empty.status_code == 422
    resolved = _ok(platform.admin.post(f"/v1/incidents/{number}/resolve", json={"message": "fixed"}, headers=bob))
    assert resolved["state"] == "resolved" and resolved["resolved_by"] == "oncall-bob"
    assert resolved["mttr_s"] >= resolved["mtta_s"] >= 0
    assert [e["kind"] for e in resolved["timeline"]] == ["opened", "acknowledged", "note", "resolved"]
    late = platform.admin.post(f"/v1/incidents/{number}/ack", headers=bob)
    assert late.status_code == 409 and late.json()["error"]["code"] == "incident_already_resolved"

    stats = _ok(platform.admin.get("/v1/incidents/stats", params={"since": "1h"}, headers=viewer))
    sev2 = stats["by_severity"]["SEV2"]
    assert sev2["count"] >= 1 and sev2["target_met"] >= 1 and sev2["mttr_median_s"] is not None
    bad = platform.admin.get("/v1/incidents/stats", params={"since": "5x"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_duration"
    sev9 = platform.admin.post("/v1/incidents", json={"title": "x", "severity": "SEV9"})
    assert sev9.status_code == 400 and sev9.json()["error"]["code"] == "invalid_severity"
    missing = platform.admin.get("/v1/incidents/9999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "incident_not_found"

    entries = _ok(platform.admin.get("/v1/audit"))["entries"]
    actions = {(a["actor"], a["action"]) for a in entries if a["target"] == f"incident/#{number}"}
    assert actions == {("oncall-bob", "incident.open"), ("admin", "incident.ack"), ("oncall-bob", "incident.note"),
                       ("oncall-bob", "incident.resolve")}  # fmt: skip


def test_incident_lifecycle_through_the_cli(platform: RunningPlatform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the assertions are about content; no table cell wraps
    opened = platform.cli_json("incidents", "open", "search is down", "--severity", "sev1", "--app", "probe",
                               "--env", "staging", "--summary", "every query times out")  # fmt: skip
    ref = str(opened["number"])
    listed = platform.cli("incidents", "list", "--state", "open")
    assert listed.returncode == 0, listed.stderr
    assert "search is down" in listed.stdout and "SEV1" in listed.stdout and "triggered" in listed.stdout
    acked = platform.cli("incidents", "ack", f"#{ref}")
    assert acked.returncode == 0 and f"acknowledged #{ref}" in acked.stdout and "met" in acked.stdout
    assert platform.cli("incidents", "note", ref, "restarted the index").returncode == 0
    resolved = platform.cli("incidents", "resolve", ref, "-m", "index rebuilt")
    assert resolved.returncode == 0 and f"resolved #{ref}" in resolved.stdout
    shown = platform.cli("incidents", "show", ref)
    assert shown.returncode == 0, shown.stderr
    for text in ("search is down", "every query times out", "probe/staging", "timeline", "restarted the index",
                 "resolved by admin", "MTTA", "MTTR", "met"):  # fmt: skip
        assert text in shown.stdout, (text, shown.stdout)
    again = platform.cli("incidents", "resolve", ref)
    assert again.returncode == 1 and "incident_already_resolved" in again.stderr
    assert "Traceback" not in again.stderr
    detail = platform.cli_json("incidents", "show", ref)
    assert [e["kind"] for e in detail["timeline"]] == ["opened", "acknowledged", "note", "resolved"]
    assert detail["mtta_s"] <= detail["mttr_s"] and detail["target_met"] is True
    stats = platform.cli("incidents", "stats", "--since", "1d")
    assert stats.returncode == 0 and "SEV1" in stats.stdout and "target met" in stats.stdout
    assert platform.cli_json("incidents", "stats")["by_severity"]["SEV1"]["count"] >= 1


# -- DORA and rollout events ---------------------------------------------------------------------------------------
def _wait_rollout(platform: RunningPlatform, rollout: str, ok: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _ok(platform.admin.get(f"/v1/apps/probe/rollouts/{rollout}"))
        if ok(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"rollout {rollout} never got there: {status}\n{platform.log()[-3000:]}")


@pytest.fixture(scope="module")
def history(platform: RunningPlatform) -> dict[str, Any]:
    """probe in production: deploy v1, v2; rollback (v2 failed); deploy v3; a canary of v4 that takes traffic
    and is aborted (failed); a canary of v5 promoted to 100%. v1 also goes to staging. An incident is open for
    probe/production the whole time."""
    ids = {}
    for label in ("one", "two", "three", "four", "five"):
        project = make_app(platform.root, f"dora-{label}", label=label)
        ids[label] = platform.cli_json("versions", "upload", project=project)["id"]
    incident = _ok(platform.admin.post("/v1/incidents", json={"title": "probe errors", "severity": "SEV3",
                                                              "app": "probe", "env": "production"}), 201)  # fmt: skip

    def deploy(version: str, env: str = "production") -> None:
        body = {"env": env, "splits": [{"version": ids[version]}]}
        _ok(platform.admin.post("/v1/apps/probe/deployments", json=body), 201)

    deploy("one")
    deploy("one", env="staging")
    deploy("two")
    _ok(platform.admin.post("/v1/apps/probe/rollback", json={"env": "production"}), 201)
    deploy("three")
    aborted = _ok(platform.admin.post("/v1/apps/probe/rollouts", json={"version": ids["four"]}), 201)
    _wait_rollout(platform, aborted["id"], lambda s: s["version"]["weight"] > 0)
    _ok(platform.admin.post(f"/v1/apps/probe/rollouts/{aborted['id']}/abort"))
    promoted = _ok(platform.admin.post("/v1/apps/probe/rollouts", json={"version": ids["five"]}), 201)
    _wait_rollout(platform, promoted["id"], lambda s: s["version"]["weight"] > 0)
    _ok(platform.admin.post(f"/v1/apps/probe/rollouts/{promoted['id']}/promote", json={"full": True}))
    done = _wait_rollout(platform, promoted["id"], lambda s: s["state"] not in ("running", "paused"))
    assert done["state"] == "succeeded", done
    return {"ids": ids, "incident": incident, "aborted": aborted["id"], "promoted": promoted["id"]}


def test_dora_metrics_from_real_delivery_history(platform: RunningPlatform, history: dict[str, Any]) -> None:
    m = _ok(platform.admin.get("/v1/dora", params={"app": "probe", "env": "production", "since": "30d"}))
    ids = history["ids"]
    assert [(c["version_id"], c["via"], c["failed"]) for c in m["changes"]] == [
        (ids["one"], "deploy", False), (ids["two"], "deploy", True), (ids["three"], "deploy", False),
        (ids["four"], "rollout", True), (ids["five"], "promote", False)]  # fmt: skip
    assert m["changes"][3]["rollout"] == history["aborted"]
    freq = m["deployment_frequency"]
    assert freq["deploys"] == 4 and freq["per_day"] == pytest.approx(4 / 30) and freq["band"] == "medium"
    lead = m["lead_time"]
    assert lead["samples"] == 4 and 0 < lead["median_s"] < 300 and lead["band"] == "elite"
    cfr = m["change_failure_rate"]
    assert (cfr["changes"], cfr["failures"], cfr["rate"], cfr["band"]) == (5, 2, 0.4, "low")
    ttr = m["time_to_restore"]
    assert ttr["source"] == "deployments" and ttr["samples"] == 2 and 0 < ttr["median_s"] < 300
    assert ttr["band"] == "elite"
    every_env = _ok(platform.admin.get("/v1/dora", params={"app": "probe"}))
    assert every_env["deployment_frequency"]["deploys"] == 5
    week = _ok(platform.admin.get("/v1/dora", params={"app": "probe", "env": "production", "since": "7d"}))
    assert week["deployment_frequency"]["per_week"] == pytest.approx(4)

    table = platform.cli("dora", "--app", "probe")
    assert table.returncode == 0, table.stderr
    for text in ("deployment frequency", "lead time", "change failure rate", "40%", "2 of 5 changes",
                 "time to restore", "elite", "low"):  # fmt: skip
        assert text in table.stdout, (text, table.stdout)
    assert platform.cli_json("dora", "--app", "probe", "--all-envs")["deployment_frequency"]["deploys"] == 5
    bad = platform.cli("dora", "--since", "forever")
    assert bad.returncode == 1 and "invalid_duration" in bad.stderr


def test_rollout_events_join_the_open_incident_of_the_environment(
    platform: RunningPlatform, history: dict[str, Any]
) -> None:
    ref = history["incident"]["id"]
    deadline = time.monotonic() + 10
    while True:
        timeline = _ok(platform.admin.get(f"/v1/incidents/{ref}"))["timeline"]
        seen = {(e["kind"], e["details"].get("rollout"), e["details"].get("kind")) for e in timeline[1:]}
        if (("deploy", history["promoted"], "succeeded")) in seen or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert {
        ("deploy", history["aborted"], "created"),
        ("rollback", history["aborted"], "aborted"),
        ("deploy", history["promoted"], "created"),
        ("deploy", history["promoted"], "succeeded"),
    } <= seen
    for e in timeline[1:]:  # rollout events name their rollout; plain deploys and rollbacks their author
        assert e["actor"].startswith("rollout:") == bool(e["details"].get("rollout")), e
    # The staging incident of the CLI test (already resolved, other env) got none of them.
    other = _ok(platform.admin.get("/v1/incidents", params={"state": "resolved"}))["incidents"]
    for incident in other:
        full = _ok(platform.admin.get(f"/v1/incidents/{incident['id']}"))
        assert not [e for e in full["timeline"] if e["actor"].startswith("rollout:")]
