"""Part 2 of bench/observe.py: alert rule evaluation over one recorded hour, in-process.

    .venv/bin/python bench/observe_rules.py [--cycles 20]     # this part alone

A ControlPlane on a temp SQLite serves 4 upstream apps (v1 and v2 each, with two 30-day SLOs; production splits
like canaries in progress, staging on v2). The last hour is recorded at 10 s resolution through a Recorder of
its own, as the platform's would have: 1,000 req/s over 10 versions (counts, 4xx/5xx, latency histograms) plus 4
probe series. A second ControlPlane started on the same state then loads the hour (as after a restart) with an
alerting file of 100 rules, and ``Alerts.cycle()`` is timed (evaluate every rule and the SLOs' burn-rate alerts,
step instances, act, persist), as is ``Evaluation.rule`` over the 100 rules alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from edgeplane.config.observe import ObserveSettings
from edgeplane.config.server import ServerConfig
from edgeplane.control.service import ControlPlane
from edgeplane.delivery.splits import Split
from edgeplane.gateway.app import Gateway
from edgeplane.gateway.counters import BUCKETS, bucket_of, upper_edge
from edgeplane.gateway.stages.observe import GatewayStats
from edgeplane.observe.evaluate import Evaluation
from edgeplane.observe.rules import CompiledRule, compile_rule
from edgeplane.observe.series import Recorder
from edgeplane.runtime.bundles import pack_directory

__all__ = ["APP_ENVS", "pct", "rules_bench", "toml_rules"]

APP_ENVS = """name = "{name}"
upstream = "http://127.0.0.1:{upstream}"
[env.production]
routes = ["{name}.bench/*"]
[env.staging]
routes = ["{name}.staging.bench/*"]
"""


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- rules ----------------------------------------------------------------------------------------------------
def toml_rules(exprs: list[str]) -> str:
    """An alerting file with one rule per expression (every third one with a ``for``)."""
    out = []
    for i, expr in enumerate(exprs):
        out.append(f'[[rules]]\nname = "rule-{i:03d}"\nexpr = {json.dumps(expr)}\nseverity = "warning"\n')
        if i % 3 == 0:
            out.append('for = "1m"\n')
    return "\n".join(out)


def hundred_rules() -> list[str]:
    """100 expressions: 84 over the request metrics (10 metrics x 5 selectors x 5 windows 1m..1h, every third
    combination), 8 over probes, 8 over SLOs. The filled data breaches some (the shop canary's errors, the api
    canary's latency), so instances go pending and firing as they would."""
    conditions = [("error_rate", "> 0.02"), ("latency_p95_ms", "> 200"), ("latency_p99_ms", "> 1000"),
                  ("request_rate", "< 1"), ("client_error_rate", "> 0.1"), ("latency_avg_ms", "> 150"),
                  ("latency_p50_ms", "> 100"), ("latency_p90_ms", "> 400"), ("errors", "> 5000"),
                  ("requests", "< 10")]  # fmt: skip
    selectors = ["", '{env="production"}', '{app="shop"}', '{env="production", version=~".+"}',
                 '{app=~"shop|api", env!="staging"}']  # fmt: skip
    combos = [(m, c, s, w) for m, c in conditions for s in selectors for w in ("1m", "5m", "15m", "30m", "1h")]
    exprs = [f"{m}{s}[{w}] {c}" for m, c, s, w in combos[::3][:84]]
    exprs += [f'probe_success_rate{{probe="{p}"}}[{w}] < 0.9' for p in ("home", "api") for w in ("5m", "1h")]
    exprs += [f'probe_latency_p95_ms{{colo="{c}"}}[5m] > 500' for c in ("ams", "fra")]
    exprs += ["probe_failures[15m] > 3", "probe_checks[5m] < 1"]
    exprs += [f'slo_burn_rate{{slo="{s}"}}[{w}] > {f}' for s in ("availability", "latency")
              for w, f in (("5m", 14.4), ("1h", 14.4), ("30m", 6))]  # fmt: skip
    exprs += ['slo_budget_remaining{env="production"} < 0.5', 'slo_budget_remaining{app="shop"} < 0']
    assert len(exprs) == 100, len(exprs)
    return exprs


# -- the platform and its recorded hour -----------------------------------------------------------------------
SLOS = """
[[slos]]
name = "availability"
kind = "availability"
target = 99.9
window = "30d"

[[slos]]
name = "latency"
kind = "latency"
target = 95
threshold_ms = 200
window = "30d"
"""
# (app, env, version number, req/s, 5xx share, median latency ms): 1,000 req/s in all
TRAFFIC = [
    ("shop", "production", 1, 450, 0.002, 25), ("shop", "production", 2, 50, 0.03, 30),
    ("api", "production", 1, 240, 0.001, 15), ("api", "production", 2, 60, 0.001, 90),
    ("auth", "production", 1, 75, 0.0005, 8), ("auth", "production", 2, 75, 0.0005, 8),
    ("img", "production", 1, 40, 0.004, 60), ("shop", "staging", 2, 4, 0.01, 30),
    ("api", "staging", 2, 3, 0.0, 20), ("auth", "staging", 2, 3, 0.0, 10),
]  # fmt: skip
SPLITS = {("shop", "production"): {1: 90, 2: 10}, ("api", "production"): {1: 80, 2: 20},
          ("auth", "production"): {1: 50, 2: 50}, ("img", "production"): {1: 100}}  # fmt: skip
PROBES = [("home", "ams"), ("home", "fra"), ("api", "ams"), ("api", "fra")]


async def tiny_upstream() -> asyncio.Server:
    """What the apps' ``upstream`` points at: deploys probe it once."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def setup_apps(control: ControlPlane, root: Path, upstream: int) -> dict[tuple[str, int], str]:
    """Upload v1 and v2 of each app (with SLOs) and deploy the splits of SPLITS (staging: v2)."""
    ids: dict[tuple[str, int], str] = {}
    for app in ("shop", "api", "auth", "img"):
        for number in (1, 2):
            toml = APP_ENVS.format(name=app, upstream=upstream) + f'[vars]\nRELEASE = "{number}"\n' + SLOS
            (root / app).mkdir(parents=True, exist_ok=True)
            (root / app / "edgeplane.toml").write_text(toml)
            v = await control.upload(app, pack_directory(root / app), message="", tag=None, actor="bench")
            ids[(app, number)] = v["id"]
        splits = SPLITS.get((app, "production"), {})
        await control.deploy(app, "production", [Split(ids[(app, n)], p) for n, p in splits.items()],
                             message="", actor="bench")  # fmt: skip
        if app != "img":
            await control.deploy(app, "staging", [Split(ids[(app, 2)], 100)], message="", actor="bench")
    return ids


def latency_shape(median_ms: float, rng: random.Random) -> list[tuple[int, float]]:
    """(bucket, share) of a lognormal latency distribution around ``median_ms``."""
    counts = [0] * BUCKETS
    for _ in range(20_000):
        counts[bucket_of(rng.lognormvariate(0, 0.6) * median_ms)] += 1
    return [(b, n / 20_000) for b, n in enumerate(counts) if n]


async def fill_hour(control: ControlPlane, ids: dict[tuple[str, int], str], seconds: float) -> int:
    """Record the last ``seconds`` at 10 s resolution through a Recorder of its own (the points the platform's
    recorder would have written), driven by a fake clock; returns the points written."""
    rng = random.Random(1)
    stats = GatewayStats()
    end = time.time() // 10 * 10
    clock = [end - seconds]
    rec = Recorder(control.store, stats, ObserveSettings(), lambda: clock[0])
    shapes = [latency_shape(ms, rng) for *_, ms in TRAFFIC]
    while clock[0] < end:
        clock[0] += 10
        for (app, env, number, rate, err, _), shape in zip(TRAFFIC, shapes, strict=True):
            c = stats.of(app, env, ids[(app, number)])
            n = int(rate * 10 * rng.uniform(0.9, 1.1))
            errors = int(n * err + rng.random())
            c4xx = int(n * 0.02 + rng.random())
            c.requests += n
            c.errors += errors
            c.classes[5] += errors
            c.classes[4] += c4xx
            c.classes[2] += n - errors - c4xx
            for bucket, share in shape:
                k = int(n * share + rng.random())
                c.hist[bucket] += k
                c.latency_sum += k * upper_edge(bucket) / 1.05
        for name, colo in PROBES:
            rec.add_probe(name, colo, rng.random() > 0.01, rng.lognormvariate(3.5, 0.3))
        await rec.record()
    return rec.points_written


async def rules_bench(tmp: Path, cycles: int) -> dict[str, Any]:
    server = await tiny_upstream()
    upstream = server.sockets[0].getsockname()[1]
    (tmp / "alerts.toml").write_text(toml_rules(hundred_rules()))
    observe = ObserveSettings(alerts_file=tmp / "alerts.toml", evaluation_interval=3600)
    config = ServerConfig(data_dir=tmp / "data", colo="ams", observe=observe)
    try:
        first = ControlPlane(config, Gateway(config))
        await first.start()
        try:
            ids = await setup_apps(first, tmp / "apps", upstream)
            points = await fill_hour(first, ids, 3600)
        finally:
            await first.close()
        # a platform started now finds the hour in its state store and loads it, as after a restart
        control = ControlPlane(config, Gateway(config))
        await control.start()
        try:
            return await time_cycles(control, cycles, points)
        finally:
            await control.close()
    finally:
        server.close()
        await server.wait_closed()


async def evaluate_ms(hub: Any, alerts: Any, rules: list[CompiledRule]) -> tuple[float, int]:
    """One fresh Evaluation (its read cache empty, as in a cycle) of ``rules``: (ms, instances)."""
    started = time.perf_counter()
    ev = Evaluation(hub, alerts.slos, time.time())
    samples = sum([len(await ev.rule(rule)) for rule in rules])
    return (time.perf_counter() - started) * 1000, samples


async def time_cycles(control: ControlPlane, cycles: int, points: int) -> dict[str, Any]:
    hub, alerts = control.observe, control.observe.alerts
    compiled = [compile_rule(r) for r in hub.alerting.rules]
    assert len(compiled) == 100, len(compiled)
    slo = [r for r in compiled if r.metric is not None and r.metric.source == "slo"]
    recorded = [r for r in compiled if r not in slo]
    first = await alerts.cycle()  # cold: SLO configs and version lookups are cached from here on
    timings: dict[str, list[float]] = {"cycle": [], "eval": [], "eval_recorded": [], "eval_slo": []}
    samples = 0
    for _ in range(cycles):
        started = time.perf_counter()
        result = await alerts.cycle()
        timings["cycle"].append((time.perf_counter() - started) * 1000)
        ms, samples = await evaluate_ms(hub, alerts, compiled)
        timings["eval"].append(ms)
        timings["eval_recorded"].append((await evaluate_ms(hub, alerts, recorded))[0])
        timings["eval_slo"].append((await evaluate_ms(hub, alerts, slo))[0])
    states: dict[str, int] = {}
    for inst in alerts.known.values():
        states[inst.state] = states.get(inst.state, 0) + 1
    out: dict[str, Any] = {
        "points": points, "series": len(hub.recorder.series()), "rules": result["rules"], "file_rules": len(compiled),
        "slo_file_rules": len(slo), "instances_per_eval": samples, "alert_states": states, "cycles": cycles,
        "first_cycle_ms": first["ms"],
    }  # fmt: skip
    for name, values in timings.items():
        out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = statistics.median(values), pct(values, 0.95)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=20, help="timed evaluation cycles (default 20)")
    args = parser.parse_args()
    logging.getLogger("edgeplane").setLevel(logging.ERROR)  # alerts fire on purpose
    tmp = Path(tempfile.mkdtemp(prefix="edgeplane-bench-rules-"))
    try:
        print(json.dumps(asyncio.run(rules_bench(tmp, max(args.cycles, 1))), indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
