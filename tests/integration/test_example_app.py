"""The example app (what `make up` deploys) answers every documented route through the platform."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.harness import RunningPlatform

EXAMPLE = Path(__file__).parents[2] / "examples" / "prompt-lab"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    p = RunningPlatform(tmp_path_factory.mktemp("example"), extra_args=["--deploy", str(EXAMPLE)]).start()
    try:
        yield p
    finally:
        p.stop()


def test_prompt_lab_routes(platform: RunningPlatform) -> None:
    deadline_ok = platform.get("/health")
    assert deadline_ok.status_code == 200 and deadline_ok.json() == {"status": "ok"}
    templates = platform.get("/api/prompts/templates")
    assert templates.json()["count"] == 3 and templates.headers["cache-control"] == "public, max-age=60"
    again = platform.get("/api/prompts/templates")  # the example's prompt-templates cache policy
    assert again.headers["edgeplane-cache-status"] == "HIT" and again.json() == templates.json()
    assert platform.get("/api/prompts/templates?category=analysis").json()["count"] == 1
    assert platform.get("/api/prompts/templates/classify").json()["id"] == "classify"
    assert platform.get("/api/prompts/templates/nope").status_code == 404
    good = platform.gateway.post(
        "/api/evaluate",
        json={"prompt": "Summarize the following text in 3 sentences, e.g. as bullet points: " + "word " * 20},
        headers={"host": "127.0.0.1"},
    ).json()
    weak = platform.gateway.post("/api/evaluate", json={"prompt": "hi"}, headers={"host": "127.0.0.1"}).json()
    assert good["score"] > weak["score"] and good["model"] == "heuristic-v1"
    bad = platform.gateway.post("/api/evaluate", json={"prompt": ""}, headers={"host": "127.0.0.1"})
    assert bad.status_code == 422
    assert platform.get("/api/llm/providers/meta").json()["default"] == "openai"
    deadline = time.monotonic() + 5  # logged to D1 after the response (ctx.wait_until)
    while len(platform.get("/api/evaluations/recent").json()["evaluations"]) < 2:
        assert time.monotonic() < deadline, "evaluations were not logged to D1"
        time.sleep(0.05)
    recent = platform.get("/api/evaluations/recent?limit=1").json()["evaluations"]
    assert recent[0]["prompt"] == "hi" and recent[0]["model"] == "heuristic-v1"
    out = platform.cli_json("d1", "execute", "DB", "--command", "SELECT count(*) AS n FROM evaluations",
                            "--app", "prompt-lab")  # fmt: skip
    assert out[0]["results"] == [{"n": 2}]
    assert platform.get("/api/user/preferences").status_code == 401
    prefs = platform.get("/api/user/preferences", headers={"x-user-id": "u1"})
    assert prefs.json()["user"] == "u1" and prefs.headers["cache-control"] == "private, no-store"
    assert prefs.json()["preferences"]["theme"] == "light"
    saved = platform.gateway.put(
        "/api/user/preferences", json={"theme": "dark", "default_template": "classify"},
        headers={"host": "127.0.0.1", "x-user-id": "u1"},
    )  # fmt: skip
    assert saved.status_code == 200
    for _ in range(4):  # every worker process reads the same KV namespace
        assert platform.get("/api/user/preferences", headers={"x-user-id": "u1"}).json()["preferences"] == {
            "theme": "dark", "default_template": "classify",
        }  # fmt: skip
    stored = platform.cli("kv", "key", "get", "user:u1", "--binding", "PREFERENCES", "--app", "prompt-lab")
    assert stored.returncode == 0 and '"theme":"dark"' in stored.stdout
    assert platform.get("/admin/stats").json()["env"] == "production"


def test_exports_go_to_r2_and_download_through_a_presigned_url(platform: RunningPlatform) -> None:
    made = platform.gateway.post("/api/exports", headers={"host": "127.0.0.1"})
    assert made.status_code == 200, made.text
    export = made.json()
    download = httpx.get(export["download"], timeout=10)  # no worker involved: the gateway serves it
    assert download.status_code == 200 and download.headers["content-type"] == "application/x-ndjson"
    assert len(download.text.splitlines()) == export["rows"] and download.headers["etag"] == f'"{export["etag"]}"'
    tampered = export["download"].replace("method=GET", "method=PUT")
    assert httpx.get(tampered, timeout=10).status_code == 403
    via_worker = platform.get(f"/api/exports/{export['name']}", headers={"range": "bytes=0-9"})
    assert via_worker.status_code == 206 and via_worker.content == download.content[:10]
    cached = platform.get(f"/api/exports/{export['name']}", headers={"if-none-match": f'"{export["etag"]}"'})
    assert cached.status_code == 304
    listed = platform.cli_json("r2", "object", "list", "--binding", "EXPORTS", "--app", "prompt-lab")
    assert [o["key"] for o in listed["objects"]] == [f"exports/{export['name']}"]


def test_evaluations_are_counted_in_analytics(platform: RunningPlatform) -> None:
    for prompt in ("one prompt to score", "another prompt, e.g. with an example"):
        assert platform.gateway.post("/api/evaluate", json={"prompt": prompt}, headers={"host": "127.0.0.1"}).is_success
    sql = "SELECT blob1 AS model, count() AS n FROM prompt_lab_events GROUP BY model"
    deadline = time.monotonic() + 10  # flushed by the worker within 0.5 s, ingested by the platform within 0.25 s
    while True:
        result = platform.cli_json("analytics", "query", sql)
        if result["data"] and result["data"][0]["n"] >= 2:
            break
        assert time.monotonic() < deadline, result
        time.sleep(0.2)
    assert result["data"][0]["model"] == "heuristic-v1"


def test_serve_deploy_is_idempotent_across_restarts(platform: RunningPlatform) -> None:
    first = platform.cli_json("deployments", "list", "--app", "prompt-lab")
    platform.stop()
    platform.start()
    assert platform.get("/health").status_code == 200
    assert platform.cli_json("deployments", "list", "--app", "prompt-lab") == first


def test_serve_refuses_to_start_half_configured(tmp_path: Path) -> None:
    broken = Path(__file__).parent / "apps" / "broken"
    p = RunningPlatform(tmp_path, extra_args=["--deploy", str(broken)])
    with pytest.raises(RuntimeError, match="platform exited"):
        p.start()
    assert p.proc is not None and p.proc.returncode == 1
    log = p.log()
    assert "error [worker_start_failed]" in log and "RuntimeError: boom" in log
    assert "admin token (shown once, stored hashed): ep_" in log  # not lost with the failed first start
