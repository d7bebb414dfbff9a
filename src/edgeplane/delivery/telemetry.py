"""Per-environment request/error history for SLO burn rates, sampled from the gateway's counters once a
second and kept in memory for the longest configured window (an hour by default: 3,600 small tuples).

A rollout's burn-rate judge clips the windows at the rollout's start (see ``burn_finding``).
Burn rate over a window = (errors / requests in the window) / (1 - SLO target): 1.0 spends the error budget
exactly over the SLO period; 14.4 spends a 30-day budget's 2% in one hour (the SRE workbook's page level).
After a restart the history starts empty, so a long window covers only what has been seen since.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable

from edgeplane.delivery.judges import Finding
from edgeplane.gateway.counters import VersionStats

__all__ = ["BurnWindow", "EnvHistory", "burn_finding", "health_finding"]

BurnWindow = tuple[float, float, float]
"""(factor, long window s, short window s): fail when both windows burn faster than ``factor``."""

MIN_WINDOW_REQUESTS = 20
FULL_WINDOW = 0.95  # share of a window that must be covered by samples (they are taken once a second)


class EnvHistory:
    """Cumulative (time, requests, errors) points of each (app, env), one per ``sample`` call."""

    def __init__(self, keep_seconds: float = 3600.0) -> None:
        self.keep = keep_seconds
        self.points: dict[tuple[str, str], deque[tuple[float, int, int]]] = {}

    def sample(self, versions: dict[tuple[str, str, str], VersionStats], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        totals: dict[tuple[str, str], list[int]] = {}
        for (app, env, _), stats in versions.items():
            t = totals.setdefault((app, env), [0, 0])
            t[0] += stats.requests
            t[1] += stats.errors
        for key, (requests, errors) in totals.items():
            points = self.points.setdefault(key, deque())
            points.append((now, requests, errors))
            while points and points[0][0] < now - self.keep - 1:
                points.popleft()

    def window(self, app: str, env: str, seconds: float, since: float = 0.0) -> tuple[int, int, float]:
        """(requests, errors, seconds actually covered) over the last ``seconds``, not before ``since``."""
        points = self.points.get((app, env))
        if not points or len(points) < 2:
            return 0, 0, 0.0
        last = points[-1]
        first = points[0]
        for point in points:
            if point[0] >= max(last[0] - seconds, since):
                first = point
                break
        return last[1] - first[1], last[2] - first[2], last[0] - first[0]


def burn_finding(
    history: EnvHistory, app: str, env: str, target: float, windows: Iterable[BurnWindow], since: float = 0.0
) -> Finding:
    """The burn-rate verdict; windows are clipped to ``since`` (the rollout's start), so budget burnt before
    the rollout (say, by the previous, rolled-back one) does not fail this one."""
    budget = 1 - target
    shown: list[dict[str, object]] = []
    evidence: dict[str, object] = {"slo_target": target, "windows": shown}
    failing = []
    waiting = []
    for factor, long_s, short_s in windows:
        rates = []
        for seconds in (long_s, short_s):
            requests, errors, covered = history.window(app, env, seconds, since)
            burn = (errors / requests) / budget if requests >= MIN_WINDOW_REQUESTS else None
            rates.append(burn)
            shown.append({
                "window_s": seconds, "covered_s": round(covered, 1), "requests": requests, "errors": errors,
                "burn_rate": None if burn is None else round(burn, 2), "factor": factor,
            })  # fmt: skip
        _, _, covered = history.window(app, env, short_s, since)
        if covered < short_s * FULL_WINDOW:
            waiting.append(f"{short_s:g}s")  # a short window is only meaningful once it is full
        elif all(r is not None and r > factor for r in rates):
            failing.append(f"burn {rates[0]:.1f}x over {long_s:g}s and {rates[1]:.1f}x over {short_s:g}s > {factor:g}x")
    if failing:
        return Finding("slo_burn", "fail", "; ".join(failing), evidence)
    if waiting:
        evidence["evaluated"] = False
        reason = f"not judged until a full {' / '.join(waiting)} window since the rollout started"
        return Finding("slo_burn", "pass", reason, evidence)
    return Finding("slo_burn", "pass", "error budget burn within limits", evidence)


def health_finding(consecutive_failures: int, limit: int, last_error: str, probes: int) -> Finding:
    evidence = {
        "consecutive_failures": consecutive_failures,
        "limit": limit,
        "probes": probes,
        "last_error": last_error,
    }
    if consecutive_failures >= limit:
        return Finding(
            "health", "fail", f"{consecutive_failures} health checks failed in a row: {last_error}", evidence
        )
    if probes == 0:
        return Finding("health", "inconclusive", "not probed yet", evidence)
    return Finding("health", "pass", "healthy", evidence)
