"""An always-valid sequential test that a canary produces *more* events (errors, slow requests) than its
baseline, given how much traffic each one served.

Within one tick both versions see the same conditions. If each request of either version has the same
chance of an event, then given the request counts (n_c, n_b) and the tick's total events E, the canary's
share x of those events is hypergeometric; if the canary's odds of an event are psi times the baseline's,
x follows Fisher's noncentral hypergeometric distribution. The product over ticks of the likelihood ratio
``P(x | psi) / P(x | psi0)`` is a nonnegative martingale when psi = psi0 (a supermartingale when psi < psi0),
and so is an average of such products over a grid of alternatives. By Ville's inequality the chance that
this average *ever* reaches 1/alpha under the null is at most alpha: the test may be checked after every
request, stops as soon as the evidence is strong, and needs no minimum sample for validity. Because it
conditions on the events actually seen, it handles sparse errors (a handful is enough against a clean
baseline), unequal and changing traffic splits, and load changes that hit both versions alike.

This is the count-data analogue of the mixture SPRT (Robbins 1970; Lindon & Malek 2022 "Anytime-valid
inference for multinomial count data" use the same conditioning idea for canaries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ODDS_GRID", "SequentialTest"]

ODDS_GRID = (1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0, 1000.0)
"""Alternatives (multiples of the null odds ratio) averaged with equal weight."""


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _log_normaliser(n_c: int, n_b: int, events: int, log_psi: float) -> float:
    """log sum_k C(n_c, k) C(n_b, E - k) psi^k over the support of the canary's share k."""
    terms = [
        _log_choose(n_c, k) + _log_choose(n_b, events - k) + k * log_psi
        for k in range(max(0, events - n_b), min(events, n_c) + 1)
    ]
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


@dataclass
class SequentialTest:
    """H0: the canary's odds of an event are at most ``null_odds`` times the baseline's.

    ``update`` once per tick with each version's events and requests; ``rejected`` turns true (and stays
    true) once the evidence against H0 reaches 1/alpha.
    """

    alpha: float = 0.001
    null_odds: float = 1.0
    log_lr: list[float] = field(default_factory=lambda: [0.0] * len(ODDS_GRID))
    max_log_bf: float = 0.0
    canary_events: int = 0
    baseline_events: int = 0

    def update(self, canary_events: int, canary_requests: int, baseline_events: int, baseline_requests: int) -> None:
        events = canary_events + baseline_events
        if events == 0 or canary_requests <= 0 or baseline_requests <= 0:
            return  # no event, or one side saw no traffic: this tick carries no evidence either way
        canary_events = min(canary_events, canary_requests)
        events = canary_events + min(baseline_events, baseline_requests)
        self.canary_events += canary_events
        self.baseline_events += events - canary_events
        log_null = math.log(self.null_odds)
        null_norm = _log_normaliser(canary_requests, baseline_requests, events, log_null)
        for i, multiple in enumerate(ODDS_GRID):
            log_alt = log_null + math.log(multiple)
            alt_norm = _log_normaliser(canary_requests, baseline_requests, events, log_alt)
            self.log_lr[i] += canary_events * (log_alt - log_null) - (alt_norm - null_norm)
        self.max_log_bf = max(self.max_log_bf, self.log_bf)

    @property
    def log_bf(self) -> float:
        """log of the mixture likelihood ratio (the evidence against H0) now."""
        top = max(self.log_lr)
        return top + math.log(sum(math.exp(v - top) for v in self.log_lr) / len(self.log_lr))

    @property
    def rejected(self) -> bool:
        return self.max_log_bf >= math.log(1 / self.alpha)

    @property
    def p_value(self) -> float:
        """The always-valid p-value: valid whenever it is read, however often."""
        return min(1.0, math.exp(-self.max_log_bf))

    def evidence(self) -> dict[str, Any]:
        return {
            "test": "sequential conditional (mixture likelihood ratio on event shares)",
            "log_bayes_factor": round(self.log_bf, 3),
            "threshold": round(math.log(1 / self.alpha), 3),
            "p_value": float(f"{self.p_value:.3g}"),
            "alpha": self.alpha,
            "null_odds_ratio": self.null_odds,
        }

    def to_state(self) -> dict[str, Any]:
        return {
            "log_lr": self.log_lr, "max_log_bf": self.max_log_bf,
            "canary_events": self.canary_events, "baseline_events": self.baseline_events,
        }  # fmt: skip

    def load_state(self, state: dict[str, Any]) -> None:
        if len(state.get("log_lr", [])) == len(ODDS_GRID):
            self.log_lr = [float(v) for v in state["log_lr"]]
            self.max_log_bf = float(state.get("max_log_bf", 0.0))
            self.canary_events = int(state.get("canary_events", 0))
            self.baseline_events = int(state.get("baseline_events", 0))
