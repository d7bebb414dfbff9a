"""One evaluation cycle's reads: rule instances from the recorded series, SLO windows, SQL over analytics.

Reads are cached for the cycle, so a hundred rules over the same hour sum each series' points once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgeplane.errors import EdgeplaneError
from edgeplane.observe.rules import CompiledRule
from edgeplane.observe.series import Window, split_key

if TYPE_CHECKING:
    from edgeplane.observe.hub import Observability
    from edgeplane.observe.slo import SLOs, SLOTarget

__all__ = ["Evaluation", "Sample"]

QUERY_TIMEOUT = 10.0


@dataclass(frozen=True)
class Sample:
    """One instance's value this cycle and whether it breaches the rule's condition."""

    labels: dict[str, str]
    value: float
    breached: bool


class Evaluation:
    def __init__(self, hub: Observability, slos: SLOs, now: float) -> None:
        self.hub = hub
        self.recorder = hub.recorder
        self.slos = slos
        self.now = now
        self._windows: dict[tuple[str, float], Window] = {}
        self._db: dict[float, dict[str, Window]] = {}
        self._targets: list[SLOTarget] | None = None
        self._budgets: dict[SLOTarget, float | None] = {}

    async def window(self, series: str, seconds: float) -> Window:
        key = (series, seconds)
        w = self._windows.get(key)
        if w is None:
            if seconds <= self.recorder.settings.memory:
                w = self.recorder.window(series, seconds, now=self.now)
            else:
                if seconds not in self._db:
                    self._db[seconds] = await self.recorder.long_windows(seconds, now=self.now)
                w = self._db[seconds].get(series) or Window(seconds)
            self._windows[key] = w
        return w

    async def slo_window(self, target: SLOTarget, seconds: float) -> Window:
        total = Window(seconds)
        for series in self.recorder.series(self.slos.prefix(target)):
            total.merge(await self.window(series, seconds))
        return total

    async def rule(self, rule: CompiledRule) -> list[Sample]:
        if rule.metric is None:
            return await self._query(rule)
        if rule.metric.source == "slo":
            return await self._slo(rule)
        probes = rule.metric.source == "probes"
        keep = rule.group_labels()
        groups: dict[tuple[str, ...], tuple[dict[str, str], Window]] = {}
        for series in self.recorder.series():
            if series.startswith("probe|") != probes:
                continue
            labels = split_key(series)
            if not rule.selects(labels):
                continue
            key = tuple(labels[k] for k in keep)
            if key not in groups:
                groups[key] = ({k: labels[k] for k in keep}, Window(rule.window))
            groups[key][1].merge(await self.window(series, rule.window))
        out = []
        for labels, w in groups.values():
            value = rule.metric.read(w)
            if value is not None:
                out.append(Sample(labels, value, rule.breached(value)))
        return out

    async def _slo(self, rule: CompiledRule) -> list[Sample]:
        assert rule.metric is not None
        if self._targets is None:
            self._targets = await self.slos.targets()
        out = []
        for target in self._targets:
            labels = target.labels()
            if not rule.selects(labels):
                continue
            value: float | None
            if rule.metric.name == "slo_burn_rate":
                value = target.burn(await self.slo_window(target, rule.window))
            else:
                if target not in self._budgets:
                    burn = target.burn(await self.slo_window(target, target.slo.window))
                    self._budgets[target] = None if burn is None else 1 - burn
                value = self._budgets[target]
            if value is not None:
                out.append(Sample(labels, value, rule.breached(value)))
        return out

    async def _query(self, rule: CompiledRule) -> list[Sample]:
        assert rule.config.query is not None
        result = await self.hub.control.analytics.query(rule.config.query, timeout=QUERY_TIMEOUT, max_rows=1)
        data = result.get("data") or []
        if not data:
            return []
        value = next(iter(data[0].values()), None) if isinstance(data[0], dict) else data[0][0]
        if value is None:
            return []
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EdgeplaneError(f"the query returned {value!r}, not a number", code="alert_query_not_numeric")
        return [Sample({}, float(value), rule.breached(float(value)))]
