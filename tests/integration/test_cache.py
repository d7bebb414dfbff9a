"""The gateway's HTTP cache through the real platform, in front of an origin that counts what reaches it
(tests/integration/apps/origin): RFC 9111 storability and freshness, targeted fields, the policies of
edgeplane.toml, coalescing, stale-while-revalidate, stale-if-error, revalidation, Vary, purges, the shared tier."""

from __future__ import annotations

import concurrent.futures
import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgeplane.runtime.bundles import pack_directory
from tests.integration.harness import APPS, RunningPlatform

STATUS = "edgeplane-cache-status"


def deploy(p: RunningPlatform, project: Path) -> str:
    uploaded = p.admin.post("/v1/apps/origin/versions", content=pack_directory(project),
                            headers={"content-type": "application/gzip"})  # fmt: skip
    assert uploaded.status_code == 201, uploaded.text
    version: str = uploaded.json()["id"]
    deployed = p.admin.post("/v1/apps/origin/deployments", json={"env": "production", "splits": [{"version": version}]})
    assert deployed.status_code == 201, deployed.text
    return version


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("cache") / "origin"
    shutil.copytree(APPS / "origin", target)
    return target


@contextlib.contextmanager
def serving(project: Path, root: Path | None = None) -> Iterator[RunningPlatform]:
    """A platform (its data and settings in ``root``, by default the project's parent) serving ``project``."""
    p = RunningPlatform(root or project.parent).start()
    try:
        deploy(p, project)
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def platform(project: Path) -> Iterator[RunningPlatform]:
    with serving(project) as p:
        yield p


def count(p: RunningPlatform, path: str) -> int:
    """Requests for ``path`` that reached the origin (the origin's own counter, not the cache's)."""
    return int(p.get(f"/_count?key={path}").json()["count"])


def test_origin_cache_control_decides_without_a_policy(platform: RunningPlatform) -> None:
    first = platform.get("/o/a?cc=public,max-age=60")
    assert first.status_code == 200 and first.headers[STATUS] == "MISS"
    second = platform.get("/o/a?cc=public,max-age=60")
    assert second.headers[STATUS] == "HIT" and second.text == first.text == "/o/a #1 lang="
    assert 0 <= int(second.headers["age"]) <= 2 and second.headers["cache-control"] == "public,max-age=60"
    assert second.headers["edgeplane-request-id"] != first.headers["edgeplane-request-id"]
    assert count(platform, "/o/a") == 1
    # the query is part of the key, its order is not
    assert platform.get("/o/q?x=1&y=2&cc=max-age=60").headers[STATUS] == "MISS"
    assert platform.get("/o/q?cc=max-age=60&y=2&x=1").headers[STATUS] == "HIT"
    assert platform.get("/o/q?x=1&y=3&cc=max-age=60").headers[STATUS] == "MISS"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/o/nostore", "cc=no-store"),
        ("/o/private", "cc=private,max-age=60"),
        ("/o/cookie", "cc=public,max-age=60&cookie=1"),
        ("/o/nolife", ""),  # no lifetime from the origin and no policy: nothing to go on
        ("/o/uncacheable-status", "cc=public&status=500"),
    ],
)
def test_responses_a_shared_cache_must_not_store(platform: RunningPlatform, path: str, query: str) -> None:
    for _ in range(2):
        response = platform.get(f"{path}?{query}")
        assert response.headers[STATUS] == "MISS"
    assert count(platform, path) == 2


def test_an_uncacheable_url_goes_straight_to_the_origin_then_is_learnt_again(platform: RunningPlatform) -> None:
    assert platform.get("/o/dyn").headers[STATUS] == "MISS"  # no lifetime: remembered as not storable
    assert platform.get("/o/dyn?cc=max-age=60").headers[STATUS] == "MISS"  # another key: stored
    assert platform.get("/o/dyn?cc=max-age=60").headers[STATUS] == "HIT"
    stats = platform.admin.get("/v1/cache").json()
    assert stats["uncacheable"] >= 1


