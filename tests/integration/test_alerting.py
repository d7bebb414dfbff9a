"""Alerting end to end on a real platform: a rule fires from live traffic, opens an incident, rolls the
environment back (delivery's rollback), notifies a real webhook receiver, and resolves; SLO burn-rate alerts;
silences; a broken rule is an error state while the others go on; a bad alerting file is refused on reload."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import RunningPlatform
from tests.integration.test_rollouts import Load, flaky

pytestmark = pytest.mark.timeout(180)


class Hook:
    """A webhook receiver on 127.0.0.1 that records every JSON body it gets."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                hook.paths.append(self.path)
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, what: str, test: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body in self.bodies:
                if test(body):
                    return body
            time.sleep(0.05)
        raise AssertionError(f"no webhook {what}; got {self.bodies}")


ALERTS = """
[[receivers]]
name = "hook"
kind = "webhook"
url = "{hook}"

[[routes]]
match = {{ alertname = "SLOBurnRate" }}
pagers = ["hook"]
receivers = ["hook"]

[[receivers]]
name = "lead"
kind = "webhook"
url = "{hook}/lead"

[[routes]]
match = {{ team = "perf" }}
receivers = ["hook"]
repeat_interval = "3s"
escalate_after = "3s"
escalate_to = ["lead"]

[[routes]]
receivers = ["hook"]
group_by = ["alertname", "app", "env"]

[[rules]]
name = "SlowResponses"
expr = 'latency_p95_ms{{app="flaky"}}[2s] > 200'
labels = {{ team = "perf" }}
severity = "high"

[[rules]]
name = "HighErrorRate"
expr = 'error_rate{{app="flaky"}}[2s] > 0.2'
for = "1s"
severity = "critical"
summary = "more than 20% of flaky's requests fail"
actions = ["notify", "create_incident", "auto_rollback"]

[[rules]]
name = "BrokenQuery"
query = "SELECT count(*) FROM no_such_dataset"
condition = "> 0"
"""


SLO = '\n[[slos]]\nname = "availability"\nkind = "availability"\ntarget = 99\nwindow = "1h"\n'


@pytest.fixture(scope="module")
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, hook: Hook) -> Iterator[RunningPlatform]:
    root = tmp_path_factory.mktemp("alerting")
    (root / "alerts.toml").write_text(ALERTS.format(hook=hook.url))
    (root / "edgeplane.toml").write_text(
        '[server.observe]\nresolution = 0.5\nevaluation_interval = 0.5\nalerts_file = "alerts.toml"\n'
    )
    p = RunningPlatform(root).start()
    try:
        yield p
    finally:
        p.stop()


