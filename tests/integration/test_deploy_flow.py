"""upload -> deploy -> split -> override -> sticky key -> rollback, through the CLI and the API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.harness import RunningPlatform, make_app


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    p = RunningPlatform(tmp_path_factory.mktemp("flow")).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def versions(platform: RunningPlatform) -> dict[str, dict[str, object]]:
    """Three uploaded versions (v1 'one', v2 'two', v3 'three'), v1 deployed to production."""
    out = {}
    for label in ("one", "two", "three"):
        project = make_app(platform.root, f"app-{label}", label=label)
        out[label] = platform.cli_json("versions", "upload", "-m", f"label {label}", "--tag", label, project=project)
    deployed = platform.cli("deploy", "v1", "--env", "production", "--app", "probe")
    assert deployed.returncode == 0, deployed.stderr
    return out


def test_upload_records_immutable_content_addressed_versions(platform: RunningPlatform, versions: dict) -> None:
    one, two = versions["one"], versions["two"]
    assert one["number"] == 1 and two["number"] == 2
    assert one["hash"] != two["hash"] and len(one["hash"]) == 64
    assert one["message"] == "label one" and one["tag"] == "one" and one["author"]
    listed = platform.cli_json("versions", "list", "--app", "probe")
    assert [v["number"] for v in listed] == [3, 2, 1]
    viewed = platform.cli_json("versions", "view", "two", "--app", "probe")
    assert viewed["id"] == two["id"]
    # Uploading the same directory again gives a new version record with the same content hash.
    again = platform.cli_json("versions", "upload", project=platform.root / "app-one")
    assert again["hash"] == one["hash"] and again["number"] == 4
    table = platform.cli("versions", "list", "--app", "probe")
    assert "v4" in table.stdout and "label two" in table.stdout


def test_deploy_serves_version_with_env_vars_and_request_context(platform: RunningPlatform, versions: dict) -> None:
    r = platform.get("/whoami?x=1", headers={"x-forwarded-for": "6.6.6.6"})
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == versions["one"]["id"] == r.headers["edgeplane-version"]
    assert body["label"] == "one" and body["vars"]["TIER"] == "prod" and body["vars"]["SHARED"] == "top"
    assert body["bindings"] == ["DB", "EVENTS", "FILES", "STORE"]
    assert body["env"] == "production" and body["colo"] == "local"
    assert body["request_id"] == r.headers["edgeplane-request-id"]
    assert body["client_ip"] == "127.0.0.1"  # x-forwarded-for is not trusted unless configured
    assert body["query"] == "x=1"
    ids = {platform.get("/whoami").headers["edgeplane-request-id"] for _ in range(20)}
    assert len(ids) == 20


def test_split_override_and_sticky_keys(platform: RunningPlatform, versions: dict) -> None:
    one, two, three = (versions[k]["id"] for k in ("one", "two", "three"))
    result = platform.cli("deploy", "v1@50", "v2@30", "three@20", "--app", "probe", "-m", "three-way")
    assert result.returncode == 0, result.stderr
    seen = Counter(platform.served_by() for _ in range(600))
    assert set(seen) == {one, two, three}
    # Binomial bounds (≈ 5 sigma) on 600 requests.
    assert 225 <= seen[one] <= 375 and 120 <= seen[two] <= 240 and 60 <= seen[three] <= 180

    # Override header: only versions in the current deployment are honoured (full id or 8-char prefix).
    assert {platform.served_by(headers={"edgeplane-version-override": two}) for _ in range(20)} == {two}
    assert {platform.served_by(headers={"edgeplane-version-override": three[:8]}) for _ in range(20)} == {three}
    unknown = Counter(platform.served_by(headers={"edgeplane-version-override": "nope"}) for _ in range(60))
    assert len(unknown) >= 2  # ignored: weights apply

    # Sticky key: the same key always gets the same version; many keys spread over all versions.
    for key in ("user-1", "user-2", "session-xyz"):
        assert len({platform.served_by(headers={"edgeplane-version-key": key}) for _ in range(15)}) == 1
    spread = Counter(platform.served_by(headers={"edgeplane-version-key": f"k{i}"}) for i in range(300))
    assert set(spread) == {one, two, three}

    status = platform.cli_json("deployments", "status", "--app", "probe")
    assert [v["percentage"] for v in status["versions"]] == [50, 30, 20]
    assert all(v["pool"]["healthy"] == 2 for v in status["versions"])


def test_bad_splits_are_rejected_and_change_nothing(platform: RunningPlatform, versions: dict) -> None:
    before = platform.cli_json("deployments", "list", "--app", "probe")
    for args, code in [
        (["v1@90", "v2@20"], "invalid_split"),
        (["v1@-10", "v2@110"], "invalid_split"),
        (["v1@50", "v1@50"], "invalid_split"),
        (["v99"], "version_not_found"),
        (["v1@abc"], "invalid_request"),
    ]:
        result = platform.cli("deploy", *args, "--app", "probe")
        assert result.returncode == 1, (args, result.stdout)
        assert code in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    api = platform.admin.post("/v1/apps/probe/deployments", json={"env": "production", "splits": [
        {"version": "v1", "percentage": 60}, {"version": "v2", "percentage": 30}]})  # fmt: skip
    assert api.status_code == 400
    assert api.json()["error"]["code"] == "invalid_split"
    assert "sum to 100" in api.json()["error"]["message"]
    assert platform.cli_json("deployments", "list", "--app", "probe") == before


def test_rollback_is_instant_and_restarts_nothing(platform: RunningPlatform, versions: dict) -> None:
    one, two = versions["one"]["id"], versions["two"]["id"]
    assert platform.cli("deploy", "v1", "--app", "probe").returncode == 0
    assert platform.cli("deploy", "v2", "--app", "probe").returncode == 0
    assert platform.served_by() == two
    warm = [p["pid"] for p in platform.pool("probe", "production", one)["processes"]]

    started = time.perf_counter()
    response = platform.admin.post("/v1/apps/probe/rollback", json={"env": "production"})
    assert response.status_code == 201, response.text
    while platform.served_by() != one:
        assert time.perf_counter() - started < 1.0, "traffic not on the rollback target within 1 s"
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert [p["pid"] for p in platform.pool("probe", "production", one)["processes"]] == warm
    assert {platform.served_by() for _ in range(30)} == {one}

    history = platform.cli_json("deployments", "list", "--app", "probe", "--env", "production")
    assert history[0]["kind"] == "rollback" and history[0]["splits"] == [{"version_id": one, "percentage": 100.0}]
    # Rolling back again goes to the previous fully-deployed version (v2), and naming a version works too.
    again = platform.cli("rollback", "--app", "probe")
    assert again.returncode == 0, again.stderr
    assert platform.served_by() == two
    named = platform.cli("rollback", "one", "--app", "probe")
    assert named.returncode == 0 and platform.served_by() == one


def test_environments_have_their_own_routes_and_vars(platform: RunningPlatform, versions: dict) -> None:
    assert platform.cli("deploy", "v3", "--env", "staging", "--app", "probe").returncode == 0
    staged = platform.get("/whoami", host="staging.localhost").json()
    assert staged["version"] == versions["three"]["id"] and staged["env"] == "staging"
    assert staged["vars"]["TIER"] == "staging" and staged["vars"]["SHARED"] == "staging-override"
    prod = platform.get("/whoami", host="localhost").json()
    assert prod["env"] == "production" and prod["version"] != staged["version"]
    missing = platform.get("/whoami", host="unknown.example")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_route"
    unknown_env = platform.cli("deploy", "v1", "--env", "qa", "--app", "probe")
    assert unknown_env.returncode == 1 and "unknown_environment" in unknown_env.stderr


def test_wait_until_runs_after_response(platform: RunningPlatform, versions: dict) -> None:
    headers = {"edgeplane-version-key": "same-process-does-not-matter"}
    assert platform.get("/later?tag=done", headers=headers).json() == {"scheduled": True}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        # Either process may answer; each keeps its own list, so poll until the one that ran it answers.
        if "done" in platform.get("/whoami").json()["after"]:
            break
        time.sleep(0.05)
    else:
        pytest.fail("wait_until work never ran")


def test_audit_log_records_every_change(platform: RunningPlatform, versions: dict) -> None:
    entries = platform.cli_json("audit", "--limit", "200")
    actions = Counter(e["action"] for e in entries)
    assert actions["version.upload"] >= 4
    assert actions["deployment.deploy"] >= 4 and actions["deployment.rollback"] >= 3


def test_upload_of_missing_directory_is_a_clear_error(platform: RunningPlatform, tmp_path: Path) -> None:
    result = platform.cli("versions", "upload", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert "edgeplane.toml" in result.stderr and "Traceback" not in result.stderr


def test_preview_environments_get_their_own_host(platform: RunningPlatform, versions: dict) -> None:
    assert platform.cli("deploy", "two", "--env", "preview-pr-7", "--app", "probe").returncode == 0
    preview = platform.get("/whoami", host="preview-pr-7.probe.localhost").json()
    assert preview["version"] == versions["two"]["id"] and preview["env"] == "preview-pr-7"


def test_rollback_is_not_held_up_by_a_slow_deploy(platform: RunningPlatform, versions: dict) -> None:
    slow = make_app(platform.root, "app-slow", label="slow")
    app_py = slow / "app.py"
    app_py.write_text(app_py.read_text() + "\nimport time\n\ntime.sleep(4)  # a slow import\n")
    slow_version = platform.cli_json("versions", "upload", "-m", "slow start", project=slow)
    assert platform.cli("deploy", "one", "--app", "probe").returncode == 0
    assert platform.cli("deploy", "two", "--app", "probe").returncode == 0
    with ThreadPoolExecutor(1) as pool:
        deploying = pool.submit(platform.cli, "deploy", f"v{slow_version['number']}", "--app", "probe")
        time.sleep(0.5)  # the slow version is starting its processes now
        started = time.perf_counter()
        response = platform.admin.post("/v1/apps/probe/rollback", json={"env": "production"})
        assert response.status_code == 201, response.text
        while platform.served_by() != versions["one"]["id"]:
            assert time.perf_counter() - started < 1.0
        assert time.perf_counter() - started < 1.0
        assert not deploying.done(), "the slow deploy should still be starting its workers"
        assert deploying.result().returncode == 0
    assert platform.served_by() == slow_version["id"]  # the deploy that finished last wins, as recorded


def test_cli_finds_the_token_of_the_platform_started_in_the_current_directory(platform: RunningPlatform) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edgeplane", "--admin-url", platform.admin_url, "--dir", str(platform.root / "app-one"),
         "versions", "list"],
        cwd=platform.root, capture_output=True, text=True, check=False,
        env={k: v for k, v in os.environ.items() if k != "EDGEPLANE_TOKEN"} | {"EDGEPLANE_TOKEN": ""},
    )  # fmt: skip
    assert result.returncode == 1 and "no admin token" in result.stderr
    (platform.root / ".edgeplane").mkdir(exist_ok=True)
    (platform.root / ".edgeplane" / "admin.token").write_text(platform.token + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "edgeplane", "--admin-url", platform.admin_url, "--dir", str(platform.root / "app-one"),
         "versions", "list"],
        cwd=platform.root, capture_output=True, text=True, check=False,
        env={k: v for k, v in os.environ.items() if k != "EDGEPLANE_TOKEN"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "label one" in result.stdout