def test_targeted_fields_beat_cache_control_and_ours_is_not_forwarded(platform: RunningPlatform) -> None:
    assert platform.get("/o/cdn?cc=private&cdn=max-age=60").headers[STATUS] == "MISS"
    hit = platform.get("/o/cdn?cc=private&cdn=max-age=60")
    assert hit.headers[STATUS] == "HIT" and hit.headers["cache-control"] == "private"  # clients still see theirs
    platform.get("/o/ep?cdn=no-store&ep=max-age=60")
    hit = platform.get("/o/ep?cdn=no-store&ep=max-age=60")
    assert hit.headers[STATUS] == "HIT" and "edgeplane-cache-control" not in hit.headers
    assert count(platform, "/o/cdn") == count(platform, "/o/ep") == 1


def test_authorization_bypasses_unless_a_private_policy_keys_by_user(platform: RunningPlatform) -> None:
    auth = {"authorization": "Bearer alice"}
    assert platform.get("/o/auth?cc=max-age=60", headers=auth).headers[STATUS] == "BYPASS"
    assert platform.get("/o/auth?cc=max-age=60", headers=auth).headers[STATUS] == "BYPASS"
    assert count(platform, "/o/auth") == 2
    # /prefs/: private = true, keyed by the Authorization header
    assert platform.get("/prefs/me", headers=auth).headers[STATUS] == "MISS"
    assert platform.get("/prefs/me", headers=auth).headers[STATUS] == "HIT"
    bob = platform.get("/prefs/me", headers={"authorization": "Bearer bob"})
    assert bob.headers[STATUS] == "MISS" and bob.text == "/prefs/me #2 lang="


def test_policies_ttl_key_and_bypass(platform: RunningPlatform) -> None:
    assert platform.get("/templates/t?lang=en&utm=1").headers[STATUS] == "MISS"  # ttl: the origin said nothing
    assert platform.get("/templates/t?utm=2&lang=en").headers[STATUS] == "HIT"  # key: only lang
    assert platform.get("/templates/t?lang=de").headers[STATUS] == "MISS"
    for _ in range(2):
        assert platform.get("/api/x?cc=public,max-age=60").headers[STATUS] == "BYPASS"
    assert count(platform, "/api/x") == 2
    post = platform.gateway.post("/o/a?cc=public,max-age=60", headers={"host": "localhost"})
    assert post.headers[STATUS] == "BYPASS"


def test_concurrent_misses_for_one_key_make_one_origin_request(platform: RunningPlatform) -> None:
    url = "/o/slow?cc=public,max-age=60&sleep=0.5"
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: platform.get(url), range(10)))
    assert {r.text for r in responses} == {"/o/slow #1 lang="}
    assert sorted(r.headers[STATUS] for r in responses) == ["HIT"] * 9 + ["MISS"]
    assert count(platform, "/o/slow") == 1


def test_waiting_requests_get_their_own_variant(platform: RunningPlatform) -> None:
    url = "/o/cv?cc=public,max-age=60&vary=accept-language&sleep=0.5"
    languages = ["en", "de", "fr", "en"]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda lang: platform.get(url, headers={"accept-language": lang}), languages))
    assert [r.text.rsplit("=", 1)[1] for r in responses] == languages  # never another client's variant


def test_stale_while_revalidate_serves_stale_and_refreshes_once(platform: RunningPlatform) -> None:
    assert platform.get("/short/s?sleep=0.3").headers[STATUS] == "MISS"
    time.sleep(1.2)  # edge_ttl 1s: stale, within stale_while_revalidate 10s
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        stale = list(pool.map(lambda _: platform.get("/short/s?sleep=0.3"), range(5)))
    assert {r.headers[STATUS] for r in stale} == {"STALE"} and {r.text for r in stale} == {"/short/s #1 lang="}
    deadline = time.monotonic() + 5
    while (fresh := platform.get("/short/s?sleep=0.3")).headers[STATUS] != "HIT":
        assert time.monotonic() < deadline, fresh.headers
        time.sleep(0.1)
    assert fresh.text == "/short/s #2 lang="  # one background refresh for five stale requests
    assert count(platform, "/short/s") == 2


