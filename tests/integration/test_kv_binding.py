"""KV through the whole platform: a worker's env.STORE, the admin API and `edgeplane kv key`, on SQLite and Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.integration.harness import RunningPlatform, make_app


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningPlatform]:
    p = RunningPlatform(tmp_path_factory.mktemp("kv")).start()
    try:
        project = make_app(p.root, "probe")
        config = project / "edgeplane.toml"
        staging = f'binding = "STORE"\nid = "probe-staging"\nbackend = "redis"\nurl = "{redis_url}"\n'
        config.write_text(config.read_text() + "\n[[env.staging.kv_namespaces]]\n" + staging)
        assert p.cli("versions", "upload", project=project).returncode == 0
        assert p.cli("deploy", "v1", "--app", "probe").returncode == 0
        assert p.cli("deploy", "v1", "--app", "probe", "--env", "staging").returncode == 0
        yield p
    finally:
        p.stop()


@pytest.mark.parametrize(("env", "host"), [("production", "localhost"), ("staging", "staging.localhost")])
def test_worker_and_cli_share_the_namespace(platform: RunningPlatform, env: str, host: str) -> None:
    put = platform.cli("kv", "key", "put", "greeting", "hi there", "--binding", "STORE", "--env", env, "--app", "probe",
                       "--metadata", '{"lang": "en"}')  # fmt: skip
    assert put.returncode == 0, put.stderr
    # Both worker processes see it at once (no stale per-process cache).
    for _ in range(4):
        seen = platform.get("/kv/greeting", host=host).json()
        assert seen == {"value": "hi there", "metadata": {"lang": "en"}}
    assert platform.gateway.put("/kv/from-worker", content=b"w", headers={"host": host}).status_code == 200
    got = platform.cli("kv", "key", "get", "from-worker", "--binding", "STORE", "--env", env, "--app", "probe")
    assert got.returncode == 0 and got.stdout == "w"
    listed = platform.cli_json("kv", "key", "list", "--binding", "STORE", "--env", env, "--app", "probe")
    assert [k["name"] for k in listed] == ["from-worker", "greeting"]
    assert listed[0]["metadata"] == {"by": "worker"}
    deleted = platform.cli("kv", "key", "delete", "greeting", "--binding", "STORE", "--env", env, "--app", "probe")
    assert deleted.returncode == 0
    assert platform.get("/kv/greeting", host=host).json()["value"] is None


def test_environments_have_separate_namespaces(platform: RunningPlatform) -> None:
    platform.cli("kv", "key", "put", "where", "prod", "--binding", "STORE", "--app", "probe")
    platform.cli("kv", "key", "put", "where", "staging", "--binding", "STORE", "--env", "staging", "--app", "probe")
    assert platform.get("/kv/where").json()["value"] == "prod"
    assert platform.get("/kv/where", host="staging.localhost").json()["value"] == "staging"


def test_kv_errors_are_one_line_with_codes(platform: RunningPlatform) -> None:
    cases = [
        (["put", "k", "v", "--binding", "NOPE"], "KV_BINDING_NOT_FOUND"),
        (["put", "k", "v", "--binding", "STORE", "--ttl", "5"], "KV_INVALID_EXPIRATION"),
        (["put", "x" * 600, "v", "--binding", "STORE"], "KV_KEY_TOO_LONG"),
        (["put", "k", "v", "--binding", "STORE", "--metadata", "{bad"], "KV_INVALID_METADATA"),
        (["get", "never-written", "--binding", "STORE"], "KV_KEY_NOT_FOUND"),
    ]
    for args, code in cases:
        result = platform.cli("kv", "key", *args, "--app", "probe")
        assert result.returncode == 1, args
        assert f"[{code}]" in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    api = platform.admin.put("/v1/apps/probe/kv/STORE/keys/k", params={"expiration_ttl": 1}, content=b"v")
    assert api.status_code == 400 and api.json()["error"]["code"] == "KV_INVALID_EXPIRATION"
    assert json.loads(platform.cli("--json", "kv", "key", "list", "--binding", "STORE", "--app", "probe",
                                   "--prefix", "k").stdout) == []  # fmt: skip
