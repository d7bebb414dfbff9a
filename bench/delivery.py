"""Progressive delivery under steady load: how fast an `auto` canary catches a bad version and gets traffic
back to stable, and whether it leaves a good version alone. Measured from the client's side.

    .venv/bin/python bench/delivery.py            # 200 req/s; 5 error + 5 latency rollouts, 20 healthy ones
    .venv/bin/python bench/delivery.py --quick    # smoke: 100 req/s; 1 + 1 rollouts, 2 healthy ones of 15 s
    .venv/bin/python bench/delivery.py --runs 3 --healthy-runs 10 --rate 200 --stable-error-rate 0.005

One platform (tests/integration/harness.py) serves the `flaky` test app (pool_size 2). v1 is deployed as the
stable version (ERROR_RATE --stable-error-rate). A separate load process sends --rate GET / per second,
open-loop, and logs every request: send time, receive time, status, `edgeplane-version` response header.
Every scenario is a fresh canary rollout (one new version each) against that same v1, with
`[[deploy.canary]] weight = 5, duration = --stage`, then 100 %, mode `auto`, default analysis settings:

  errors    new version ERROR_RATE = stable + 0.05             must roll back   (--runs times)
  latency   new version DELAY_MS = 200 (errors as stable)       must roll back   (--runs times)
  healthy   new version identical to stable, 5 % for --healthy-stage, then 100 %; must succeed (--healthy-runs)

Definitions (all times are time.time() on this machine; event `at` values are UTC ISO timestamps):
  verdict        `at` of the rollout's first `verdict` event whose verdict is `fail` (written by the controller
                 on the tick that saw the failure, before the routing swap)
  detection      verdict - receive time of the first bad response served by the new version (errors: first
                 5xx; latency: first response slower than stable's client-side p95, measured over the stable
                 responses sent between the new version's first response and the verdict)
  rollback       latest receive time of any response served by the new version - verdict, floored at 0
  server ms      `rollback_ms` of the `rolled_back` event (the routing swap as timed by the controller)
  bad reqs       responses the new version served in that rollout, sent before it ended (client count; for
                 healthy runs: the canary's requests in its 5 % stage)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
APP, ENV = "flaky", "production"
ACTIVE = ("running", "queued", "awaiting_approval")
"""States in which a rollout is still deciding (``paused`` also counts as over here: it needs a human)."""
DEPLOY = """[deploy]
strategy = "canary"
mode = "auto"

[[deploy.canary]]
weight = 5
duration = "{stage:g}s"

[[deploy.canary]]
weight = 100
"""
TARGET_DETECT_S, TARGET_ROLLBACK_S = 10.0, 1.0


# -- the load process -------------------------------------------------------------------------------------
# Raw HTTP/1.1 on a fixed set of keep-alive connections: an httpx pool with hundreds of requests in flight
# costs the load generator itself most of a core once the machine is busy, and then it, not the platform,
# sets the pace. Each request is scheduled open-loop; it waits for a free connection only if all are busy.
CONNECTIONS = 64
REQUEST = b"GET / HTTP/1.1\r\nhost: localhost\r\nuser-agent: edgeplane-bench-delivery\r\n\r\n"
IO_ERRORS = (OSError, EOFError, ValueError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)


def load_main(port: int, rate: float, out: str, stop: Any, ready: Any) -> None:
    """Entry point of the load process: GET / at ``rate`` per second, open-loop, until ``stop`` is set.
    Appends ``sent recv status version`` lines to ``out`` (flushed every 0.2 s); ``out + '.json'`` gets a
    summary at the end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us
    try:
        import uvloop

        summary = uvloop.run(_load(port, rate, Path(out), stop, ready))
    except ImportError:
        summary = asyncio.run(_load(port, rate, Path(out), stop, ready))
    Path(f"{out}.json").write_text(json.dumps(summary))


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[int, str, bool]:
    """One request on an open connection: (status, edgeplane-version, connection reusable)."""
    writer.write(REQUEST)
    await writer.drain()
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    else:
        await reader.read()
        return status, headers.get("edgeplane-version", "-"), False
    return status, headers.get("edgeplane-version", "-"), headers.get("connection", "").lower() != "close"


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _request(port: int, conn: Conn | None) -> tuple[Conn | None, int, str]:
    """One GET on ``conn`` (or a new connection): (the connection if still usable, status, version); status 0
    on a connection error or after 10 s."""
    for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: reconnect once
        reused = conn is not None
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port)
            status, version, keep = await asyncio.wait_for(_exchange(*conn), 10.0)
        except IO_ERRORS:
            if conn is not None:
                conn[1].close()
            conn = None
            if not reused or attempt == 2:
                return None, 0, "-"
            continue
        if not keep:
            conn[1].close()
            conn = None
        return conn, status, version
    return None, 0, "-"


