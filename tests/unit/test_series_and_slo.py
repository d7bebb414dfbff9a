"""The metric recorder (deltas per step, windows, restart, compaction), rule expressions and SLO burn math,
on a real SQLite control store."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeplane.config.observe import ObserveSettings, RuleConfig, SLOConfig
from edgeplane.control.store import Store
from edgeplane.gateway.counters import bucket_of
from edgeplane.gateway.stages.observe import GatewayStats
from edgeplane.observe.rules import RuleError, compile_rule
from edgeplane.observe.series import COMPACT_STEP, Recorder, Window, request_key
from edgeplane.observe.slo import SLOTarget


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def serve(stats: GatewayStats, n: int, *, errors: int = 0, ms: float = 10.0, version: str = "v1") -> None:
    """Count ``n`` requests the way the gateway's observe stage does."""
    c = stats.of("app", "production", version)
    for i in range(n):
        c.requests += 1
        status = 500 if i < errors else 200
        c.classes[status // 100] += 1
        c.errors += status >= 500
        c.hist[bucket_of(ms)] += 1
        c.latency_sum += ms


async def recorder(tmp_path: Path, clock: Clock, stats: GatewayStats, **settings: object) -> Recorder:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    await store.init()
    rec = Recorder(store, stats, ObserveSettings.model_validate({"resolution": 10, **settings}), clock)
    await rec._load()
    return rec


async def test_points_are_step_deltas_and_windows_sum_them(tmp_path: Path) -> None:
    clock, stats = Clock(1_000_000.0), GatewayStats()
    rec = await recorder(tmp_path, clock, stats)
    key = request_key("app", "production", "v1")
    serve(stats, 100, errors=5)
    clock.t += 10
    assert await rec.record() == 1
    serve(stats, 50, errors=0, ms=300)
    clock.t += 10
    await rec.record()
    clock.t += 10
    assert await rec.record() == 0, "a step without requests writes no point"
    last_10s = rec.window(key, 15)  # the newest point is 10 s old: only it falls in (now-15, now]
    assert (last_10s.requests, last_10s.errors) == (50, 0)
    both = rec.window(key, 30)
    assert (both.requests, both.errors) == (150, 5)
    assert both.error_rate == pytest.approx(5 / 150)
    assert both.slower_than(200) == 50
    assert both.quantile_ms(0.5) == pytest.approx(10, rel=0.1)
    assert both.quantile_ms(0.9) == pytest.approx(300, rel=0.1)
    assert both.latency_sum == pytest.approx(100 * 10 + 50 * 300)
    await rec.store.close()

    # a restarted platform reads the recent points back into memory; the database answers long windows
    restarted = await recorder(tmp_path, clock, GatewayStats())
    again = restarted.window(key, 30)
    assert (again.requests, again.errors, again.slower_than(200)) == (150, 5, 50)
    from_db = await restarted.window_db([request_key("app", "production", "")], clock.t - 30, clock.t)
    assert from_db[key].requests == 150
    await restarted.store.close()


async def test_compaction_merges_old_points_and_retention_deletes_them(tmp_path: Path) -> None:
    clock, stats = Clock(COMPACT_STEP * 10_000), GatewayStats()
    rec = await recorder(tmp_path, clock, stats, memory=60, retention=3 * 3600)
    key = request_key("app", "production", "v1")
    start = clock.t
    for _ in range(60):  # points at +10 s ... +600 s: 29, 30 and 1 of them in three 5-minute steps
        serve(stats, 10, errors=1)
        clock.t += 10
        await rec.record()
    clock.t += 3600  # all of them are now older than `memory`
    merged, deleted = await rec.compact()
    assert (merged, deleted) == (28 + 29, 0)
    totals = await rec.window_db([""], start - 1, clock.t)
    assert (totals[key].requests, totals[key].errors) == (600, 60), "compaction keeps every count"
    clock.t += 3 * 3600
    assert (await rec.compact())[1] == 3, "points older than retention are deleted"
    await rec.store.close()


def test_rule_expressions_compile_or_say_where_they_are_wrong() -> None:
    rule = compile_rule(RuleConfig(name="r", expr='error_rate{env="production", version=~"v.*"}[5m] > 5%'))
    assert (rule.window, rule.op, rule.threshold) == (300, ">", 0.05)
    assert rule.group_labels() == ("app", "env", "version")
    assert rule.selects({"app": "a", "env": "production", "version": "v2"})
    assert not rule.selects({"app": "a", "env": "staging", "version": "v2"})
    assert compile_rule(RuleConfig(name="r", expr="latency_p95_ms[1m] >= 250")).group_labels() == ("app", "env")
    cases = {
        "eror_rate[5m] > 1": "did you mean 'error_rate'",
        'error_rate{path="/x"}[5m] > 1': "no label 'path' (column 12)",
        "error_rate[5x] > 1": "bad window [5x] at column 11",
        "error_rate[5m] >": "expected a comparison like '> 0.05' at column 16",
        "error_rate > 1": "needs a window",
        "slo_budget_remaining[1h] < 0": "takes no window",
        'error_rate{env=~"("}[5m] > 1': "bad regular expression",
        "error_rate[5m] > 1 $": "unexpected text at column 20",
    }
    for expr, expected in cases.items():
        with pytest.raises(RuleError, match=expected.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            compile_rule(RuleConfig(name="r", expr=expr))
    with pytest.raises(RuleError, match="comparison"):
        compile_rule(RuleConfig(name="q", query="SELECT 1", condition="above 3"))


def test_burn_rates_and_scaled_windows() -> None:
    slo = SLOConfig(name="availability", kind="availability", target=99.9, window="30d")
    target = SLOTarget("app", "production", slo)
    w = Window(3600, requests=10_000, errors=144)  # 1.44% errors = 14.4x a 0.1% budget
    assert target.burn(w) == pytest.approx(14.4)
    assert target.burn(Window(60)) is None
    assert target.scaled(3600, 10) == 3600, "a 30 d SLO uses the workbook's windows"
    week = SLOTarget("app", "production", SLOConfig(name="a", kind="availability", target=99.9, window="7d"))
    assert week.scaled(3600, 10) == pytest.approx(3600 * 7 / 30)
    assert week.scaled(300, 60) == 120, "never shorter than two recording steps"
    latency = SLOTarget("a", "p", SLOConfig(name="fast", kind="latency", target=95, threshold_ms=200))
    slow = Window(60)
    slow.hist[bucket_of(500)] = 10
    slow.hist[bucket_of(50)] = 90
    slow.requests = 100
    assert latency.burn(slow) == pytest.approx((10 / 100) / 0.05)
    errors = SLOConfig(name="e", kind="error_rate", target=0.5)
    assert errors.objective == pytest.approx(0.995)


async def test_long_windows_join_database_and_memory_and_reuse_the_database_part(tmp_path: Path) -> None:
    clock, stats = Clock(COMPACT_STEP * 10_000), GatewayStats()
    rec = await recorder(tmp_path, clock, stats, memory=60)
    key = request_key("app", "production", "v1")
    for _ in range(120):  # 20 minutes of points, most of them older than `memory`
        serve(stats, 10, errors=1)
        clock.t += 10
        await rec.record()
    first = await rec.long_windows(3600)
    assert (first[key].requests, first[key].errors) == (1200, 120)
    assert first[key].requests == (await rec.window_db([""], clock.t - 3600, clock.t))[key].requests
    serve(stats, 7)
    clock.t += 10
    await rec.record()
    async with rec.store._tx() as conn:  # the database part is not read again until the boundary moves
        from sqlalchemy import delete

        from edgeplane.control.schema import metric_points

        await conn.execute(delete(metric_points))
    second = await rec.long_windows(3600)
    assert second[key].requests == 1207, "new points come from memory; old ones from the kept database part"
    clock.t += COMPACT_STEP
    assert (await rec.long_windows(3600))[key].requests < 1207, "the boundary moved: the database is read again"
    await rec.store.close()
