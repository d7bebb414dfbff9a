"""The ``[deploy]`` table of edgeplane.toml: how a new version reaches an environment.

    [deploy]
    strategy = "canary"          # canary | blue-green | rolling
    mode = "auto"                # shadow (judge, never act) | pause (pause on fail) | auto (roll back on fail)

    [[deploy.canary]]            # ordered stages; the last must have weight 100
    weight = 5
    duration = "5m"
    max_error_rate = 0.01        # optional absolute limits
    max_p95_ms = 800
    [[deploy.canary]]
    pause = true                 # wait for `edgeplane rollout promote`

An ``[env.NAME.deploy]`` table replaces the top-level one for that environment.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = [
    "AnalysisConfig",
    "BlueGreenConfig",
    "CanaryStage",
    "DeployConfig",
    "RollingConfig",
    "SmokeCheck",
    "format_duration",
    "parse_duration",
]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Seconds from ``30``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"250ms"``, ``"2d"``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like '30s', '5m', '1h'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*(\d+(\.\d+)?(ms|s|m|h|d)\s*)+", value):
        seconds = sum(float(n) * _UNITS[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(ms|s|m|h|d)", value))
    else:
        raise ValueError(f"{value!r} is not a duration: use seconds or text like '30s', '5m', '1h'")
    if seconds < 0:
        raise ValueError(f"{value!r}: a duration cannot be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration, for people: ``1.5s``, ``40s``, ``5m``, ``2m30s``, ``1h``, ``1h05m``, ``3d``."""
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 and seconds % 1 else f"{seconds:.0f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s" if rest else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48 and not minutes:
        days, hours = divmod(hours, 24)
        return f"{days}d{hours}h" if hours else f"{days}d"
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CanaryStage(_Strict):
    """One canary stage: ``weight`` percent of traffic for ``duration``, judged; or a manual ``pause``."""

    weight: Annotated[float, Field(ge=0, le=100)] | None = None
    duration: Duration = 0.0
    pause: bool = False
    max_error_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    max_p95_ms: Annotated[float, Field(gt=0)] | None = None
    min_requests: Annotated[int, Field(ge=0)] | None = None
    """Requests the new version must serve in this stage before it can pass (default: analysis.min_requests)."""

    @model_validator(mode="after")
    def _weight_or_pause(self) -> CanaryStage:
        if self.pause == (self.weight is not None):
            raise ValueError("a stage has either 'weight' (percent of traffic) or 'pause = true'")
        return self


DEFAULT_STAGES = (
    CanaryStage(weight=5, duration=300),
    CanaryStage(weight=25, duration=600),
    CanaryStage(weight=50, duration=900),
    CanaryStage(weight=100),
)


class AnalysisConfig(_Strict):
    """How the judges decide (docs/delivery.md explains each)."""

    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.001
    """False-alarm bound of each sequential comparison over a whole stage (checked continuously)."""
    min_requests: Annotated[int, Field(ge=0)] = 50
    """Default requests the new version must serve in a stage before the stage can pass."""
    min_error_increase: Annotated[float, Field(ge=0, le=1)] = 0.005
    """Smallest error-rate increase over the baseline (absolute, 0.005 = 0.5 points) worth failing for."""
    latency_quantile: Annotated[float, Field(gt=0, lt=1)] = 0.95
    min_latency_increase_ms: Annotated[float, Field(ge=0)] = 25.0
    min_latency_increase_ratio: Annotated[float, Field(ge=0)] = 0.10
    """A latency fail needs the quantile to grow by both at least this many ms and this fraction."""
    health_failures: Annotated[int, Field(ge=1)] = 3
    """Consecutive failed health probes of the new version (one a second) that fail the rollout at once."""
    slo_target: Annotated[float, Field(gt=0, lt=1)] | None = 0.999
    """Availability SLO of the environment for the burn-rate judge; unset to disable that judge."""
    burn_windows: list[tuple[float, Duration, Duration]] = [(14.4, 3600.0, 300.0)]
    """``[factor, long, short]``: fail when both windows burn the error budget faster than ``factor``."""


class SmokeCheck(_Strict):
    """A request sent to the new version (through the gateway) before a blue-green switch."""

    path: str = "/"
    method: Literal["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] = "GET"
    body: str | None = None
    headers: dict[str, str] = {}
    expect_status: Annotated[int, Field(ge=100, le=599)] = 200
    expect_body: str | None = None
    """Text the response body must contain."""

    @model_validator(mode="after")
    def _path(self) -> SmokeCheck:
        if not self.path.startswith("/"):
            raise ValueError(f"smoke path {self.path!r} must start with '/'")
        return self


class BlueGreenConfig(_Strict):
    switch: Literal["instant", "gradual"] = "instant"
    steps: list[Annotated[float, Field(gt=0, le=100)]] = [10, 50, 100]
    """Weights of a gradual switch, each held for ``step_duration`` and judged; the last must be 100."""
    step_duration: Duration = 60.0
    validation: Duration = 300.0
    """After the switch, the new version is judged alone this long; a fail switches back."""
    max_error_rate: Annotated[float, Field(ge=0, le=1)] = 0.05
    """The validation window's error-rate limit (the thresholds judge; no baseline runs beside it)."""
    rollback_window: Duration = 1800.0
    """The previous version stays running this long after success, so switching back is instant."""
    smoke: list[SmokeCheck] = []
    webhook: Annotated[str, Field(pattern=r"^https?://")] | None = None
    """POSTed the rollout as JSON before the switch; any answer but 2xx (or none in 10 s) fails it."""

    @model_validator(mode="after")
    def _steps(self) -> BlueGreenConfig:
        if self.steps != sorted(self.steps) or self.steps[-1] != 100:
            raise ValueError("blue_green.steps must rise and end at 100, e.g. [10, 50, 100]")
        return self


class RollingConfig(_Strict):
    batch_size: Annotated[int, Field(ge=1)] = 1
    """Worker processes replaced per batch."""
    max_unavailable: Annotated[int, Field(ge=0)] = 0
    """Old processes that may stop before their replacements are healthy (0: start new ones first)."""
    grace_period: Duration = 10.0
    """Seconds an old process keeps serving the requests it already has before it is stopped."""
    batch_duration: Duration = 30.0
    """Each batch is judged this long before the next one starts."""


class DeployConfig(_Strict):
    strategy: Literal["canary", "blue-green", "rolling"] = "canary"
    mode: Literal["shadow", "pause", "auto"] = "auto"
    canary: list[CanaryStage] = list(DEFAULT_STAGES)
    analysis: AnalysisConfig = AnalysisConfig()
    blue_green: BlueGreenConfig = BlueGreenConfig()
    rolling: RollingConfig = RollingConfig()

    @model_validator(mode="after")
    def _stages(self) -> DeployConfig:
        weights = [s.weight for s in self.canary if s.weight is not None]
        if not weights or weights[-1] != 100:
            raise ValueError("the last weighted [[deploy.canary]] stage must have weight = 100")
        if weights != sorted(weights):
            raise ValueError(f"canary weights must not go down: {weights}")
        if self.canary[-1].pause:
            raise ValueError("the last [[deploy.canary]] stage cannot be a pause: end with weight = 100")
        return self
