"""The hit path (gateway/hits.py, gateway/protocol.py) through the real platform: fresh hits answered from the
HTTP protocol, without the ASGI cycle, must be the same responses the regular path gives, and must still run
every check in front of the cache (WAF rules, log rules, rate limits), see purges, and keep HTTP/1.1's order
and connection semantics."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.harness import APPS, RunningPlatform
from tests.integration.test_cache import count, serving

STATUS = "edgeplane-cache-status"
PER_REQUEST = {"date", "age", "edgeplane-request-id"}
EXTRA = """
[[waf.rules]]
id = "no-x-block"
action = "block"
expression = 'http.request.headers["x-block"] eq "1"'

[[waf.rules]]
id = "watch"
action = "log"
expression = 'starts_with(http.request.uri.path, "/watched/")'

[[rate_limits]]
name = "limited"
match = 'starts_with(http.request.uri.path, "/limited/")'
period = "1m"
requests = 3
"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    project = tmp_path_factory.mktemp("hits") / "origin"
    shutil.copytree(APPS / "origin", project)
    with (project / "edgeplane.toml").open("a") as toml:
        toml.write(EXTRA)
    with serving(project) as p:
        yield p


def hit_path(p: RunningPlatform) -> dict[str, Any]:
    stats: dict[str, Any] = p.admin.get("/v1/cache").json()["hit_path"]
    return stats


def comparable(response: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k not in PER_REQUEST}
    return response.status_code, response.content, headers


def test_a_hit_on_the_hit_path_is_the_response_the_regular_path_gives(platform: RunningPlatform) -> None:
    url = "/hp/same?cc=public,max-age=60&etag=v1"
    assert platform.get(url).headers[STATUS] == "MISS"
    before = hit_path(platform)
    first, again = platform.get(url), platform.get(url)  # learnt, then answered from the remembered head
    after = hit_path(platform)
    assert after["answered"] - before["answered"] == 2 and after["repeated"] - before["repeated"] == 1
    # a body-less GET saying "Content-Length: 0" is not offered to the hit path: the regular path answers it
    regular = platform.get(url, headers={"content-length": "0"})
    assert hit_path(platform)["answered"] == after["answered"]
    assert first.headers[STATUS] == again.headers[STATUS] == regular.headers[STATUS] == "HIT"
    assert comparable(first) == comparable(again) == comparable(regular)
    assert first.headers["x-content-type-options"] == "nosniff"  # the version's security headers, as ever
    ids = {r.headers["edgeplane-request-id"] for r in (first, again, regular)}
    assert len(ids) == 3
    assert count(platform, "/hp/same") == 1


def test_head_and_the_clients_own_conditional_request(platform: RunningPlatform) -> None:
    url = "/hp/cond?cc=public,max-age=60&etag=v2"
    body = platform.get(url).content
    for _ in range(2):
        head = platform.gateway.head(url, headers={"host": "localhost"})
        assert head.status_code == 200 and head.content == b"" and head.headers[STATUS] == "HIT"
        assert int(head.headers["content-length"]) == len(body)
        unchanged = platform.get(url, headers={"if-none-match": '"v2"'})
        assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == '"v2"'
        changed = platform.get(url, headers={"if-none-match": '"other"'})
        assert changed.status_code == 200 and changed.content == body
    assert count(platform, "/hp/cond") == 1


def test_a_purge_is_seen_by_a_remembered_head(platform: RunningPlatform) -> None:
    url = "/hp/purged?cc=public,max-age=60"
    platform.get(url)
    for _ in range(2):
        assert platform.get(url).headers[STATUS] == "HIT"
    purged = platform.admin.post("/v1/cache/purge", json={"prefixes": ["localhost/hp/purged"]})
    assert purged.status_code == 200, purged.text
    assert platform.get(url).headers[STATUS] == "MISS"
    assert platform.get(url).text.endswith("#2 lang=")
    assert count(platform, "/hp/purged") == 2


def test_waf_rules_run_before_a_hit(platform: RunningPlatform) -> None:
    url = "/hp/guarded?cc=public,max-age=60"
    platform.get(url)
    assert platform.get(url).headers[STATUS] == "HIT"
    for _ in range(2):  # the same head twice: a block is never remembered as a hit
        blocked = platform.get(url, headers={"x-block": "1"})
        assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "waf_block"
    assert platform.get(url).headers[STATUS] == "HIT"


def test_log_rules_log_every_hit(platform: RunningPlatform) -> None:
    url = "/watched/page?cc=public,max-age=60"
    before = platform.log().count("WAF rule watch matched (log)")
    for _ in range(4):
        platform.get(url)
    assert platform.get(url).headers[STATUS] == "HIT"
    assert platform.log().count("WAF rule watch matched (log)") - before == 5


def test_rate_limits_count_hits(platform: RunningPlatform) -> None:
    url = "/limited/page?cc=public,max-age=60"
    statuses = [platform.get(url).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert count(platform, "/limited/page") == 1


def raw_exchange(p: RunningPlatform, data: bytes, responses: int) -> list[bytes]:
    """Send ``data`` on one connection and read ``responses`` whole responses (Content-Length framed)."""
    host, port = p.url.removeprefix("http://").split(":")
    out: list[bytes] = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        buffer = b""
        while len(out) < responses:
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {out}"
                buffer += chunk
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            while len(rest) < length:
                rest += sock.recv(65536)
            out.append(head + b"\r\n\r\n" + rest[:length])
            buffer = rest[length:]
        sock.settimeout(0.5)
        try:
            out.append(sock.recv(65536))  # b"" when the server closed the connection
        except TimeoutError:
            out.append(b"(open)")
    return out


def test_pipelined_requests_are_answered_in_order(platform: RunningPlatform) -> None:
    hit = "/hp/pipe-hit?cc=public,max-age=60"
    platform.get(hit)
    slow = "/hp/pipe-slow?sleep=0.3"  # not stored: the regular path, and slow
    request = "GET {} HTTP/1.1\r\nhost: localhost\r\n\r\n"
    answers = raw_exchange(platform, (request.format(slow) + request.format(hit) * 2).encode(), 3)
    assert b"/hp/pipe-slow #1" in answers[0] and b"MISS" in answers[0]
    assert all(b"/hp/pipe-hit #1" in a and b"edgeplane-cache-status: HIT" in a for a in answers[1:3])
    assert answers[3] == b"(open)"


def test_http_1_0_and_connection_close_end_the_connection_after_a_hit(platform: RunningPlatform) -> None:
    url = "/hp/close?cc=public,max-age=60"
    platform.get(url)
    for request in (f"GET {url} HTTP/1.0\r\nhost: localhost\r\n\r\n",
                    f"GET {url} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"):  # fmt: skip
        answer, after = raw_exchange(platform, request.encode(), 1)
        assert b"edgeplane-cache-status: HIT" in answer and b"connection: close" in answer.lower()
        assert after == b""


def test_switched_off_every_request_takes_the_regular_path(tmp_path: Path) -> None:
    project = tmp_path / "origin"
    shutil.copytree(APPS / "origin", project)
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "edgeplane.toml").write_text("[server.edge]\nhit_path = false\n")
    with serving(project, tmp_path / "node") as p:
        url = "/hp/off?cc=public,max-age=60"
        assert [p.get(url).headers[STATUS] for _ in range(3)] == ["MISS", "HIT", "HIT"]
        assert hit_path(p) == {
            "enabled": False,
            "answered": 0,
            "repeated": 0,
            "heads": 0,
            "heads_bytes": 0,
            "failures": 0,
        }
