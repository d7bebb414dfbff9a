"""R2 through the whole platform: a worker's env.FILES, `edgeplane r2 object`, presigned URLs served by the
gateway; on local files (production) and on an S3 server (staging, moto), chosen by config alone."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_s3_bucket
from tests.integration.harness import RunningPlatform, make_app

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[RunningPlatform]:
    make_s3_bucket(s3_endpoint, "probe-staging")
    credentials = {"PROBE_S3_KEY": "test", "PROBE_S3_SECRET": "test"}
    p = RunningPlatform(tmp_path_factory.mktemp("r2"), env=credentials).start()
    try:
        project = make_app(p.root, "probe")
        config = project / "edgeplane.toml"
        staging = (f'binding = "FILES"\nbucket_name = "probe-staging"\nbackend = "s3"\nurl = "{s3_endpoint}"\n'
                   'access_key_id_env = "PROBE_S3_KEY"\nsecret_access_key_env = "PROBE_S3_SECRET"\n')  # fmt: skip
        config.write_text(config.read_text() + "\n[[env.staging.r2_buckets]]\n" + staging)
        assert p.cli("versions", "upload", project=project).returncode == 0
        assert p.cli("deploy", "v1", "--app", "probe").returncode == 0
        assert p.cli("deploy", "v1", "--app", "probe", "--env", "staging").returncode == 0
        yield p
    finally:
        p.stop()


def _r2(platform: RunningPlatform, *args: str, env: str) -> list[str]:
    return ["r2", "object", *args, "--binding", "FILES", "--env", env, "--app", "probe"]


@pytest.mark.parametrize(("env", "host"), [("production", "localhost"), ("staging", "staging.localhost")])
def test_worker_cli_and_presigned_urls_share_the_bucket(
    platform: RunningPlatform, env: str, host: str, tmp_path: Path
) -> None:
    data = os.urandom(3 * MiB)
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    put = platform.cli(*_r2(platform, "put", "docs/a.bin", "--file", str(source), "--meta", "owner=ada", env=env))
    assert put.returncode == 0, put.stderr
    seen = platform.get("/r2/docs/a.bin", host=host)
    assert seen.status_code == 200 and seen.content == data
    assert seen.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'

    streamed = os.urandom(6 * MiB + 123)
    stored = platform.gateway.put("/r2/docs/from-worker.bin", content=streamed, headers={"host": host})
    assert stored.json() == {"etag": hashlib.md5(streamed).hexdigest(), "size": len(streamed)}
    target = tmp_path / "download.bin"
    got = platform.cli(*_r2(platform, "get", "docs/from-worker.bin", "--file", str(target), env=env))
    assert got.returncode == 0, got.stderr
    assert target.read_bytes() == streamed

    listed = platform.cli_json(*_r2(platform, "list", "--delimiter", "/", env=env))
    assert listed["delimited_prefixes"] == ["docs/"]
    inner = platform.cli_json(*_r2(platform, "list", "--prefix", "docs/", env=env))
    assert [o["key"] for o in inner["objects"]] == ["docs/a.bin", "docs/from-worker.bin"]

    upload_url = platform.cli_json(*_r2(platform, "presign", "shared/big file %41 ü.bin", "--method", "PUT", env=env))[
        "url"
    ]
    big = os.urandom(12 * MiB)
    uploaded = httpx.put(upload_url, content=big, timeout=60)
    assert uploaded.status_code == 200 and uploaded.json()["etag"] == hashlib.md5(big).hexdigest()
    assert httpx.get(upload_url, timeout=10).status_code == 405  # a PUT URL does not download
    download_url = platform.cli_json(*_r2(platform, "presign", "shared/big file %41 ü.bin", env=env))["url"]
    part = httpx.get(download_url, headers={"range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206 and part.content == big[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(big)}"
    whole = httpx.get(download_url, timeout=60)
    assert whole.status_code == 200 and whole.content == big
    etag = whole.headers["etag"]
    assert httpx.get(download_url, headers={"if-none-match": etag}, timeout=10).status_code == 304
    assert httpx.get(download_url.replace("%C3%BC.bin", "x.bin"), timeout=10).status_code == 403
    assert platform.cli(*_r2(platform, "delete", "shared/big file %41 ü.bin", env=env)).returncode == 0
    gone = httpx.get(download_url, timeout=10)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "R2_NO_SUCH_KEY"


def test_presigned_urls_expire(platform: RunningPlatform) -> None:
    url = platform.cli_json(*_r2(platform, "presign", "x", "--expires-in", "1", env="production"))["url"]
    time.sleep(2.1)
    expired = httpx.get(url, timeout=10)
    assert expired.status_code == 403 and expired.json()["error"]["code"] == "presign_expired"


def test_cli_errors_are_one_line(platform: RunningPlatform) -> None:
    missing = platform.cli(*_r2(platform, "get", "nope", env="production"))
    assert missing.returncode == 1 and missing.stderr.strip().startswith("error [R2_NO_SUCH_KEY]")
    unknown = platform.cli("r2", "object", "list", "--binding", "NOPE", "--app", "probe")
    assert unknown.returncode == 1 and "R2_BINDING_NOT_FOUND" in unknown.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr


def test_analytics_points_survive_a_clean_platform_stop(platform: RunningPlatform) -> None:
    for _ in range(5):
        assert platform.gateway.post("/ae?n=400&tag=stop", headers={"host": "localhost"}).json() == {"written": 400}
    platform.stop()  # SIGTERM: workers flush their buffers, the platform ingests the spool before it exits
    platform.start()
    result = platform.cli_json("analytics", "query", "SELECT count() AS n FROM probe_events WHERE blob1 = 'stop'")
    assert result["data"] == [{"n": 2000}]
    datasets = platform.cli_json("analytics", "datasets")["datasets"]
    assert [d["dataset"] for d in datasets if not d["dataset"].startswith("edgeplane_")] == ["probe_events"]