async def _load(port: int, rate: float, out: Path, stop: Any, ready: Any) -> dict[str, float]:
    queue: asyncio.Queue[float | None] = asyncio.Queue()
    pending: list[str] = []
    lags: list[float] = []

    async def connection() -> None:
        conn: Conn | None = None
        while (due := await queue.get()) is not None:
            sent = time.time()
            lags.append(time.monotonic() - due)
            conn, status, version = await _request(port, conn)
            pending.append(f"{sent:.6f} {time.time():.6f} {status} {version}\n")
        if conn is not None:
            conn[1].close()

    async def flusher(f: Any) -> None:
        while True:
            await asyncio.sleep(0.2)
            if pending:
                f.write("".join(pending))
                pending.clear()
                f.flush()

    with out.open("w") as f:
        flush = asyncio.create_task(flusher(f))
        workers = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
        ready.set()
        start, scheduled = time.monotonic(), 0
        while not (scheduled % 20 == 0 and stop.is_set()):
            due = start + scheduled / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(due)
            scheduled += 1
        elapsed = time.monotonic() - start
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.wait(workers, timeout=15)
        flush.cancel()
        f.write("".join(pending))
    lags.sort()
    return {
        "scheduled": scheduled, "sent": len(lags), "seconds": elapsed, "rate": len(lags) / elapsed,
        "cpu_pct": time.process_time() / elapsed * 100,
        "lag_p50_ms": lags[len(lags) // 2] * 1000 if lags else 0.0,
        "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000 if lags else 0.0,
        "lag_max_ms": lags[-1] * 1000 if lags else 0.0,
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Req:
    sent: float
    recv: float
    status: int
    version: str


class Records:
    """The load process's log, read incrementally (complete lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.rows: list[Req] = []

    def refresh(self) -> list[Req]:
        if self.path.exists():
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.offset += end
            for line in data[:end].decode().splitlines():
                sent, recv, status, version = line.split(" ")
                self.rows.append(Req(float(sent), float(recv), int(status), version))
        return self.rows

    def window(self, start: float, end: float) -> list[Req]:
        return [r for r in self.refresh() if start <= r.sent <= end]


# -- the platform -----------------------------------------------------------------------------------------
def epoch(at: str) -> float:
    """An event's ``at`` (ISO 8601, UTC; naive values are UTC too) as a time.time() value."""
    moment = datetime.fromisoformat(at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class Platform:
    """One running platform with the flaky app, driven through the admin API."""

    def __init__(self, tmp: Path) -> None:
        from tests.integration.harness import RunningPlatform

        self.tmp = tmp
        self.p = RunningPlatform(tmp)
        self.uploads = 0

    def start(self) -> Platform:
        self.p.start()
        return self

    def stop(self) -> None:
        if self.p.proc is not None:
            self.p.stop()

    def upload(self, label: str, stage: float, **settings: object) -> str:
        """A copy of the flaky app (pool_size 2, ``settings`` as its vars, our [deploy] table) uploaded; its id."""
        from tests.integration.harness import make_app

        from edgeplane.runtime.bundles import pack_directory

        self.uploads += 1
        project = make_app(self.tmp / "apps", f"{label}-{self.uploads}", source="flaky")
        config = project / "edgeplane.toml"
        text = config.read_text().replace('LABEL = "one"', f'LABEL = "{label}-{self.uploads}"')
        text = re.sub(r"^pool_size = .*$", "pool_size = 2", text, flags=re.M)
        for key, value in settings.items():
            text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
        config.write_text(text[: text.index("[deploy]")] + DEPLOY.format(stage=stage))
        r = self.p.admin.post(
            f"/v1/apps/{APP}/versions", content=pack_directory(project), headers={"content-type": "application/gzip"}
        )
        _check(r, "upload")
        return str(r.json()["id"])

    def deploy(self, version: str) -> None:
        r = self.p.admin.post(f"/v1/apps/{APP}/deployments", json={"env": ENV, "splits": [{"version": version}]})
        _check(r, "deploy")

    def rollout(self, version: str) -> str:
        r = self.p.admin.post(f"/v1/apps/{APP}/rollouts", json={"version": version, "env": ENV})
        _check(r, "start rollout")
        return str(r.json()["id"])

    def status(self, rollout: str) -> dict[str, Any]:
        r = self.p.admin.get(f"/v1/apps/{APP}/rollouts/{rollout}")
        _check(r, "rollout status")
        data: dict[str, Any] = r.json()
        return data

    def events(self, rollout: str) -> list[dict[str, Any]]:
        r = self.p.admin.get(f"/v1/apps/{APP}/rollouts/{rollout}/events")
        _check(r, "rollout events")
        events: list[dict[str, Any]] = r.json()["events"]
        return events

    def abort(self, rollout: str) -> None:
        self.p.admin.post(f"/v1/apps/{APP}/rollouts/{rollout}/abort")

    def wait(self, rollout: str, timeout: float) -> dict[str, Any]:
        """Poll every 0.25 s (the timings come from the events, not from this poll) until the rollout is over."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(rollout)
            if status["state"] not in ACTIVE or time.monotonic() > deadline:
                return status
            time.sleep(0.25)


def _check(r: httpx.Response, what: str) -> None:
    if r.status_code >= 300:
        sys.exit(f"{what} failed: {r.status_code} {r.text[:2000]}")


# -- one rollout --------------------------------------------------------------------------------------------
@dataclass
class Run:
    scenario: str
    state: str
    seconds: float
    """Rollout created -> over (as seen by the 0.25 s status poll)."""
    reason: str = ""
    judges: list[str] = field(default_factory=list)
    """Judges that failed (from the fail verdict events)."""
    detect_s: float | None = None
    rollback_s: float | None = None
    last_sent_after_verdict_s: float | None = None
    server_rollback_ms: float | None = None
    verdict_after_start_s: float | None = None
    bad_requests: int = 0
    requests: int = 0
    new_5xx: int = 0
    stable_p95_ms: float | None = None
    client_errors: int = 0


def q95(values: list[float]) -> float | None:
    if len(values) < 20:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.95))]


def measure(scenario: str, version: str, status: dict[str, Any], events: list[dict[str, Any]], reqs: list[Req]) -> Run:
    created = epoch(status["created_at"])
    finished = epoch(status["finished_at"]) if status.get("finished_at") else time.time()
    run = Run(scenario, status["state"], finished - created, (status.get("reason") or "")[:300])
    fails = [e for e in events if e["kind"] == "verdict" and e["details"].get("verdict") == "fail"]
    run.judges = sorted({e["details"]["judge"] for e in fails})
    rolled = next((e for e in events if e["kind"] == "rolled_back"), None)
    verdict = epoch(fails[0]["at"]) if fails else None
    if rolled is not None:
        run.server_rollback_ms = rolled["details"].get("rollback_ms")
        if verdict is None:  # no fail verdict event: the swap's own time less its duration
            verdict = epoch(rolled["at"]) - (run.server_rollback_ms or 0) / 1000
    new = [r for r in reqs if r.version == version]
    run.requests, run.client_errors = len(reqs), sum(r.status == 0 for r in reqs)
    run.bad_requests = sum(r.sent <= finished for r in new)  # not the 100 % after a (missed) promotion
    run.new_5xx = sum(r.status >= 500 for r in new if r.sent <= finished)
    # Stable's p95 over the judged part only: from the new version's first response to the verdict (or the
    # end), not while the new version's processes were starting (that slows stable too on 2 cores).
    since = min((r.recv for r in new), default=created)
    until = verdict if verdict is not None else finished
    stable = [r for r in reqs if r.version not in (version, "-") and r.status == 200 and since <= r.sent <= until]
    p95 = q95([r.recv - r.sent for r in stable])
    run.stable_p95_ms = None if p95 is None else p95 * 1000
    if scenario == "latency":
        bad = [r for r in new if p95 is not None and r.recv - r.sent > p95]
    else:
        bad = [r for r in new if r.status >= 500]
    if verdict is not None:
        run.verdict_after_start_s = verdict - created
        if bad:
            run.detect_s = verdict - min(r.recv for r in bad)
        if new:
            run.rollback_s = max(0.0, max(r.recv for r in new) - verdict)
            run.last_sent_after_verdict_s = max(r.sent for r in new) - verdict
    return run


def one_rollout(
    platform: Platform, records: Records, stable: str, scenario: str, stage: float, settings: dict[str, object]
) -> Run:
    version = platform.upload(scenario, stage, **settings)
    t0 = time.time()
    rollout = platform.rollout(version)
    status = platform.wait(rollout, stage + 60)
    if status["state"] in ACTIVE or status["state"] == "paused":
        platform.abort(rollout)  # timed out or paused for a human: back to stable
        status = {**platform.status(rollout), "state": status["state"]}
    time.sleep(1.5)  # the last requests the new version took are answered and logged
    run = measure(scenario, version, status, platform.events(rollout), records.window(t0, time.time()))
    if run.state == "succeeded":
        platform.deploy(stable)  # keep comparing against the same stable v1
    time.sleep(2.0)  # settle: the new version's processes stop, stable serves everything again
    return run


def describe(run: Run) -> str:
    if run.scenario == "healthy":
        extra = f", failed judges: {', '.join(run.judges)}; {run.reason}" if run.state != "succeeded" else ""
        return f"{run.state} after {run.seconds:.1f} s, {run.bad_requests} canary requests{extra}"
    if run.detect_s is None:
        return f"{run.state}: NOT DETECTED after {run.seconds:.1f} s ({run.bad_requests} requests on it)"
    return (
        f"{run.state} ({'+'.join(run.judges)}): detected {run.detect_s:.2f} s after the first bad response, "
        f"verdict {run.verdict_after_start_s:.1f} s after start, client rollback {run.rollback_s:.3f} s, "
        f"swap {run.server_rollback_ms} ms, {run.bad_requests} requests on the new version"
    )


# -- report -------------------------------------------------------------------------------------------------
def _num(values: list[Any], fn: Any) -> float | None:
    present = [v for v in values if v is not None]
    return float(fn(present)) if present else None


def _fmt(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _bad_row(mine: list[Run]) -> dict[str, Any]:
    detect = [r.detect_s for r in mine]
    back = [r.rollback_s for r in mine]
    missed = sum(r.detect_s is None for r in mine)
    row = {
        "runs": len(mine), "missed": missed,
        "detect_median_s": _num(detect, statistics.median), "detect_max_s": _num(detect, max),
        "rollback_median_s": _num(back, statistics.median), "rollback_max_s": _num(back, max),
        "server_rollback_ms_median": _num([r.server_rollback_ms for r in mine], statistics.median),
        "bad_requests_median": _num([r.bad_requests for r in mine], statistics.median),
        "verdict_after_start_median_s": _num([r.verdict_after_start_s for r in mine], statistics.median),
    }  # fmt: skip
    row["detect_ok"] = missed == 0 and (row["detect_max_s"] or 0.0) <= TARGET_DETECT_S
    row["rollback_ok"] = missed == 0 and (row["rollback_max_s"] or 0.0) <= TARGET_ROLLBACK_S
    return row


def report(runs: list[Run], args: argparse.Namespace, load: dict[str, Any]) -> dict[str, Any]:
    print(f"\n{'scenario':<10}{'runs':>5}{'detect s med/max':>18}{'rollback s med/max':>20}{'server ms':>11}"
          f"{'bad reqs':>10}{'false rb':>10}")  # fmt: skip
    summary: dict[str, Any] = {}
    for scenario in ("errors", "latency"):
        mine = [r for r in runs if r.scenario == scenario]
        if not mine:
            continue
        s = summary[scenario] = _bad_row(mine)
        detect = f"{_fmt(s['detect_median_s'], '.2f')} / {_fmt(s['detect_max_s'], '.2f')}"
        back = f"{_fmt(s['rollback_median_s'], '.3f')} / {_fmt(s['rollback_max_s'], '.3f')}"
        missed = f"{s['missed']} missed" if s["missed"] else "-"
        print(
            f"{scenario:<10}{len(mine):>5}{detect:>18}{back:>20}{_fmt(s['server_rollback_ms_median'], '.1f'):>11}"
            f"{_fmt(s['bad_requests_median'], '.0f'):>10}{missed:>10}"
        )
    healthy = [r for r in runs if r.scenario == "healthy"]
    false = sum(r.state != "succeeded" for r in healthy)
    if healthy:
        canary = _num([r.bad_requests for r in healthy], statistics.median)
        summary["healthy"] = {"runs": len(healthy), "false_rollbacks": false, "canary_requests_median": canary}
        print(f"{'healthy':<10}{len(healthy):>5}{'-':>18}{'-':>20}{'-':>11}{_fmt(canary, '.0f'):>10}"
              f"{f'{false}/{len(healthy)}':>10}")  # fmt: skip
    print(
        f"load: {load.get('rate', 0):.1f} req/s achieved of {args.rate:g} (open-loop; send lag p99 "
        f"{load.get('lag_p99_ms', 0):.1f} ms, max {load.get('lag_max_ms', 0):.0f} ms; load process "
        f"{load.get('cpu_pct', 0):.0f} % of a core); stable ERROR_RATE "
        f"{args.stable_error_rate:g}; canary 5 % for {args.stage:g} s (healthy: {args.healthy_stage:g} s)"
    )
    print("\npeer reference (documented defaults, not measured here):")
    print("  Flagger        analysis interval 1m, threshold 5 failed checks; rollback ≈ 60 s at best")
    print("                 (interval 1m, threshold 1)")
    print("  Argo Rollouts  AnalysisRun interval x count: 5-20 min typical before an abort")
    print("\ntargets:")
    bad = [summary[s] for s in ("errors", "latency") if s in summary]
    detect_max = _num([s["detect_max_s"] for s in bad], max)
    back_max = _num([s["rollback_max_s"] for s in bad], max)
    for label, value, ok in (
        ("detection ≤ 10 s", detect_max, bool(bad) and all(s["detect_ok"] for s in bad)),
        ("rollback ≤ 1 s", back_max, bool(bad) and all(s["rollback_ok"] for s in bad)),
    ):
        missed = sum(s["missed"] for s in bad)
        shown = "not measured" if value is None else f"worst {value:.3g} s" + (f", {missed} missed" if missed else "")
        print(f"  {label:<42}{shown:<24}{'met' if ok else 'NOT met'}")
    need = 20
    ok = bool(healthy) and false == 0 and len(healthy) >= need
    note = "" if len(healthy) >= need else f" ({len(healthy)} runs: too few to claim it)"
    print(f"  {f'0 false rollbacks in {need} healthy runs':<42}{f'{false}/{len(healthy)}':<24}"
          f"{'met' if ok else 'NOT met'}{note}")  # fmt: skip
    return summary


# -- main ---------------------------------------------------------------------------------------------------
def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, open-loop (default 200)")
    parser.add_argument("--runs", type=int, default=5, help="rollouts of each bad version (default 5)")
    parser.add_argument("--healthy-runs", type=int, default=20, help="healthy rollouts (default 20)")
    parser.add_argument("--stable-error-rate", type=float, default=0.005, help="v1's ERROR_RATE (default 0.005)")
    parser.add_argument("--stage", type=float, default=60.0, help="canary 5 %% stage of the bad versions, s (60)")
    parser.add_argument("--healthy-stage", type=float, default=20.0, help="canary 5 %% stage when healthy, s (20)")
    parser.add_argument("--quick", action="store_true", help="smoke: rate 100, 1 run each, 2 healthy (15 s)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (platform log, request log)")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.runs, args.healthy_runs, args.healthy_stage = 100.0, 1, 2, 15.0
    if args.rate <= 0 or min(args.runs, args.healthy_runs) < 0 or min(args.stage, args.healthy_stage) <= 0:
        parser.error("--rate and the stages must be positive, the run counts not negative")
    if not 0 <= args.stable_error_rate <= 0.9:
        parser.error("--stable-error-rate must be within [0, 0.9]")
    if args.rate * 0.05 * args.healthy_stage < 50:
        print("warning: the healthy stage sees fewer than 50 canary requests (min_requests): it cannot pass",
              file=sys.stderr)  # fmt: skip
    return args


def scenarios(args: argparse.Namespace) -> list[tuple[str, float, dict[str, object]]]:
    base = args.stable_error_rate
    errors = ("errors", args.stage, {"ERROR_RATE": round(base + 0.05, 6)})
    latency = ("latency", args.stage, {"ERROR_RATE": base, "DELAY_MS": 200})
    plan = [errors, latency] * args.runs  # interleaved, so drift over the run hits both alike
    return plan + [("healthy", args.healthy_stage, {"ERROR_RATE": base})] * args.healthy_runs


def main() -> None:
    args = parse()
    sys.path.insert(0, str(ROOT))  # tests.integration.harness: the same platform fixture the tests use
    if (loadavg := os.getloadavg()[0]) > 0.5:
        print(f"warning: load average {loadavg:.2f} before start; other work skews the numbers", file=sys.stderr)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="edgeplane-bench-delivery-"))
    (tmp / "apps").mkdir()
    platform = Platform(tmp)
    ctx = mp.get_context("spawn")
    stop, ready = ctx.Event(), ctx.Event()
    log = tmp / "load.log"
    loader = None
    runs: list[Run] = []
    began = time.monotonic()
    try:
        platform.start()
        stable = platform.upload("stable", args.stage, ERROR_RATE=args.stable_error_rate)
        platform.deploy(stable)
        loader = ctx.Process(target=load_main, args=(platform.p.port, args.rate, str(log), stop, ready), daemon=True)
        loader.start()
        ready.wait(30)
        time.sleep(3.0 if args.quick else 5.0)  # warm-up: stable's processes and the client's connections
        records = Records(log)
        plan = scenarios(args)
        for i, (scenario, stage, settings) in enumerate(plan, 1):
            run = one_rollout(platform, records, stable, scenario, stage, settings)
            runs.append(run)
            elapsed = time.monotonic() - began
            print(f"[{elapsed:6.0f} s] {i}/{len(plan)} {scenario:<8} {describe(run)}", flush=True)
    finally:
        stop.set()
        if loader is not None:
            loader.join(20)
            if loader.is_alive():
                loader.terminate()
        platform.stop()
    summary_path = Path(f"{log}.json")
    load = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary = report(runs, args, load)
    if args.keep:
        print(f"\nplatform log and request log kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nwall time {time.monotonic() - began:.0f} s")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"delivery-{time.strftime('%Y%m%d-%H%M%S')}.json"
    data = {"args": vars(args), "loadavg_at_start": loadavg, "load": load, "summary": summary}
    path.write_text(json.dumps({**data, "runs": [asdict(r) for r in runs]}, indent=2))
    print(f"results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; the platform and the load process were stopped")
