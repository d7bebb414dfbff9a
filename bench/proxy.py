"""NGINX vs edgeplane as a reverse proxy to the same cheap upstream, side by side, one core each.

    make bench-deps && .venv/bin/python bench/proxy.py [--rounds 3 --duration 10 --connections 64 | --quick]

CPU 0: the proxy under test (the NGINX proxy's master+worker, or the `edgeplane serve` process).
CPU 1: wrk and the upstream (a second NGINX answering `200 ok`). Rounds alternate nginx/edgeplane and the
table shows medians. Afterwards it measures edgeplane's rollback latency: rollback command issued -> first
request served by the target version. Results also go to bench/results/proxy-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PROXY_CPU, LOAD_CPU = "0", "1"
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
NGINX_COMMON = """worker_processes 1;
pid {tmp}/{name}.pid;
error_log {tmp}/{name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_timeout 75s;
  keepalive_requests 10000000;
  client_body_temp_path {tmp}/{name}-body; proxy_temp_path {tmp}/{name}-proxy;
  fastcgi_temp_path {tmp}/{name}-fcgi; uwsgi_temp_path {tmp}/{name}-uwsgi; scgi_temp_path {tmp}/{name}-scgi;
{body}
}}
"""
UPSTREAM_BODY = """  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type text/plain; return 200 "ok\\n"; }}
  }}"""
PROXY_BODY = """  upstream up {{ server 127.0.0.1:{upstream}; keepalive 64; keepalive_requests 10000000; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}"""
APP_TOML = """name = "bench"
upstream = "http://127.0.0.1:{upstream}"
[env.production]
routes = ["127.0.0.1/*", "localhost/*"]
"""


@dataclass
class Round:
    proxy: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_req: float
    core_pct: float
    requests: int
    errors: str


class Bench:
    """Owns the temp dir and every process it starts; ``close`` kills them all (process groups)."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="edgeplane-bench-"))
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, cmd: list[str], log: str, cwd: Path | None = None) -> subprocess.Popen[bytes]:
        out = open(self.tmp / log, "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        self.procs.append(proc)
        return proc

    def nginx(self, name: str, cpu: str, body: str) -> subprocess.Popen[bytes]:
        conf = self.tmp / f"{name}.conf"
        conf.write_text(NGINX_COMMON.format(tmp=self.tmp, name=name, body=body))
        cmd = ["taskset", "-c", cpu, "nginx", "-p", str(self.tmp), "-e", str(self.tmp / f"{name}-error.log")]
        return self.spawn([*cmd, "-c", str(conf), "-g", "daemon off;"], f"{name}.out")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{proc.args!r} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    sys.exit(f"{url} did not answer 200 within {timeout:g}s; log: {log.read_text(errors='replace')[-2000:]}")


def cpu_seconds(pids: list[int]) -> float:
    """utime+stime (fields 14, 15 of /proc/PID/stat) of the given processes, in seconds."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # fields[0] is field 3 (state)
    return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def paused(pids: list[int]) -> Iterator[None]:
    """SIGSTOP processes that share the measured one's core (their background work would land in its rounds),
    SIGCONT them after."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def with_children(pid: int) -> list[int]:
    """``pid`` and its direct children (NGINX's master and its worker)."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def run_wrk(
    port: int, seconds: float, connections: int, path: str = "/", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    cmd = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    url = f"http://127.0.0.1:{port}{path}"
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m is None:
            sys.exit(f"cannot parse wrk's {pct}% latency:\n{out}")
        return float(m[1]) * UNITS[m[2]]

    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    done = re.search(r"^\s+(\d+) requests in", out, re.M)
    if rps is None or done is None:
        sys.exit(f"cannot parse wrk output:\n{out}")
    errors = "; ".join(m.strip() for m in re.findall(r"^\s*(Non-2xx.*|Socket errors.*)$", out, re.M))
    p50, p99 = latency("50"), latency("99")
    return {"rps": float(rps[1]), "requests": int(done[1]), "p50": p50, "p99": p99, "errors": errors}


def measure(
    name: str, port: int, pids: list[int], seconds: float, connections: int, path: str = "/",
    headers: dict[str, str] | None = None,
) -> Round:  # fmt: skip
    before = cpu_seconds(pids)
    w = run_wrk(port, seconds, connections, path, headers)
    cpu = cpu_seconds(pids) - before
    us = cpu / max(w["requests"], 1) * 1e6
    return Round(name, w["rps"], w["p50"], w["p99"], us, cpu / seconds * 100, w["requests"], w["errors"])


def cli(admin: str, token: str, app_dir: Path, *args: str) -> str:
    cmd = [PYTHON, "-m", "edgeplane", "--admin-url", admin, "--token", token, "--dir", str(app_dir), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def rollback_latency(admin: str, token: str, port: int, iterations: int) -> list[tuple[float, float]]:
    """(ms until the first gateway response from the target version, ms the rollback POST took)."""
    samples: list[tuple[float, float]] = []
    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client(timeout=10.0) as client:
        for _ in range(iterations):
            t0 = time.perf_counter()
            r = client.post(f"{admin}/v1/apps/bench/rollback", json={"env": "production"}, headers=auth)
            r.raise_for_status()
            post_ms = (time.perf_counter() - t0) * 1000
            target = r.json()["splits"][0]["version_id"]
            while client.get(f"http://127.0.0.1:{port}/").headers.get("edgeplane-version") != target:
                if time.perf_counter() - t0 > 10:
                    sys.exit(f"rollback to {target} not served after 10 s")
            samples.append(((time.perf_counter() - t0) * 1000, post_ms))
            time.sleep(0.3)  # let the post-deploy reconcile settle: measure rollbacks, not a burst
    return samples


def start_edgeplane(bench: Bench, upstream: int) -> tuple[subprocess.Popen[bytes], int, str, str, Path]:
    port, admin_port = free_port(), free_port()
    admin = f"http://127.0.0.1:{admin_port}"
    data = bench.tmp / "data"
    cmd = ["taskset", "-c", PROXY_CPU, PYTHON, "-m", "edgeplane", "serve", "--port", str(port)]
    cmd += ["--admin-port", str(admin_port), "--data-dir", str(data)]
    proc = bench.spawn(cmd, "edgeplane.log", bench.tmp)
    wait_http(f"{admin}/health", proc, bench.tmp / "edgeplane.log")
    token = (data / "admin.token").read_text().strip()
    app_dir = bench.tmp / "upstream-app"
    app_dir.mkdir()
    (app_dir / "edgeplane.toml").write_text(APP_TOML.format(upstream=upstream))
    cli(admin, token, app_dir, "versions", "upload")
    cli(admin, token, app_dir, "deploy", "v1", "--env", "production", "--app", "bench")
    wait_http(f"http://127.0.0.1:{port}/", proc, bench.tmp / "edgeplane.log")
    return proc, port, admin, token, app_dir


def median_row(rounds: list[Round], proxy: str) -> dict[str, float]:
    mine = [r for r in rounds if r.proxy == proxy]
    keys = ("rps", "p50_ms", "p99_ms", "cpu_us_per_req", "core_pct")
    return {k: statistics.median(getattr(r, k) for r in mine) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per proxy (default 3)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--rollbacks", type=int, default=10, help="rollback iterations (default 10)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 round of 3 s")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration = 1, 3.0
    if min(args.rounds, args.rollbacks, args.connections) < 1 or args.duration <= 0:
        parser.error("--rounds, --rollbacks, --connections and --duration must be positive")
    missing = [tool for tool in ("nginx", "wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"missing {', '.join(missing)} on PATH: run `make bench-deps` (installs nginx-light, wrk)")
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 CPUs; proxy and load generator share a core", file=sys.stderr)
    if (load := os.getloadavg()[0]) > 0.5:
        print(f"warning: load average {load:.2f} before start; other work skews the numbers", file=sys.stderr)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally below on `kill`

    bench = Bench()
    try:
        upstream = free_port()
        up = bench.nginx("upstream", LOAD_CPU, UPSTREAM_BODY.format(port=upstream))
        wait_http(f"http://127.0.0.1:{upstream}/", up, bench.tmp / "upstream-error.log")
        nginx_port = free_port()
        nx = bench.nginx("proxy", PROXY_CPU, PROXY_BODY.format(port=nginx_port, upstream=upstream))
        wait_http(f"http://127.0.0.1:{nginx_port}/", nx, bench.tmp / "proxy-error.log")
        ep, ep_port, admin, token, app_dir = start_edgeplane(bench, upstream)
        targets = {"nginx": (nginx_port, with_children(nx.pid)), "edgeplane": (ep_port, [ep.pid])}

        for port, _ in targets.values():  # warm-up: connection pools, caches, lazy imports
            run_wrk(port, min(2.0, args.duration), args.connections)
        rounds: list[Round] = []
        for i in range(args.rounds):
            for name, (port, pids) in targets.items():
                r = measure(name, port, pids, args.duration, args.connections)
                rounds.append(r)
                note = f"  {r.errors}" if r.errors else ""
                print(
                    f"round {i + 1}/{args.rounds} {name:<10} {r.rps:>9.0f} req/s"
                    f" {r.cpu_us_per_req:6.1f} µs/req {r.core_pct:4.0f}% core{note}",
                    flush=True,
                )

        (app_dir / "edgeplane.toml").write_text(APP_TOML.format(upstream=upstream) + '[vars]\nLABEL = "b"\n')
        cli(admin, token, app_dir, "versions", "upload")
        cli(admin, token, app_dir, "deploy", "v2", "--env", "production", "--app", "bench")
        time.sleep(0.5)
        rollbacks = rollback_latency(admin, token, ep_port, args.rollbacks)
    finally:
        bench.close()

    nginx, edge = median_row(rounds, "nginx"), median_row(rounds, "edgeplane")
    print(f"\nmedians of {args.rounds} round(s) x {args.duration:g} s, {args.connections} connections")
    print(f"{'proxy':<12}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}{'core %':>8}")
    for name, row in (("nginx", nginx), ("edgeplane", edge)):
        print(
            f"{name:<12}{row['rps']:>10.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
            f"{row['cpu_us_per_req']:>12.1f}{row['core_pct']:>8.0f}"
        )

    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"proxy-{time.strftime('%Y%m%d-%H%M%S')}.json"
    summary = {
        "nginx": nginx, "edgeplane": edge, "args": vars(args), "loadavg_at_start": load,
        "rollback_ms": [total for total, _ in rollbacks], "rollback_post_ms": [post for _, post in rollbacks],
    }  # fmt: skip
    path.write_text(json.dumps({**summary, "rounds": [asdict(r) for r in rounds]}, indent=2))
    print(f"results: {path.relative_to(ROOT)}\n")

    print(
        f"ratio (edgeplane/nginx): req/s x{edge['rps'] / nginx['rps']:.2f}, "
        f"CPU/req x{edge['cpu_us_per_req'] / nginx['cpu_us_per_req']:.1f}"
    )
    print(f"edgeplane gateway CPU per proxied request: {edge['cpu_us_per_req']:.0f} µs (target ≤ 100 µs)")
    med, worst = statistics.median(t for t, _ in rollbacks), max(t for t, _ in rollbacks)
    print(
        f"rollback latency (command → first request on target): median {med:.1f} ms,"
        f" max {worst:.1f} ms over {len(rollbacks)}"
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; all benchmark processes stopped")
