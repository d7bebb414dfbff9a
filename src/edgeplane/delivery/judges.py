"""The judges: each looks at one stage's traffic and returns a verdict (pass | fail | inconclusive) with its
evidence. ``StageAnalysis`` holds one stage's samples and sequential tests, is fed per-tick deltas of the
gateway's counters, and is stored with the rollout so a restarted controller continues where it stopped.

1. ``thresholds``: the stage's absolute limits (max error rate, max p95). Mid-stage they fail only when a
   one-sided 99.9% Wilson bound is past the limit (a few unlucky requests are not a regression); at the end
   of the stage the observed value decides.
2. ``errors`` and ``latency``: canary vs baseline over the same ticks, with the always-valid sequential test
   of ``sequential.py`` on 5xx responses and on requests slower than the baseline's quantile. A fail also
   needs a practically relevant effect (``min_error_increase``; ``min_latency_increase_ms`` and
   ``min_latency_increase_ratio``), so a tiny real difference on huge traffic does not roll back a release.
3. ``slo_burn``: the environment's error budget burn rate over multiwindow pairs (see ``telemetry.py``).
4. ``health``: N consecutive failed health probes of the new version.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from edgeplane.config.deploy import AnalysisConfig
from edgeplane.delivery.sequential import SequentialTest
from edgeplane.gateway.counters import BUCKETS, exceeding, quantile

__all__ = [
    "Finding",
    "Sample",
    "StageAnalysis",
    "StageLimits",
    "Verdict",
    "combine",
    "wilson_bounds",
]

Verdict = Literal["pass", "fail", "inconclusive"]
Z_999 = 3.0902  # one-sided 99.9%
MIN_REQUESTS_TO_FAIL = 10  # the comparison judges never fail a version on fewer of its requests
SUSPICIOUS = 0.01
"""At the end of a stage, a practically relevant regression with p at or below this (evidence short of alpha) is
inconclusive, not a pass: the stage pauses for a human instead of promoting a version that looks worse."""
MIN_FOR_QUANTILE = 10  # requests before a sample's quantile is reported


@dataclass(frozen=True)
class Finding:
    judge: str
    verdict: Verdict
    reason: str
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"judge": self.judge, "verdict": self.verdict, "reason": self.reason, "evidence": self.evidence}


@dataclass(frozen=True)
class StageLimits:
    min_requests: int = 50
    max_error_rate: float | None = None
    max_p95_ms: float | None = None


@dataclass
class Sample:
    """One version's requests in a stage: counts and a latency histogram (``gateway.counters`` buckets)."""

    requests: int = 0
    errors: int = 0
    hist: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, requests: int, errors: int, hist: list[int]) -> None:
        self.requests += requests
        self.errors += errors
        for i, n in enumerate(hist):
            if n:
                self.hist[i] += n

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def q(self, q: float) -> float | None:
        return quantile(self.hist, q) if self.requests >= MIN_FOR_QUANTILE else None

    def summary(self) -> dict[str, Any]:
        rate = self.error_rate
        return {
            "requests": self.requests, "errors": self.errors,
            "error_rate": None if rate is None else round(rate, 5),
            "p50_ms": _ms(self.q(0.5)), "p95_ms": _ms(self.q(0.95)), "p99_ms": _ms(self.q(0.99)),
        }  # fmt: skip

    def to_state(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "hist": {str(i): n for i, n in enumerate(self.hist) if n},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Sample:
        sample = cls(int(state.get("requests", 0)), int(state.get("errors", 0)))
        for i, n in state.get("hist", {}).items():
            if 0 <= int(i) < BUCKETS:
                sample.hist[int(i)] = int(n)
        return sample


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def wilson_bounds(successes: int, n: int, z: float = Z_999) -> tuple[float, float]:
    """The Wilson score interval of a proportion (lower, upper) at ``z``."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class StageAnalysis:
    """One stage's evidence: canary and baseline samples plus the two sequential tests."""

    settings: AnalysisConfig
    limits: StageLimits
    canary: Sample = field(default_factory=Sample)
    baseline: Sample = field(default_factory=Sample)
    errors: SequentialTest = field(default_factory=SequentialTest)
    slow: SequentialTest = field(default_factory=SequentialTest)
    slow_threshold_ms: float | None = None

    def __post_init__(self) -> None:
        self.errors.alpha = self.slow.alpha = self.settings.alpha

    def add(self, canary: tuple[int, int, list[int]], baseline: tuple[int, int, list[int]] | None) -> None:
        """One tick's deltas ``(requests, errors, histogram)`` of each version (baseline None: no comparison,
        as after a blue-green switch)."""
        self.canary.add(*canary)
        if baseline is None:
            return
        self.baseline.add(*baseline)
        self.errors.update(canary[1], canary[0], baseline[1], baseline[0])
        # Slow = past the baseline's quantile as known *before* this tick, so the threshold is predictable.
        if self.slow_threshold_ms is not None:
            limit = self.slow_threshold_ms
            self.slow.update(exceeding(canary[2], limit), canary[0], exceeding(baseline[2], limit), baseline[0])
        self.slow_threshold_ms = self.baseline.q(self.settings.latency_quantile)

    # -- judges --------------------------------------------------------------------------------------------
    def findings(self, final: bool) -> list[Finding]:
        out = [self.thresholds(final)]
        if self.baseline.requests:
            out += [self.error_comparison(final), self.latency_comparison(final)]
        return out

    def _enough(self, final: bool) -> tuple[bool, str]:
        need = self.limits.min_requests
        have = self.canary.requests
        if have >= need:
            return True, ""
        return False, f"{have}/{need} requests so far" if not final else f"only {have} of {need} requests"

    def thresholds(self, final: bool) -> Finding:
        c = self.canary
        evidence: dict[str, Any] = {"canary": c.summary(), "limits": {
            "max_error_rate": self.limits.max_error_rate, "max_p95_ms": self.limits.max_p95_ms,
            "min_requests": self.limits.min_requests,
        }}  # fmt: skip
        problems: list[str] = []
        if self.limits.max_error_rate is not None and c.requests:
            low, _ = wilson_bounds(c.errors, c.requests)
            evidence["error_rate_lower_bound"] = round(low, 5)
            rate = c.errors / c.requests
            if low > self.limits.max_error_rate or (final and rate > self.limits.max_error_rate):
                problems.append(f"error rate {rate:.2%} > {self.limits.max_error_rate:.2%}")
        if self.limits.max_p95_ms is not None and c.requests:
            over = exceeding(c.hist, self.limits.max_p95_ms)
            low, _ = wilson_bounds(over, c.requests)
            evidence["share_over_max_p95"] = round(over / c.requests, 5)
            p95 = c.q(0.95)
            if low > 0.05 or (final and p95 is not None and p95 > self.limits.max_p95_ms):
                shown = f"{p95:.0f} ms" if p95 is not None else f"{over}/{c.requests} requests over"
                problems.append(f"p95 {shown} > {self.limits.max_p95_ms:g} ms")
        if problems:
            return Finding("thresholds", "fail", "; ".join(problems), evidence)
        enough, why = self._enough(final)
        if not enough:
            return Finding("thresholds", "inconclusive", why, evidence)
        return Finding("thresholds", "pass", "within the stage's limits", evidence)

    def error_comparison(self, final: bool) -> Finding:
        c, b, test = self.canary, self.baseline, self.errors
        rate_c = c.errors / c.requests if c.requests else 0.0
        rate_b = b.errors / b.requests if b.requests else 0.0
        evidence = {
            "canary": {"requests": c.requests, "errors": c.errors, "error_rate": round(rate_c, 5)},
            "baseline": {"requests": b.requests, "errors": b.errors, "error_rate": round(rate_b, 5)},
            "difference": round(rate_c - rate_b, 5),
            "min_difference": self.settings.min_error_increase,
            **test.evidence(),
        }
        relevant = rate_c - rate_b >= self.settings.min_error_increase
        if test.rejected and relevant and c.requests >= MIN_REQUESTS_TO_FAIL:
            reason = f"canary errors {rate_c:.2%} vs baseline {rate_b:.2%} (p ≤ {test.p_value:.2g})"
            return Finding("errors", "fail", reason, evidence)
        enough, why = self._enough(final)
        if not enough:
            return Finding("errors", "inconclusive", why, evidence)
        if final and relevant and test.p_value <= SUSPICIOUS:
            reason = (
                f"canary errors {rate_c:.2%} vs baseline {rate_b:.2%}: worse, not yet proven (p = {test.p_value:.2g})"
            )
            return Finding("errors", "inconclusive", reason, evidence)
        return Finding("errors", "pass", f"canary {rate_c:.2%} vs baseline {rate_b:.2%}", evidence)

    def latency_comparison(self, final: bool) -> Finding:
        c, b, test = self.canary, self.baseline, self.slow
        q = self.settings.latency_quantile
        qc, qb = c.q(q), b.q(q)
        label = f"p{q * 100:g}"
        evidence: dict[str, Any] = {
            "quantile": q,
            "canary_ms": _ms(qc), "baseline_ms": _ms(qb),
            "slow_threshold_ms": _ms(self.slow_threshold_ms),
            "canary_slow": test.canary_events, "baseline_slow": test.baseline_events,
            "probability_canary_slower": _superiority(c.hist, b.hist),
            **test.evidence(),
        }  # fmt: skip
        relevant = False
        if qc is not None and qb is not None:
            increase = qc - qb
            evidence["increase_ms"] = round(increase, 2)
            needed = max(self.settings.min_latency_increase_ms, self.settings.min_latency_increase_ratio * qb)
            relevant = increase >= needed
            if test.rejected and relevant and c.requests >= MIN_REQUESTS_TO_FAIL:
                reason = f"canary {label} {qc:.0f} ms vs baseline {qb:.0f} ms (p ≤ {test.p_value:.2g})"
                return Finding("latency", "fail", reason, evidence)
        enough, why = self._enough(final)
        if not enough or qc is None or qb is None:
            return Finding("latency", "inconclusive", why or "too few requests for a quantile", evidence)
        if final and relevant and test.p_value <= SUSPICIOUS:
            reason = (
                f"canary {label} {qc:.0f} ms vs baseline {qb:.0f} ms: slower, not yet proven (p = {test.p_value:.2g})"
            )
            return Finding("latency", "inconclusive", reason, evidence)
        return Finding("latency", "pass", f"canary {label} {qc:.0f} ms vs baseline {qb:.0f} ms", evidence)

    # -- persistence ---------------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "canary": self.canary.to_state(), "baseline": self.baseline.to_state(),
            "errors": self.errors.to_state(), "slow": self.slow.to_state(),
            "slow_threshold_ms": self.slow_threshold_ms,
        }  # fmt: skip

    @classmethod
    def from_state(cls, settings: AnalysisConfig, limits: StageLimits, state: dict[str, Any]) -> StageAnalysis:
        analysis = cls(settings, limits)
        if state:
            analysis.canary = Sample.from_state(state.get("canary", {}))
            analysis.baseline = Sample.from_state(state.get("baseline", {}))
            analysis.errors.load_state(state.get("errors", {}))
            analysis.slow.load_state(state.get("slow", {}))
            analysis.slow_threshold_ms = state.get("slow_threshold_ms")
        return analysis


def _superiority(canary: list[int], baseline: list[int]) -> float | None:
    """P(a canary request is slower than a baseline one), ties counted half: the Mann-Whitney effect size,
    computed from the two histograms (0.5 = no difference)."""
    n_c, n_b = sum(canary), sum(baseline)
    if n_c < MIN_FOR_QUANTILE or n_b < MIN_FOR_QUANTILE:
        return None
    below = 0  # baseline requests in lower buckets
    wins = 0.0
    for c, b in zip(canary, baseline, strict=True):
        wins += c * (below + b / 2)
        below += b
    return round(wins / (n_c * n_b), 4)


def combine(findings: list[Finding]) -> Verdict:
    """A stage fails if any judge fails; passes only if every judge passes; else it is inconclusive."""
    verdicts = {f.verdict for f in findings}
    if "fail" in verdicts:
        return "fail"
    if verdicts <= {"pass"}:
        return "pass"
    return "inconclusive"