def wait_for(what: str, fetch: Any, test: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if test(value):
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: last value {value}")


def alerts(p: RunningPlatform) -> list[dict[str, Any]]:
    r = p.admin.get("/v1/alerts")
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["alerts"]
    return data


def test_error_alert_opens_an_incident_rolls_back_and_resolves(platform: RunningPlatform, hook: Hook) -> None:
    v1 = platform.cli_json("versions", "upload", project=flaky(platform.root, "good", "one"))
    assert platform.cli("deploy", v1["id"], "--app", "flaky").returncode == 0
    bad = flaky(platform.root, "bad", "two", ERROR_RATE=0.6)
    v2 = platform.cli_json("versions", "upload", project=bad)
    with Load(platform.url, rate=60) as load:
        time.sleep(1.5)
        assert platform.cli("deploy", v2["id"], "--app", "flaky").returncode == 0
        deployed = time.monotonic()
        firing = wait_for(
            "the alert fires", lambda: alerts(platform),
            lambda rows: any(a["rule"] == "HighErrorRate" and any("rolled back" in n for n in a["notes"])
                             for a in rows),
        )  # fmt: skip
        fired = next(a for a in firing if a["rule"] == "HighErrorRate")
        assert fired["labels"] == {"alertname": "HighErrorRate", "app": "flaky", "env": "production",
                                   "severity": "critical"}  # fmt: skip
        assert any("rolled back flaky/production" in n for n in fired["notes"]), fired
        # the rollback is delivery's: the environment serves v1 again
        wait_for("v1 serves again", lambda: platform.served_by("/"), lambda vid: vid == v1["id"], timeout=10)
        back = time.monotonic()
        resolved = wait_for(
            "the alert resolves", lambda: alerts(platform),
            lambda rows: any(a["rule"] == "HighErrorRate" and a["state"] == "resolved" for a in rows),
        )  # fmt: skip
    assert back - deployed < 15, "fire (2 s window, for 1 s) + rollback took too long"
    assert any(status == 500 for _, status, _ in load.since(deployed))
    assert resolved

    deployments = platform.admin.get("/v1/apps/flaky/deployments").json()["deployments"]
    assert deployments[0]["kind"] == "rollback" and deployments[0]["author"] == "alerts"

    page = hook.wait(
        "firing", lambda b: b["status"] == "firing" and b["commonLabels"].get("alertname") == "HighErrorRate"
    )
    assert page["version"] == "4" and page["alerts"][0]["labels"]["app"] == "flaky"
    assert page["groupLabels"] == {"alertname": "HighErrorRate", "app": "flaky", "env": "production"}
    hook.wait("resolved", lambda b: b["status"] == "resolved" and b["commonLabels"].get("alertname") == "HighErrorRate")
    firing_sent = [
        b for b in hook.bodies if b["status"] == "firing" and b["commonLabels"].get("alertname") == "HighErrorRate"
    ]
    assert len(firing_sent) == 1, "one firing notification per group, not one per evaluation"

    event = hook.wait("the rollback as a delivery event",
                      lambda b: b["commonLabels"].get("alertname") == "delivery"
                      and b["commonLabels"].get("event") == "rollback")  # fmt: skip
    assert event["commonLabels"]["app"] == "flaky" and "auto rollback" in event["alerts"][0]["annotations"]["summary"]

    incidents = platform.admin.get("/v1/incidents").json()["incidents"]
    incident = next(i for i in incidents if i["title"].startswith("HighErrorRate"))
    assert incident["severity"] == "SEV1" and incident["app"] == "flaky" and incident["env"] == "production"
    detail = platform.admin.get(f"/v1/incidents/{incident['number']}").json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert "alert_fired" in kinds and "rollback" in kinds and "alert_resolved" in kinds, kinds


def test_broken_rule_is_an_error_state_and_the_others_run(platform: RunningPlatform) -> None:
    rows = wait_for("the broken rule shows", lambda: alerts(platform),
                    lambda rows: any(a["rule"] == "BrokenQuery" for a in rows))  # fmt: skip
    broken = next(a for a in rows if a["rule"] == "BrokenQuery")
    assert broken["state"] == "error" and "no_such_dataset" in broken["error"]
    rules = {r["name"]: r for r in platform.admin.get("/v1/alerts/rules").json()["rules"]}
    assert rules["BrokenQuery"]["error"] == 1 and "HighErrorRate" in rules


def test_reload_refuses_a_bad_file_and_keeps_the_running_rules(platform: RunningPlatform) -> None:
    path = platform.root / "alerts.toml"
    good = path.read_text()
    try:
        path.write_text(good.replace('error_rate{app="flaky"}[2s] > 0.2', 'error_rate{app="flaky"}[2x] > 0.2'))
        r = platform.admin.post("/v1/alerts/reload")
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == "config_invalid"
        assert "alerts.toml" in error["message"] and "rules[1].expr" in error["message"] and "[2x]" in error["message"]
        assert "HighErrorRate" in {r["name"] for r in platform.admin.get("/v1/alerts/rules").json()["rules"]}
    finally:
        path.write_text(good)
    assert platform.admin.post("/v1/alerts/reload").json()["rules"] == 3


def test_slo_burn_alert_pages_and_silences_hold_notifications(platform: RunningPlatform, hook: Hook) -> None:
    good = flaky(platform.root, "slo-good", "three", deploy=None)
    (good / "edgeplane.toml").write_text((good / "edgeplane.toml").read_text() + SLO)
    app_name = "flaky"
    v3 = platform.cli_json("versions", "upload", project=good)
    assert platform.cli("deploy", v3["id"], "--app", app_name).returncode == 0
    r = platform.admin.post("/v1/silences", json={"matchers": {"alertname": "HighErrorRate"}, "duration": "10m",
                                                  "comment": "known; working on it"})  # fmt: skip
    assert r.status_code == 201, r.text
    silence = r.json()
    before = len(hook.bodies)
    bad = flaky(platform.root, "slo-bad", "four", ERROR_RATE=0.6)
    (bad / "edgeplane.toml").write_text((bad / "edgeplane.toml").read_text() + SLO)
    v4 = platform.cli_json("versions", "upload", project=bad)
    with Load(platform.url, rate=60):
        deployed_at = time.time()
        assert platform.cli("deploy", v4["id"], "--app", app_name).returncode == 0
        status = wait_for(
            "the SLO page alert fires", lambda: platform.admin.get("/v1/slo").json()["slos"],
            lambda rows: any(s["alerts"].get("page") == "firing" for s in rows),
        )  # fmt: skip
        wait_for(
            "the silenced alert fires anyway (and acts)", lambda: alerts(platform),
            lambda rows: any(a["rule"] == "HighErrorRate" and (a["fired_at"] or 0) > deployed_at for a in rows),
        )  # fmt: skip
    row = next(s for s in status if s["slo"] == "availability")
    assert row["budget_remaining"] < 1 and row["window"] == "1h"
    assert max(v for v in row["burn_rates"].values() if v is not None) > 14.4
    page = hook.wait("SLO page", lambda b: any(a["labels"].get("slo_alert") == "page" for a in b["alerts"]))
    severities = {a["labels"]["slo_alert"]: a["labels"]["severity"] for a in page["alerts"]}
    assert severities["page"] == "critical" and page["alerts"][0]["labels"]["slo"] == "availability"
    assert page["alerts"][0]["labels"]["severity"] == "critical", "the page leads a group it shares with a ticket"
    silenced = [b for b in hook.bodies[before:] if b["commonLabels"].get("alertname") == "HighErrorRate"]
    assert silenced == [], "the silence holds HighErrorRate's notifications"
    assert platform.admin.delete(f"/v1/silences/{silence['id'][:8]}").status_code == 200
    assert platform.admin.get("/v1/silences").json()["silences"] == []


def test_unacknowledged_alerts_escalate_and_repeat_and_an_ack_stops_escalation(
    platform: RunningPlatform, hook: Hook
) -> None:
    def slow_to_lead() -> list[dict[str, Any]]:
        return [b for p, b in zip(hook.paths, hook.bodies, strict=True)
                if p.endswith("/lead") and b["commonLabels"].get("alertname") == "SlowResponses"]  # fmt: skip

    def slow_firing() -> list[dict[str, Any]]:
        return [b for p, b in zip(hook.paths, hook.bodies, strict=True) if not p.endswith("/lead")
                and b["commonLabels"].get("alertname") == "SlowResponses" and b["status"] == "firing"]  # fmt: skip

    fast = platform.cli_json("versions", "upload", project=flaky(platform.root, "fast", "five"))
    slow = platform.cli_json("versions", "upload", project=flaky(platform.root, "slow", "six", DELAY_MS=300))
    with Load(platform.url, rate=40):
        assert platform.cli("deploy", slow["id"], "--app", "flaky").returncode == 0
        wait_for("escalation to the lead", slow_to_lead, lambda got: len(got) == 1, timeout=30)
        wait_for("the repeat after 3 s", slow_firing, lambda got: len(got) >= 2, timeout=15)
        assert len(slow_to_lead()) == 1, "escalation happens once per group"
        # the problem goes away, then comes back: a new group; acknowledged in time, it does not escalate
        assert platform.cli("deploy", fast["id"], "--app", "flaky").returncode == 0
        wait_for("resolved", lambda: alerts(platform),
                 lambda rows: all(a["state"] != "firing" for a in rows if a["rule"] == "SlowResponses"))  # fmt: skip
        assert platform.cli("deploy", slow["id"], "--app", "flaky").returncode == 0
        wait_for("firing again", lambda: alerts(platform),
                 lambda rows: any(a["rule"] == "SlowResponses" and a["state"] == "firing" for a in rows))  # fmt: skip
        r = platform.admin.post("/v1/alerts/SlowResponses/ack")
        assert r.status_code == 200 and r.json()["alerts"][0]["acknowledged_by"], r.text
        time.sleep(5)
    assert len(slow_to_lead()) == 1, "an acknowledged alert is not escalated"
    assert platform.admin.post("/v1/alerts/NoSuchAlert/ack").json()["error"]["code"] == "alert_not_found"


def test_cli_shows_alerts_rules_slos_and_manages_silences(platform: RunningPlatform, tmp_path: Path) -> None:
    listed = platform.cli("alerts", "list")
    assert listed.returncode == 0, listed.stderr
    assert "HighErrorRate" in listed.stdout and "BrokenQuery" in listed.stdout
    rules = platform.cli("alerts", "rules")
    assert rules.returncode == 0 and "SlowResponses" in rules.stdout and "SLOBurnRate" not in rules.stderr
    project = flaky(platform.root, "slo-cli", "seven")
    (project / "edgeplane.toml").write_text((project / "edgeplane.toml").read_text() + SLO)
    version = platform.cli_json("versions", "upload", project=project)
    assert platform.cli("deploy", version["id"], "--app", "flaky").returncode == 0
    slos = platform.cli("slo", "status")
    assert slos.returncode == 0, slos.stderr
    assert "availability" in slos.stdout and "budget left" in slos.stdout
    as_json = platform.cli_json("slo", "status")
    assert as_json["slos"][0]["slo"] == "availability"

    bad = tmp_path / "alerts.yaml"
    bad.write_text("rules:\n  - name: x\n    expr: 'latency_p95_ms[5m] > 100'\n    severity: fatal\n")
    checked = platform.cli("alerts", "check", str(bad))
    assert checked.returncode == 1
    assert "alerts.yaml" in checked.stderr and "rules[0].severity" in checked.stderr
    good = tmp_path / "ok.yaml"
    good.write_text("rules:\n  - name: x\n    expr: 'latency_p95_ms[5m] > 100'\n    for: 1m\n")
    assert platform.cli("alerts", "check", str(good)).returncode == 0

    added = platform.cli("alerts", "silence", "add", "alertname=SlowResponses", "--for", "1h", "-m", "deploy window")
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.split()[1]
    assert silence_id in platform.cli("alerts", "silence", "list").stdout
    assert platform.cli("alerts", "silence", "expire", silence_id).returncode == 0
    assert silence_id not in platform.cli("alerts", "silence", "list").stdout
    assert platform.cli("alerts", "silence", "add", "nonsense", "--for", "1h").returncode != 0
