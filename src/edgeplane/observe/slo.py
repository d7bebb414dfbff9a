"""SLOs: the good-request ratio of an environment over the SLO window, its error budget, burn rates, and the
multiwindow multi-burn-rate alerts of the Google SRE workbook (chapter 5, "Alerting on SLOs").

For a 30-day SLO the alerts are the workbook's: page when the budget burns 14.4x over 1 h (and over 5 min, so
the alert stops soon after the burn does) or 6x over 6 h (and 30 min); ticket at 1x over 3 d (and 6 h). For other
SLO windows every alert window is scaled by ``window / 30 d`` (as Pyrra does), so the alert still means "this
share of the budget is gone": 14.4x over 1/720 of the window spends 2% of the budget.

The SLOs of an environment come from the ``[[slos]]`` of the version serving most of its traffic.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeplane.config.app import AppConfig
from edgeplane.config.deploy import format_duration
from edgeplane.config.observe import SLOConfig
from edgeplane.observe.series import Window, request_key

if TYPE_CHECKING:
    from edgeplane.control.service import ControlPlane
    from edgeplane.observe.series import Recorder

__all__ = ["BASE_WINDOW", "BurnAlert", "SLOTarget", "SLOs", "bad_of"]

BASE_WINDOW = 30 * 86400.0


@dataclass(frozen=True)
class BurnAlert:
    """One multiwindow condition: burn > factor over both ``long`` and ``short`` (seconds, for a 30 d SLO)."""

    severity: str  # page | ticket
    long: float
    short: float
    factor: float


BURN_ALERTS = (
    BurnAlert("page", 3600, 300, 14.4),
    BurnAlert("page", 6 * 3600, 1800, 6.0),
    BurnAlert("ticket", 3 * 86400, 6 * 3600, 1.0),
)


def bad_of(slo: SLOConfig, w: Window) -> int:
    """Bad requests of ``w`` by the SLO's definition."""
    if slo.kind == "latency":
        assert slo.threshold_ms is not None
        return w.slower_than(slo.threshold_ms)
    return w.errors


@dataclass(frozen=True)
class SLOTarget:
    app: str
    env: str
    slo: SLOConfig

    @property
    def name(self) -> str:
        return self.slo.name

    @property
    def budget(self) -> float:
        """The allowed share of bad requests (0..1)."""
        return 1 - self.slo.objective

    def scaled(self, seconds: float, resolution: float) -> float:
        """An alert window scaled to this SLO's window, never shorter than two recording steps."""
        return max(seconds * self.slo.window / BASE_WINDOW, 2 * resolution)

    def burn(self, w: Window) -> float | None:
        """Budget burn rate over ``w`` (1 = on track to spend exactly the budget); None without requests."""
        if not w.requests:
            return None
        return (bad_of(self.slo, w) / w.requests) / self.budget

    def labels(self) -> dict[str, str]:
        return {"app": self.app, "env": self.env, "slo": self.name}


class SLOs:
    def __init__(self, control: ControlPlane, recorder: Recorder) -> None:
        self.control = control
        self.recorder = recorder
        self._configs: dict[str, list[SLOConfig]] = {}

    async def targets(self) -> list[SLOTarget]:
        """Every SLO of every live environment (from the config of the version serving most of its traffic)."""
        out: list[SLOTarget] = []
        for deployment in await self.control.store.current_deployments():
            splits = deployment["splits"]
            if not splits:
                continue
            main = max(splits, key=lambda s: s["percentage"])["version_id"]
            slos = self._configs.get(main)
            if slos is None:
                version = await self.control.version(main)
                slos = self._configs[main] = AppConfig.model_validate(version["config"]).slos
            out += [SLOTarget(deployment["app"], deployment["env"], s) for s in slos if s.applies_to(deployment["env"])]
        return out

    def prefix(self, target: SLOTarget) -> str:
        return request_key(target.app, target.env, "")

    def window(self, target: SLOTarget, seconds: float) -> Window:
        """All versions of the target's environment over the last ``seconds`` (from memory)."""
        total = Window(seconds)
        for series in self.recorder.series(self.prefix(target)):
            total.merge(self.recorder.window(series, seconds))
        return total

    async def long_window(self, target: SLOTarget, seconds: float) -> Window:
        """Like :meth:`window`, from the database when longer than the in-memory horizon."""
        if seconds <= self.recorder.settings.memory:
            return self.window(target, seconds)
        total = Window(seconds)
        prefix = self.prefix(target)
        for series, w in (await self.recorder.long_windows(seconds)).items():
            if series.startswith(prefix):
                total.merge(w)
        return total

    async def budget_remaining(self, target: SLOTarget) -> tuple[float | None, Window]:
        """Share of the error budget left over the SLO window (1 untouched, < 0 overspent), and the window."""
        w = await self.long_window(target, target.slo.window)
        burn = target.burn(w)
        return (None if burn is None else 1 - burn), w

    def burn_windows(self, target: SLOTarget) -> list[tuple[str, float]]:
        """The (label, seconds) of the standard windows, scaled to this SLO: 5m 30m 1h 6h 3d for a 30 d SLO."""
        resolution = self.recorder.settings.resolution
        seconds = sorted({a.short for a in BURN_ALERTS} | {a.long for a in BURN_ALERTS})
        return [(format_duration(target.scaled(s, resolution)), target.scaled(s, resolution)) for s in seconds]

    async def status(self, app: str | None = None, env: str | None = None) -> list[dict[str, Any]]:
        rows = []
        for target in await self.targets():
            if (app and target.app != app) or (env and target.env != env):
                continue
            remaining, w = await self.budget_remaining(target)
            burns = {}
            for label, seconds in self.burn_windows(target):
                win = await self.long_window(target, seconds)
                burns[label] = target.burn(win)
            rows.append({
                **target.labels(), "kind": target.slo.kind, "target": target.slo.target,
                "objective": target.slo.objective, "window": format_duration(target.slo.window),
                "threshold_ms": target.slo.threshold_ms, "requests": w.requests, "bad": bad_of(target.slo, w),
                "sli": (1 - bad_of(target.slo, w) / w.requests) if w.requests else None,
                "budget_remaining": remaining, "burn_rates": burns,
            })  # fmt: skip
            await asyncio.sleep(0)
        return rows
