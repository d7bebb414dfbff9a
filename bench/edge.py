"""The edge stages, side by side with their peers, in one run.

    make bench-deps && .venv/bin/python bench/edge.py [--rounds 3 --duration 10 --connections 64 | --quick]
        [--only hits|pipeline|local]

1. Cache HIT throughput: edgeplane serving a cached response vs NGINX ``proxy_cache`` (default settings) in
   front of the same upstream. Each proxy on CPU 0, wrk and the upstream on CPU 1, rounds alternating.
2. The full pipeline on a MISS (20 custom WAF rules + the managed rules, a rate limit, JWT validation, the
   router, a cache policy that bypasses) vs the same gateway with no edge policies: CPU per request. Two
   platforms on CPU 0; the one not measured is paused (SIGSTOP) during the other's rounds.
3. In-process: 20 custom WAF rules, the managed rules and a JWT check per request (µs).

Medians over rounds; JSON with every round goes to bench/results/edge-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import timeit
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.proxy import (
    LOAD_CPU,
    PROXY_CPU,
    PYTHON,
    ROOT,
    Bench,
    Round,
    free_port,
    measure,
    median_row,
    paused,
    wait_http,
    with_children,
)

from edgeplane.runtime.bundles import pack_directory

UPSTREAM_BODY = """  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type text/plain; add_header Cache-Control "public, max-age=3600"; return 200 "ok\\n"; }}
    location /nocache {{ default_type text/plain; return 200 "ok\\n"; }}
  }}"""
CACHE_BODY = """  proxy_cache_path {tmp}/nginx-cache keys_zone=edge:10m;
  upstream up {{ server 127.0.0.1:{upstream}; keepalive 64; keepalive_requests 10000000; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_cache edge; proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
      add_header X-Cache-Status $upstream_cache_status;
    }}
  }}"""
BARE_APP = """name = "bench"
upstream = "http://127.0.0.1:{upstream}"
[env.production]
routes = ["127.0.0.1/*", "localhost/*"]
[security_headers]
enabled = false
[waf.managed]
enabled = false
"""
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
FULL_RULES = [
    ('starts_with(http.request.uri.path, "/wp-admin")', "block"),
    ('http.request.uri.path contains "/.git"', "block"),
    ('http.request.uri.path matches "\\\\.(php|asp|aspx|jsp)$"', "block"),
    ('http.request.method in {"TRACE" "TRACK" "CONNECT"}', "block"),
    ("ip.src in {203.0.113.0/24 198.51.100.0/24 192.0.2.7}", "block"),
    ('ip.geoip.country in {"KP" "IR" "SY"}', "block"),
    ('lower(http.user_agent) contains "sqlmap"', "block"),
    ('http.user_agent matches "(?i)(nikto|masscan|zgrab)"', "block"),
    ('http.request.headers["x-debug"] eq "1"', "block"),
    ("len(http.request.uri.query) gt 2048", "block"),
    ('http.request.uri.query contains "<script"', "block"),
    ('http.host eq "admin.example.com" and not edgeplane.user.mfa', "block"),
    ('starts_with(http.request.uri.path, "/internal/") and not ip.src in {10.0.0.0/8}', "block"),
    ('http.request.uri.path eq "/login" and http.request.method eq "GET" and cf.bot_management.score lt 5', "log"),
    ('ends_with(http.request.uri.path, ".env")', "block"),
    ('http.cookie contains "debug=true"', "log"),
    ('http.referer contains "spam.example"', "block"),
    ('edgeplane.user.tier eq "banned"', "block"),
    ('http.request.headers["content-type"] contains "xml" and http.request.method eq "POST"', "block"),
    ('any(http.request.headers["x-forwarded-host"][*] eq "evil.example")', "block"),
]
FULL_APP = """name = "bench"
upstream = "http://127.0.0.1:{upstream}"
[env.production]
routes = ["127.0.0.1/*", "localhost/*"]
[security_headers]
enabled = false                  # not part of the measured pipeline (the bare proxy has them off too)

[[cache.policies]]
name = "api"
match = 'starts_with(http.request.uri.path, "/nocache")'
bypass = true

[auth.jwt]
algorithms = ["HS256"]
secret_env = "BENCH_JWT_SECRET"