def test_stale_if_error_answers_while_the_origin_fails(platform: RunningPlatform) -> None:
    assert platform.get("/forced/f").headers[STATUS] == "MISS"
    assert platform.gateway.post("/_fail", content=b"on", headers={"host": "localhost"}).status_code == 200
    try:
        time.sleep(1.2)
        stale = platform.get("/forced/f")
        assert stale.status_code == 200 and stale.headers[STATUS] == "STALE" and stale.text == "/forced/f #1 lang="
        direct = platform.get("/o/down?cc=max-age=60")  # nothing stored for it: the failure shows
        assert direct.status_code == 503
    finally:
        platform.gateway.post("/_fail", content=b"off", headers={"host": "localhost"})
    after = platform.get("/forced/f")
    assert after.headers[STATUS] == "EXPIRED" and after.text == "/forced/f #3 lang="


def test_revalidation_with_etag_and_client_conditionals(platform: RunningPlatform) -> None:
    assert platform.get("/o/e?cc=max-age=1&etag=v1").headers[STATUS] == "MISS"
    hit = platform.get("/o/e?cc=max-age=1&etag=v1", headers={"if-none-match": '"v1"'})
    assert hit.status_code == 304 and hit.headers[STATUS] == "HIT" and hit.content == b""
    time.sleep(1.2)
    revalidated = platform.get("/o/e?cc=max-age=1&etag=v1")
    assert revalidated.status_code == 200 and revalidated.headers[STATUS] == "REVALIDATED"
    assert revalidated.text == "/o/e #1 lang="  # the origin answered 304: the stored body is still current
    assert platform.get("/o/e?cc=max-age=1&etag=v1").headers[STATUS] == "HIT"
    assert count(platform, "/o/e") == 2


def test_vary_keeps_one_variant_per_header_value(platform: RunningPlatform) -> None:
    url = "/o/v?cc=public,max-age=60&vary=accept-language"
    assert platform.get(url, headers={"accept-language": "en"}).headers[STATUS] == "MISS"
    assert platform.get(url, headers={"accept-language": "de"}).headers[STATUS] == "MISS"
    en = platform.get(url, headers={"accept-language": "en"})
    assert en.headers[STATUS] == "HIT" and en.text.endswith("lang=en")
    de = platform.get(url, headers={"accept-language": "de"})
    assert de.headers[STATUS] == "HIT" and de.text.endswith("lang=de")


def test_head_is_answered_from_the_get_entry(platform: RunningPlatform) -> None:
    body = platform.get("/o/h?cc=max-age=60").content
    head = platform.gateway.head("/o/h?cc=max-age=60", headers={"host": "localhost"})
    assert head.headers[STATUS] == "HIT" and head.content == b""
    assert int(head.headers["content-length"]) == len(body)


def test_purge_by_url_prefix_tag_and_everything(platform: RunningPlatform) -> None:
    def cached(path: str) -> bool:
        return platform.get(path).headers[STATUS] == "HIT"

    paths = ["/p/one?cc=max-age=60", "/p/two?cc=max-age=60", "/q/three?cc=max-age=60&tag=blue,green"]
    for path in paths:
        platform.get(path)
    assert all(cached(p) for p in paths)
    purged = platform.admin.post("/v1/cache/purge", json={"files": ["http://localhost/p/one?cc=max-age=60"]})
    assert purged.status_code == 200, purged.text
    assert not cached(paths[0]) and cached(paths[1])
    assert platform.admin.post("/v1/cache/purge", json={"prefixes": ["localhost/p/"]}).status_code == 200
    assert not cached(paths[0]) and not cached(paths[1]) and cached(paths[2])
    result = platform.cli("cache", "purge", "--tag", "green")
    assert result.returncode == 0, result.stderr
    assert not cached(paths[2])
    assert platform.admin.post("/v1/cache/purge", json={"purge_everything": True}).status_code == 200
    assert not cached(paths[0])
    empty = platform.admin.post("/v1/cache/purge", json={})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_purge"
    stats = platform.admin.get("/v1/cache").json()
    assert stats["entries"] > 0 and stats["responses"]["HIT"] > 0 and 0 < stats["hit_ratio"] < 1


