"""Turn a ``[deploy]`` table into a rollout plan: an ordered list of steps the controller walks through.

Step kinds:
- ``traffic``: serve ``weight`` percent from the new version for ``duration`` seconds, judged (``compare``:
  canary vs stable over the same ticks; always thresholds, health and SLO burn). Canary stages, gradual
  blue-green steps, rolling batches and blue-green's post-switch validation are all traffic steps.
- ``pause``: wait for ``edgeplane rollout promote``.
- ``approval``: wait until the environment's required approvals are in.
- ``checks``: blue-green's pre-switch checks against the new version at 0% (health, smoke, webhook).
- ``promote``: the new version takes 100% and the rollout succeeds.
"""

from __future__ import annotations

import math
from typing import Any

from edgeplane.config.deploy import DeployConfig, format_duration

__all__ = ["build_plan", "describe_step"]


def _limits(stage: Any, default_min: int) -> dict[str, Any]:
    return {
        "min_requests": stage.min_requests if stage.min_requests is not None else default_min,
        "max_error_rate": stage.max_error_rate,
        "max_p95_ms": stage.max_p95_ms,
    }


def build_plan(
    config: DeployConfig, strategy: str, *, pool_size: int, approvals: int, approve_before: str
) -> list[dict[str, Any]]:
    default_min = config.analysis.min_requests
    plain = {"min_requests": default_min, "max_error_rate": None, "max_p95_ms": None}
    steps: list[dict[str, Any]] = []
    if strategy == "canary":
        for stage in config.canary:
            if stage.pause:
                steps.append({"kind": "pause"})
            elif stage.weight is not None and stage.weight < 100:
                steps.append({"kind": "traffic", "weight": stage.weight, "duration": stage.duration,
                              "compare": True, "limits": _limits(stage, default_min)})  # fmt: skip
    elif strategy == "blue-green":
        bg = config.blue_green
        steps.append(
            {"kind": "checks", "weight": 0, "smoke": [s.model_dump() for s in bg.smoke], "webhook": bg.webhook}
        )
        if bg.switch == "gradual":
            for weight in bg.steps[:-1]:
                steps.append({"kind": "traffic", "weight": weight, "duration": bg.step_duration, "compare": True,
                              "limits": plain})  # fmt: skip
        steps.append({"kind": "traffic", "weight": 100, "duration": bg.validation, "compare": False,
                      "limits": {**plain, "max_error_rate": bg.max_error_rate}, "keep_previous": True})  # fmt: skip
    elif strategy == "rolling":
        rolling = config.rolling
        batches = math.ceil(pool_size / rolling.batch_size)
        for k in range(1, batches):
            processes = min(pool_size, k * rolling.batch_size)
            steps.append({"kind": "traffic", "weight": round(100 * processes / pool_size, 2),
                          "duration": rolling.batch_duration, "compare": True, "limits": plain,
                          "processes": processes})  # fmt: skip
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    if approvals and approve_before == "promotion":
        steps.append({"kind": "approval"})
    steps.append({"kind": "promote", "weight": 100})
    return steps


def describe_step(step: dict[str, Any]) -> str:
    kind = step["kind"]
    if kind == "traffic":
        extra = " (new version alone)" if not step.get("compare") and step["weight"] == 100 else ""
        return f"{step['weight']:g}% for {format_duration(step['duration'])}{extra}"
    labels = {"pause": "manual pause", "approval": "approvals", "checks": "pre-switch checks", "promote": "100%"}
    return labels.get(kind, str(kind))