[[rate_limits]]
name = "api"
match = 'starts_with(http.request.uri.path, "/nocache")'
period = "1s"
requests = {{ anonymous = 100000000, authenticated = 100000000 }}
{rules}"""


def full_app(upstream: int) -> str:
    rules = "".join(
        f'\n[[waf.rules]]\nid = "r{i:02d}"\naction = "{action}"\nexpression = \'{expr}\'\n'
        for i, (expr, action) in enumerate(FULL_RULES)
    )
    return FULL_APP.format(upstream=upstream, rules=rules)


def token() -> str:
    import jwt

    return jwt.encode({"sub": "user-1", "tier": "premium", "exp": int(time.time()) + 86400}, SECRET, "HS256")


class Platform:
    def __init__(self, bench: Bench, name: str, toml: str) -> None:
        root = bench.tmp / name
        (root / "app").mkdir(parents=True)
        self.port, admin_port = free_port(), free_port()
        cmd = ["taskset", "-c", PROXY_CPU, PYTHON, "-m", "edgeplane", "serve", "--port", str(self.port)]
        cmd += ["--admin-port", str(admin_port), "--data-dir", str(root / "data")]
        os.environ["BENCH_JWT_SECRET"] = SECRET
        self.proc = bench.spawn(cmd, f"{name}.log", root)
        admin = f"http://127.0.0.1:{admin_port}"
        wait_http(f"{admin}/health", self.proc, bench.tmp / f"{name}.log")
        auth = {"authorization": f"Bearer {(root / 'data' / 'admin.token').read_text().strip()}"}
        (root / "app" / "edgeplane.toml").write_text(toml)
        with httpx.Client(base_url=admin, headers=auth, timeout=30) as client:
            r = client.post("/v1/apps/bench/versions", content=pack_directory(root / "app"),
                            headers={"content-type": "application/gzip"})  # fmt: skip
            if r.status_code != 201:
                sys.exit(f"upload to {name} failed: {r.text}")
            d = client.post(
                "/v1/apps/bench/deployments", json={"env": "production", "splits": [{"version": r.json()["id"]}]}
            )
            if d.status_code != 201:
                sys.exit(f"deploy to {name} failed: {d.text}")
        wait_http(f"http://127.0.0.1:{self.port}/", self.proc, bench.tmp / f"{name}.log")


def check_header(port: int, path: str, name: str, want: str, headers: dict[str, str] | None = None) -> None:
    for _ in range(2):  # the first request fills the cache
        r = httpx.get(f"http://127.0.0.1:{port}{path}", headers={"host": "localhost", **(headers or {})})
    if r.headers.get(name) != want:
        sys.exit(f"port {port}{path}: expected {name}: {want}, got {r.status_code} {dict(r.headers)}")


def cache_hits(args: argparse.Namespace, bench: Bench, upstream: int) -> dict[str, Any]:
    nginx_port = free_port()
    bench.tmp.chmod(0o755)  # NGINX's worker (user nobody) writes the cache under it
    body = CACHE_BODY.format(tmp=bench.tmp, upstream=upstream, port=nginx_port)
    nginx = bench.nginx("nginx-cache", PROXY_CPU, body)
    wait_http(f"http://127.0.0.1:{nginx_port}/", nginx, bench.tmp / "nginx-cache.out")
    ep = Platform(bench, "edgeplane-cache", BARE_APP.format(upstream=upstream))
    check_header(nginx_port, "/hit", "x-cache-status", "HIT")
    check_header(ep.port, "/hit", "edgeplane-cache-status", "HIT")
    rounds: list[Round] = []
    ep_pids, ng_pids = with_children(ep.proc.pid), with_children(nginx.pid)
    for i in range(args.rounds):
        order = [("nginx", nginx_port, ng_pids), ("edgeplane", ep.port, ep_pids)]
        for name, port, pids in order if i % 2 == 0 else order[::-1]:
            others = ep_pids if name == "nginx" else ng_pids
            with paused(others):
                rounds.append(measure(name, port, pids, args.duration, args.connections, "/hit"))
            print(f"  cache HIT {name:9s} {rounds[-1].rps:9.0f} req/s  {rounds[-1].cpu_us_per_req:6.1f} us/req")
    ep.proc.send_signal(signal.SIGTERM)
    nginx.send_signal(signal.SIGTERM)
    ng, edge = median_row(rounds, "nginx"), median_row(rounds, "edgeplane")
    return {"rounds": [asdict(r) for r in rounds], "nginx": ng, "edgeplane": edge, "ratio": edge["rps"] / ng["rps"]}


def pipeline(args: argparse.Namespace, bench: Bench, upstream: int) -> dict[str, Any]:
    bare = Platform(bench, "edgeplane-bare", BARE_APP.format(upstream=upstream))
    full = Platform(bench, "edgeplane-full", full_app(upstream))
    auth = {"authorization": f"Bearer {token()}"}
    check_header(full.port, "/nocache", "edgeplane-cache-status", "BYPASS", auth)
    r = httpx.get(f"http://127.0.0.1:{full.port}/nocache", headers={"host": "localhost", **auth})
    if r.status_code != 200 or "ratelimit" not in {k.lower().split("-")[0] for k in r.headers}:
        sys.exit(f"the full pipeline did not answer as expected: {r.status_code} {dict(r.headers)}")
    rounds: list[Round] = []
    pids = {"bare": with_children(bare.proc.pid), "full": with_children(full.proc.pid)}
    ports = {"bare": bare.port, "full": full.port}
    for i in range(args.rounds):
        for name in ("bare", "full") if i % 2 == 0 else ("full", "bare"):
            other = "full" if name == "bare" else "bare"
            with paused(pids[other]):
                rounds.append(measure(name, ports[name], pids[name], args.duration, args.connections, "/nocache", auth))
            print(f"  MISS {name:4s} {rounds[-1].rps:9.0f} req/s  {rounds[-1].cpu_us_per_req:6.1f} us/req")
    b, f = median_row(rounds, "bare"), median_row(rounds, "full")
    return {"rounds": [asdict(r) for r in rounds], "bare": b, "full": f,
            "extra_cpu": f["cpu_us_per_req"] / b["cpu_us_per_req"] - 1}  # fmt: skip


def in_process() -> dict[str, float]:
    import asyncio

    from edgeplane.edge.jwt import JWTVerifier
    from edgeplane.edge.managed import ManagedRules
    from edgeplane.edge.request import EdgeRequest
    from edgeplane.edge.rules import compile_first_match

    first = compile_first_match([e for e, _ in FULL_RULES])  # as the security stage runs them
    headers = {b"host": b"api.example.com", b"user-agent": b"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
               b"accept": b"application/json", b"content-type": b"application/json"}  # fmt: skip
    body = json.dumps({"prompt": "Write a SQL query that selects the top 5 users by score", "max_tokens": 256})

    def request() -> EdgeRequest:
        return EdgeRequest("POST", "api.example.com", "/v1/chat/completions", b"model=gpt&stream=false", headers,
                           list(headers.items()), "198.51.200.7", "DE", body.encode())  # fmt: skip

    def waf() -> None:  # every rule evaluated (the matching ones log or are skipped, none blocks)
        r = request()
        index = first(r, 0)
        while index >= 0:
            index = first(r, index + 1)

    managed = ManagedRules()
    n = 20000
    base = min(timeit.repeat(request, number=n, repeat=5)) / n
    waf_us = (min(timeit.repeat(waf, number=n, repeat=5)) / n - base) * 1e6
    managed_us = (min(timeit.repeat(lambda: managed.inspect(request()), number=n, repeat=5)) / n - base) * 1e6
    verifier = JWTVerifier(algorithms=["HS256"], secret=SECRET)
    tok = token()

    async def checks(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            await verifier.verify(tok)
        return time.perf_counter() - started

    asyncio.run(checks(10))  # fills the verified-token cache
    jwt_us = min(asyncio.run(checks(n)) for _ in range(3)) / n * 1e6
    return {"waf_20_rules_us": waf_us, "managed_rules_us": managed_us, "jwt_cached_us": jwt_us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s (smoke test)")
    parser.add_argument("--only", choices=("hits", "pipeline", "local"), help="run one part")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration = 1, 3.0
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.2f}: numbers will be noisy")
    bench = Bench()
    try:
        upstream = free_port()
        up = bench.nginx("upstream", LOAD_CPU, UPSTREAM_BODY.format(port=upstream))
        wait_http(f"http://127.0.0.1:{upstream}/", up, bench.tmp / "upstream.out")
        hits = pipe = local = None
        if args.only in (None, "hits"):
            print("1. cache HIT throughput (one core each)")
            hits = cache_hits(args, bench, upstream)
        if args.only in (None, "pipeline"):
            print("2. full pipeline on a MISS vs the bare proxy")
            pipe = pipeline(args, bench, upstream)
        if args.only in (None, "local"):
            print("3. in-process")
            local = in_process()
    finally:
        bench.close()
    print()
    if hits is not None:
        ep, ng = hits["edgeplane"]["rps"], hits["nginx"]["rps"]
        print(f"cache HIT: edgeplane {ep:.0f} req/s vs NGINX proxy_cache {ng:.0f} req/s = {hits['ratio']:.2f}x"
              " (target >= 1.0x)")  # fmt: skip
    if pipe is not None:
        full, bare = pipe["full"]["cpu_us_per_req"], pipe["bare"]["cpu_us_per_req"]
        print(f"full pipeline MISS: {full:.1f} us/req vs bare {bare:.1f} = {pipe['extra_cpu']:+.1%} CPU per request"
              " (target <= +25%)")  # fmt: skip
    if local is not None:
        print(
            f"WAF 20 custom rules: {local['waf_20_rules_us']:.1f} us/request (target <= 20); managed rules "
            f"{local['managed_rules_us']:.1f} us; JWT (cached) {local['jwt_cached_us']:.1f} us"
        )
    out = ROOT / "bench" / "results" / f"edge-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"cache_hit": hits, "pipeline": pipe, "in_process": local}, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