def test_a_new_version_does_not_serve_the_old_versions_entries(platform: RunningPlatform, project: Path) -> None:
    assert platform.get("/o/versioned?cc=max-age=600").headers[STATUS] == "MISS"
    assert platform.get("/o/versioned?cc=max-age=600").headers[STATUS] == "HIT"
    config = project / "edgeplane.toml"
    config.write_text(config.read_text() + "\n[vars]\nGENERATION = 2\n")
    deploy(platform, project)
    assert platform.get("/o/versioned?cc=max-age=600").headers[STATUS] == "MISS"


def test_the_shared_tier_outlives_the_process(tmp_path: Path) -> None:
    project = tmp_path / "origin"
    shutil.copytree(APPS / "origin", project)
    p = RunningPlatform(tmp_path).start()
    try:
        deploy(p, project)
        assert p.get("/o/kept?cc=max-age=600").headers[STATUS] == "MISS"
        assert p.get("/o/gone?cc=max-age=600").headers[STATUS] == "MISS"
        assert p.admin.post("/v1/cache/purge", json={"files": ["localhost/o/gone?cc=max-age=600"]}).status_code == 200
        time.sleep(0.3)  # the shared tier is written in the background
    finally:
        p.stop()
    again = RunningPlatform(tmp_path)
    again.port, again.admin_port = p.port, p.admin_port
    again.url, again.admin_url = p.url, p.admin_url
    again.start()
    try:
        kept = again.get("/o/kept?cc=max-age=600")
        assert kept.headers[STATUS] == "HIT" and kept.text == "/o/kept #1 lang="  # a new origin process: count 0
        assert again.get("/o/gone?cc=max-age=600").headers[STATUS] == "MISS"  # purged before the restart
    finally:
        again.stop()


def test_bad_policy_is_refused_at_upload(platform: RunningPlatform, tmp_path: Path) -> None:
    bad = tmp_path / "origin"
    shutil.copytree(APPS / "origin", bad)
    config = bad / "edgeplane.toml"
    config.write_text(config.read_text().replace('starts_with(http.request.uri.path, "/short/")',
                                                 'starts_with(http.request.uri.pathh, "/short/")'))  # fmt: skip
    uploaded = platform.admin.post("/v1/apps/origin/versions", content=pack_directory(bad),
                                   headers={"content-type": "application/gzip"})  # fmt: skip
    assert uploaded.status_code == 400, uploaded.text
    message = uploaded.json()["error"]["message"]
    assert "cache.policies" in message and "http.request.uri.pathh" in message and "column" in message
    assert httpx.get(f"{platform.url}/o/a?cc=public,max-age=60", headers={"host": "localhost"}).status_code == 200


def test_a_purge_reaches_another_node_within_a_second(tmp_path: Path) -> None:
    """Two nodes sharing one control store (as with PostgreSQL; here one SQLite file): a purge made on one
    empties the other's memory tier within a second."""
    project = tmp_path / "origin"
    shutil.copytree(APPS / "origin", project)
    shared = f'[server]\ndatabase_url = "sqlite+aiosqlite:///{tmp_path / "state.db"}"\n'
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "edgeplane.toml").write_text(shared)
    a = RunningPlatform(tmp_path / "a").start()
    try:
        deploy(a, project)
        # bundles are per node today (a shared bundle store is future work): b gets a copy of a's
        shutil.copytree(a.data / "bundles", tmp_path / "b" / "data" / "bundles")
        # b finds the deployment (and a's token) in the shared store
        b = RunningPlatform(tmp_path / "b", env={"EDGEPLANE_ADMIN_TOKEN": a.token}).start()
        try:
            deadline = time.monotonic() + 30
            while b.get("/health").status_code != 200:  # b starts the version's workers in the background
                assert time.monotonic() < deadline
                time.sleep(0.2)
            url = "/o/multi?cc=max-age=600"
            for node in (a, b):
                assert node.get(url).headers[STATUS] == "MISS"
                assert node.get(url).headers[STATUS] == "HIT"
            assert a.admin.post("/v1/cache/purge", json={"files": [f"localhost{url}"]}).status_code == 200
            assert a.get(url).headers[STATUS] == "MISS"  # at once where it was made
            time.sleep(1.0)
            assert b.get(url).headers[STATUS] == "MISS"  # within a second elsewhere
        finally:
            b.stop()
    finally:
        a.stop()
