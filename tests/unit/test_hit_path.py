"""The hit path against the regular path, in one process: a Gateway with a routing table and entries stored in
its memory tier, asked through ``HitPath.answer`` (what the HTTP protocol calls) and through the ASGI app.
Regressions found in review: header routes judged at another moment, an empty version key pinning a random
split, remembered heads keeping evicted bodies alive, a declined request judged twice, a Vary marker aging out
under hot variants, and the keep-alive timer cutting a slow request head after a hit."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import socket
import time
import weakref
from pathlib import Path
from typing import Any

import httptools
import pytest
import uvicorn

from edgeplane.config.app import AppConfig
from edgeplane.config.server import ServerConfig
from edgeplane.edge.cache.store import CacheEntry, Purge
from edgeplane.gateway.app import Gateway
from edgeplane.gateway.edge_policy import compile_policy
from edgeplane.gateway.protocol import GatewayProtocol
from edgeplane.gateway.routing import DeploymentTarget, RouteTable, VersionTarget
from edgeplane.gateway.stages.cache import _key
from edgeplane.gateway.types import RequestContext

HOST = [(b"host", b"a.example")]
PER_REQUEST = (b"age", b"edgeplane-request-id", b"date")


def gateway(tmp_path: Path, app: dict[str, Any] | None = None, versions: int = 1) -> Gateway:
    config = ServerConfig.model_validate({"data_dir": str(tmp_path), "edge": {"cache_shared": "none"}})
    gw = Gateway(config)
    app_config = AppConfig.model_validate({"name": "app", "upstream": "http://127.0.0.1:9", **(app or {})})
    targets = [
        VersionTarget(f"v{i}", 100.0 / versions, None, f"v{i}".encode(), b"", f"v{i}".encode(),
                      edge=compile_policy(app_config))
        for i in range(versions)
    ]  # fmt: skip
    gw.routes.table = RouteTable([], DeploymentTarget.build("app", "production", "d1", targets))
    return gw


def store(gw: Gateway, body: bytes, version: int = 0, path: bytes = b"/x", **extra: Any) -> tuple[str, CacheEntry]:
    """An entry for GET a.example``path`` on ``version``, fresh for a minute (or a Vary marker: status 0)."""
    ctx = RequestContext(b"-", dict(HOST), 0.0)
    ctx.host, ctx.version = "a.example", gw.routes.table.fallback.versions[version]
    scope = {"method": "GET", "path": path.decode(), "raw_path": path, "query_string": b"", "headers": HOST}
    key, url = _key(scope, ctx, None)
    now = time.time()
    fields = {"status": 200, "headers": ((b"content-type", b"text/plain"),), "key": key, **extra}
    entry = CacheEntry.make(fields["status"], fields["headers"], body, now, now + 60, now + 60, now + 60, url,
                            frozenset(), b"", b"", fields.get("vary", ()))  # fmt: skip
    gw.cache.store(fields["key"], entry)
    return fields["key"], entry


def hit(gw: Gateway, headers: list[tuple[bytes, bytes]], url: bytes = b"/x", ip: str = "10.0.0.1") -> Any:
    answer = gw.hits.answer(b"GET", url, headers, (ip, 1234))
    if not isinstance(answer, tuple):
        return answer
    status, head, body = answer
    lines = [tuple(line.split(b": ", 1)) for line in head.split(b"\r\n") if line]
    return status, sorted(h for h in lines if h[0] not in PER_REQUEST), body


async def regular(gw: Gateway, headers: list[tuple[bytes, bytes]], url: bytes = b"/x", ctx: Any = None) -> Any:
    parsed = httptools.parse_url(url)
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "path": parsed.path.decode(), "raw_path": parsed.path, "query_string": parsed.query or b"",
        "headers": headers, "client": ("10.0.0.1", 1234), "server": ("127.0.0.1", 80), "scheme": "http",
        "root_path": "", "state": {},
    }  # fmt: skip
    if ctx is not None:
        scope["edgeplane"] = ctx
    out: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    await gw.app(scope, receive, send)
    headers_out = sorted(h for h in out[0]["headers"] if h[0] not in PER_REQUEST)
    return out[0]["status"], headers_out, b"".join(m.get("body", b"") for m in out[1:])


async def test_header_routes_see_the_request_as_the_checks_left_it_on_both_paths(tmp_path: Path) -> None:
    gw = gateway(tmp_path, {"security_headers": {"routes": [
        {"match": "cf.bot_management.score lt 50", "content_security_policy": "bot"}]}})  # fmt: skip
    store(gw, b"hello")
    no_agent = [*HOST]  # no User-Agent: a low bot score
    fast, slow = hit(gw, no_agent), await regular(gw, no_agent)
    assert fast == slow
    assert (b"content-security-policy", b"bot") in fast[1]


async def test_an_empty_version_key_is_a_random_pick_and_not_remembered(tmp_path: Path) -> None:
    gw = gateway(tmp_path, versions=2)
    store(gw, b"zero", version=0)
    store(gw, b"one", version=1)
    bodies = collections.Counter(hit(gw, [*HOST, (b"edgeplane-version-key", b"")])[2] for _ in range(200))
    assert bodies[b"zero"] > 40 and bodies[b"one"] > 40
    assert gw.hits.known == {}
    keyed = {hit(gw, [*HOST, (b"edgeplane-version-key", b"user-7")])[2] for _ in range(20)}
    assert len(keyed) == 1 and len(gw.hits.known) == 1  # a sticky key: one version, remembered


def test_remembered_heads_do_not_keep_purged_bodies_alive(tmp_path: Path) -> None:
    gw = gateway(tmp_path)
    _, entry = store(gw, b"x" * 100_000)
    for _ in range(3):
        assert hit(gw, HOST)[0] == 200
    assert gw.hits.repeated == 2 and gw.hits.known_bytes > 0
    alive = weakref.ref(entry)
    del entry
    gw.cache.purge(Purge("all", "", time.time() + 1))
    gc.collect()
    assert alive() is None
    assert isinstance(hit(gw, HOST), RequestContext)  # declined: a miss now


async def test_a_declined_request_is_judged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edgeplane.security")
    gw = gateway(tmp_path, {
        "waf": {"rules": [{"id": "seen", "action": "log", "expression": 'http.request.uri.path eq "/x"'}]},
        "rate_limits": [{"name": "bots", "match": "cf.bot_management.score lt 30", "period": "1m", "requests": 1000}],
    })  # fmt: skip
    headers = [*HOST, (b"user-agent", b"Mozilla/5.0")]
    declined = hit(gw, headers, ip="10.0.0.9")  # nothing stored: judged (the lookup reads the score), declined
    assert isinstance(declined, RequestContext) and declined.judged is True
    with contextlib.suppress(AttributeError):  # the version has no pool: dispatch fails, after the checks ran
        await regular(gw, headers, ctx=declined)
    assert "edgeplane.security" in caplog.text and caplog.text.count("WAF rule seen matched") == 1
    assert gw.bots._clients["10.0.0.9"][2] == 1.0  # the client's rate counted once


def test_a_remembered_variant_keeps_its_vary_marker_in_the_lru(tmp_path: Path) -> None:
    gw = gateway(tmp_path)
    primary, _ = store(gw, b"", status=0, vary=(b"accept-encoding",), headers=())
    from edgeplane.edge.cache.keys import variant_key

    headers = [*HOST, (b"accept-encoding", b"gzip")]
    store(gw, b"gz", key=variant_key(primary, (b"accept-encoding",), dict(headers)))
    for _ in range(3):
        assert hit(gw, headers)[2] == b"gz"
    store(gw, b"other", path=b"/other")
    assert hit(gw, headers)[2] == b"gz"  # remembered: the marker moved to the LRU's end with its variant
    assert list(gw.cache.memory.entries)[-1] == primary


async def test_the_keep_alive_timer_spares_a_request_head_still_arriving_after_a_hit(tmp_path: Path) -> None:
    gw = gateway(tmp_path)
    store(gw, b"hello")
    config = uvicorn.Config(gw.app, http=GatewayProtocol.serving(gw.hits), ws="none",
                            lifespan="off", timeout_keep_alive=1, log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    sock = socket.create_server(("127.0.0.1", 0))  # listening now: the connection waits until uvicorn accepts it
    port = sock.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /x HTTP/1.1\r\nhost: a.example\r\n\r\n")
        assert b"HIT" in await reader.readuntil(b"hello")
        await asyncio.sleep(0.7)
        writer.write(b"GET /x HTTP/1.1\r\nhost: a.ex")  # half a head...
        await asyncio.sleep(0.6)  # ...past the hit + 1 s
        writer.write(b"ample\r\n\r\n")
        assert (await reader.readuntil(b"hello")).startswith(b"HTTP/1.1 200 OK")
        assert await asyncio.wait_for(reader.read(), 3) == b""  # idle for a second: closed
    finally:
        writer.close()
        server.should_exit = True
        await task
