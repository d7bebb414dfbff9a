"""The delivery judges: the sequential test's error guarantees, the practical-effect guards, burn rates,
plans and the [deploy] config's validation."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from edgeplane.config.deploy import AnalysisConfig, DeployConfig, parse_duration
from edgeplane.delivery.judges import Sample, StageAnalysis, StageLimits, combine, wilson_bounds
from edgeplane.delivery.plans import build_plan
from edgeplane.delivery.sequential import SequentialTest
from edgeplane.delivery.telemetry import EnvHistory, burn_finding
from edgeplane.gateway.counters import BUCKETS, VersionStats, bucket_of, quantile


def _simulate(rng: random.Random, base: float, canary: float, *, share: float, rps: int, seconds: float,
              alpha: float = 0.001, tick: float = 0.2) -> float | None:  # fmt: skip
    """Feed a test tick by tick; the time it rejected at, or None."""
    test = SequentialTest(alpha=alpha)
    per_tick = int(rps * tick)
    for i in range(int(seconds / tick)):
        n_c = sum(rng.random() < share for _ in range(per_tick))
        n_b = per_tick - n_c
        x_c = sum(rng.random() < canary for _ in range(n_c))
        x_b = sum(rng.random() < base for _ in range(n_b))
        test.update(x_c, n_c, x_b, n_b)
        if test.rejected:
            return (i + 1) * tick
    return None


def test_sequential_test_false_alarms_stay_below_alpha_however_often_it_is_checked() -> None:
    rng = random.Random(7)
    runs = 200
    alarms = sum(
        _simulate(rng, 0.02, 0.02, share=0.2, rps=100, seconds=60, alpha=0.02) is not None for _ in range(runs)
    )
    assert alarms <= runs * 0.02  # checked 300 times per run, yet within the bound (Ville's inequality)


def test_sequential_test_catches_five_points_more_errors_at_five_percent_traffic_in_seconds() -> None:
    rng = random.Random(11)
    times = [_simulate(rng, 0.0, 0.05, share=0.05, rps=200, seconds=60) for _ in range(20)]
    assert all(t is not None for t in times)
    found = sorted(t for t in times if t is not None)
    assert found[len(found) // 2] <= 10  # median detection at 10 canary requests a second


def test_sequential_test_state_survives_a_round_trip() -> None:
    test = SequentialTest()
    test.update(3, 20, 1, 200)
    copy = SequentialTest()
    copy.load_state(test.to_state())
    copy.update(2, 20, 0, 200)
    test.update(2, 20, 0, 200)
    assert copy.log_bf == pytest.approx(test.log_bf) and copy.rejected == test.rejected
    assert test.p_value == pytest.approx(min(1.0, 2.718281828**-test.max_log_bf), rel=1e-6)


def test_one_sided_tick_carries_no_evidence() -> None:
    test = SequentialTest()
    test.update(5, 10, 0, 0)
    test.update(0, 0, 5, 10)
    assert test.log_bf == 0 and not test.rejected


def _hist(latencies: list[float]) -> list[int]:
    hist = [0] * BUCKETS
    for ms in latencies:
        hist[bucket_of(ms)] += 1
    return hist


def _feed(analysis: StageAnalysis, rng: random.Random, base_ms: float, canary_ms: float, ticks: int) -> None:
    for _ in range(ticks):
        base = [rng.expovariate(1 / base_ms) + 5 for _ in range(40)]
        can = [rng.expovariate(1 / canary_ms) + 5 for _ in range(10)]
        analysis.add((10, 0, _hist(can)), (40, 0, _hist(base)))


def test_latency_regression_fails_with_evidence() -> None:
    analysis = StageAnalysis(AnalysisConfig(), StageLimits(min_requests=50))
    _feed(analysis, random.Random(1), 20, 220, 30)
    finding = analysis.latency_comparison(final=False)
    assert finding.verdict == "fail"
    assert finding.evidence["canary_ms"] > finding.evidence["baseline_ms"] + 100
    assert finding.evidence["probability_canary_slower"] > 0.8


def test_a_real_but_tiny_latency_difference_does_not_fail() -> None:
    """On lots of traffic the test sees a 3% slowdown; the practical guard (25 ms and 10%) keeps it a pass."""
    analysis = StageAnalysis(AnalysisConfig(), StageLimits(min_requests=50))
    _feed(analysis, random.Random(2), 100, 103, 400)
    finding = analysis.latency_comparison(final=True)
    assert finding.verdict == "pass", finding


def test_thresholds_need_strong_evidence_mid_stage_but_not_at_its_end() -> None:
    analysis = StageAnalysis(AnalysisConfig(), StageLimits(min_requests=10, max_error_rate=0.05))
    analysis.add((20, 2, _hist([10] * 20)), None)  # 10% errors on 20 requests: could be bad luck
    assert analysis.thresholds(final=False).verdict == "pass"
    assert analysis.thresholds(final=True).verdict == "fail"
    analysis.add((200, 60, _hist([10] * 200)), None)  # 28% on 220: clearly above 5%
    assert analysis.thresholds(final=False).verdict == "fail"


def test_too_few_requests_is_inconclusive_and_combine_rules() -> None:
    analysis = StageAnalysis(AnalysisConfig(), StageLimits(min_requests=100))
    analysis.add((5, 0, _hist([10] * 5)), (50, 0, _hist([10] * 50)))
    findings = analysis.findings(final=True)
    assert {f.verdict for f in findings} == {"inconclusive"}
    assert combine(findings) == "inconclusive"
    assert "only 5 of 100" in findings[0].reason


def test_sample_state_round_trip_and_quantiles() -> None:
    sample = Sample()
    sample.add(100, 3, _hist([float(i) for i in range(1, 101)]))
    again = Sample.from_state(sample.to_state())
    assert again.requests == 100 and again.errors == 3 and again.hist == sample.hist
    p95 = again.q(0.95)
    assert p95 is not None and 95 <= p95 <= 95 * 1.11
    assert quantile([0] * BUCKETS, 0.5) is None


def test_wilson_bounds() -> None:
    low, high = wilson_bounds(0, 100)
    assert low == 0 and 0.08 < high < 0.1
    low, high = wilson_bounds(50, 100)
    assert 0.34 < low < 0.5 < high < 0.66


def test_burn_rate_fails_only_when_both_windows_burn_and_are_full() -> None:
    history = EnvHistory()
    stats = VersionStats()
    versions = {("a", "production", "v1"): stats}
    for second in range(400):
        stats.requests += 100
        stats.errors += 2 if second >= 100 else 0  # 2% errors: 20x the 0.1% budget
        history.sample(versions, now=float(second))
    failing = burn_finding(history, "a", "production", 0.999, [(14.4, 3600, 300)])
    assert failing.verdict == "fail" and "14.4x" in failing.reason
    quiet = burn_finding(history, "a", "production", 0.999, [(14.4, 3600, 300)], since=350.0)
    assert quiet.verdict == "pass" and quiet.evidence["evaluated"] is False


def test_plans_for_each_strategy() -> None:
    config = DeployConfig()
    canary = build_plan(config, "canary", pool_size=2, approvals=0, approve_before="start")
    assert [(s["kind"], s.get("weight")) for s in canary] == [
        ("traffic", 5), ("traffic", 25), ("traffic", 50), ("promote", 100)]  # fmt: skip
    assert [s["duration"] for s in canary[:3]] == [300, 600, 900]
    bg = build_plan(config, "blue-green", pool_size=2, approvals=2, approve_before="promotion")
    assert [s["kind"] for s in bg] == ["checks", "traffic", "approval", "promote"]
    assert bg[1]["weight"] == 100 and bg[1]["compare"] is False and bg[1]["keep_previous"] is True
    rolling = build_plan(config, "rolling", pool_size=4, approvals=0, approve_before="start")
    assert [(s.get("weight"), s.get("processes")) for s in rolling] == [(25, 1), (50, 2), (75, 3), (100, None)]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(30, 30.0), ("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25), ("2d", 172800.0)],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"canary": [{"weight": 10, "duration": "1m"}]}, "weight = 100"),
        ({"canary": [{"weight": 50}, {"weight": 10}, {"weight": 100}]}, "must not go down"),
        ({"canary": [{"weight": 10, "duration": "-1m"}, {"weight": 100}]}, "duration"),
        ({"canary": [{"weight": 10, "duration": "5x"}, {"weight": 100}]}, "'5x' is not a duration"),
        ({"canary": [{"weight": 10, "pause": True}, {"weight": 100}]}, "either 'weight'"),
        ({"canary": [{"weight": 100}, {"pause": True}]}, "cannot be a pause"),
        ({"blue_green": {"steps": [50, 20]}}, "end at 100"),
        ({"mode": "yolo"}, "mode"),
    ],
)
def test_deploy_config_errors_name_the_problem(table: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError) as info:
        DeployConfig.model_validate(table)
    assert words in str(info.value)


def test_a_worse_but_unproven_canary_is_inconclusive_at_the_end_of_a_stage_not_a_pass() -> None:
    analysis = StageAnalysis(AnalysisConfig(), StageLimits(min_requests=50))
    # 4/100 canary errors vs 1/1000 baseline over the stage: p is small but above alpha = 0.001.
    for tick in range(10):
        analysis.add(
            (10, 1 if tick in (1, 3, 5, 8) else 0, _hist([10] * 10)), (100, 1 if tick == 4 else 0, _hist([10] * 100))
        )
    assert 0.001 < analysis.errors.p_value <= 0.01
    mid, end = analysis.error_comparison(final=False), analysis.error_comparison(final=True)
    assert mid.verdict == "pass" and end.verdict == "inconclusive" and "not yet proven" in end.reason
