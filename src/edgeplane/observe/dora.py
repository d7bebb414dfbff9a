"""DORA's four key metrics, computed from edgeplane's own delivery history (deployments, rollouts, versions)
and incidents, each rated with the performance bands of the 2023 Accelerate State of DevOps report.

What counts, per app and environment, walking its deployments in order:

- a **deployment** is a ``deploy`` or a rollout's ``promote`` that brings a version to 100% for the first time in
  that environment. Bringing back a version that served all of it before (a ``rollback``, or a ``deploy`` of an
  older version) is a restore, not a change; split and rollout-step deployments are not counted on their own.
- **lead time for changes** is upload → production (the version's upload to its deployment): edgeplane does not
  know commit times, so the part of the path before ``edgeplane versions upload`` is not in it.
- a **failed change** is a deployment that was rolled back while it served (the next change of what serves all of
  the environment is a restore), or a rollout that ended ``failed`` or ``aborted`` after its version had taken
  production traffic. Change failure rate = failed changes / (deployments + those rollouts).
- **time to restore** is, per failed change, the time from it taking traffic to the restore (the rollback, or the
  end of the rollout). When no change failed in the period, the median time to resolve the period's incidents
  stands in (``source`` says which).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from edgeplane.control.schema import deployments, incidents, rollouts, versions
from edgeplane.control.store import Store

__all__ = ["BANDS", "Change", "dora", "failure_rate_band", "frequency_band", "lead_time_band", "restore_band"]

HOUR = 3600.0
DAY = 86400.0
BANDS = ("elite", "high", "medium", "low")
FAILED_ROLLOUT_STATES = ("failed", "aborted")


# -- the bands (2023 State of DevOps: elite / high / medium / low) --------------------------------------------
def frequency_band(per_day: float) -> str:
    """On demand (daily or more) / daily to weekly / weekly to monthly / less than monthly."""
    if per_day >= 1:
        return "elite"
    if per_day >= 1 / 7:
        return "high"
    return "medium" if per_day >= 1 / 30 else "low"


def lead_time_band(seconds: float | None) -> str | None:
    """Under a day / under a week / under a month / longer."""
    if seconds is None:
        return None
    if seconds < DAY:
        return "elite"
    if seconds < 7 * DAY:
        return "high"
    return "medium" if seconds < 30 * DAY else "low"


def failure_rate_band(rate: float | None) -> str | None:
    """The report's cluster values (5% / 10% / 15% / 64%) read as upper bounds."""
    if rate is None:
        return None
    if rate <= 0.05:
        return "elite"
    if rate <= 0.10:
        return "high"
    return "medium" if rate <= 0.15 else "low"


def restore_band(seconds: float | None) -> str | None:
    """Under an hour / under a day / under a week / longer."""
    if seconds is None:
        return None
    if seconds < HOUR:
        return "elite"
    if seconds < DAY:
        return "high"
    return "medium" if seconds < 7 * DAY else "low"


# -- the history ------------------------------------------------------------------------------------------------
@dataclass
class Change:
    """One change that reached production: a deployment (``via`` deploy/promote) or a failed rollout."""

    app: str
    env: str
    version_id: str
    version: int | None
    at: float
    via: str
    lead_s: float | None = None
    failed: bool = False
    restore_s: float | None = None
    rollout: str | None = None


def _epoch(value: Any) -> float:
    """A stored time as epoch seconds (SQLite hands back naive datetimes, which are UTC)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def _full(splits: list[dict[str, Any]]) -> str | None:
    """The version serving all of the environment in this deployment, if one does."""
    live = [s for s in splits if float(s["percentage"]) > 0]
    return str(live[0]["version_id"]) if len(live) == 1 and float(live[0]["percentage"]) >= 100 else None


def _walk(rows: list[dict[str, Any]], uploads: dict[str, tuple[int, float]]) -> list[Change]:
    """Deployments and rolled-back deployments of one environment, from its deployments in ``seq`` order."""
    served: set[str] = set()
    current: str | None = None
    live: Change | None = None  # the deployment serving now, if a counted one brought it
    out: list[Change] = []
    for d in rows:
        full = _full(d["splits"]) if d["kind"] in ("deploy", "promote", "rollback") else None
        if full is None or full == current:
            continue
        at = _epoch(d["created_at"])
        if d["kind"] == "rollback" or full in served:
            if live is not None:
                live.failed, live.restore_s = True, at - live.at
            live = None
        else:
            number, uploaded = uploads.get(full, (None, None))
            live = Change(d["app"], d["env"], full, number, at, d["kind"], None if uploaded is None else at - uploaded)
            out.append(live)
        served.add(full)
        current = full
    return out


def _failed_rollouts(
    failed: list[dict[str, Any]], history: dict[tuple[str, str], list[dict[str, Any]]],
    uploads: dict[str, tuple[int, float]], now: float,
) -> list[Change]:  # fmt: skip
    """Rollouts that ended failed/aborted after their version took traffic (from the deployments they made)."""
    out = []
    for r in failed:
        if r["finished_at"] is None or (finished := _epoch(r["finished_at"])) > now:
            continue
        started = _epoch(r["created_at"])
        exposed = next(
            (_epoch(d["created_at"]) for d in history.get((r["app"], r["env"]), [])
             if started <= _epoch(d["created_at"]) <= finished
             and any(s["version_id"] == r["version_id"] and float(s["percentage"]) > 0 for s in d["splits"])),
            None,
        )  # fmt: skip
        if exposed is None:
            continue
        number = uploads.get(r["version_id"], (None, 0.0))[0]
        out.append(Change(r["app"], r["env"], r["version_id"], number, exposed, "rollout", failed=True,
                          restore_s=finished - exposed, rollout=r["id"]))  # fmt: skip
    return out


async def _load(store: Store, app: str | None, env: str | None) -> list[list[dict[str, Any]]]:
    """Deployments, versions, failed/aborted rollouts and resolved incidents of the selection."""
    dq = select(deployments).order_by(deployments.c.app, deployments.c.env, deployments.c.seq)
    vq = select(versions.c.id, versions.c.number, versions.c.created_at)
    rq = select(rollouts).where(rollouts.c.state.in_(FAILED_ROLLOUT_STATES))
    iq = select(incidents).where(incidents.c.resolved_at.is_not(None))
    if app is not None:
        dq, vq = dq.where(deployments.c.app == app), vq.where(versions.c.app == app)
        rq, iq = rq.where(rollouts.c.app == app), iq.where(incidents.c.app == app)
    if env is not None:
        dq, rq, iq = (
            dq.where(deployments.c.env == env),
            rq.where(rollouts.c.env == env),
            iq.where(incidents.c.env == env),
        )
    async with store.engine.connect() as conn:
        return [[dict(r._mapping) for r in await conn.execute(q)] for q in (dq, vq, rq, iq)]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


async def dora(store: Store, app: str | None, env: str | None, since: float, now: float) -> dict[str, Any]:
    """The four metrics over [since, now] for ``app``/``env`` (None: all apps / all environments)."""
    rows, version_rows, failed_rollouts, resolved = await _load(store, app, env)
    uploads = {v["id"]: (v["number"], _epoch(v["created_at"])) for v in version_rows}
    history: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for d in rows:
        if _epoch(d["created_at"]) <= now:
            history[(d["app"], d["env"])].append(d)
    changes = [c for key in sorted(history) for c in _walk(history[key], uploads)]
    changes += _failed_rollouts(failed_rollouts, history, uploads, now)
    changes = sorted((c for c in changes if since <= c.at <= now), key=lambda c: c.at)

    deploys = [c for c in changes if c.via != "rollout"]
    days = max((now - since) / DAY, 1e-9)
    per_day = len(deploys) / days
    leads = [c.lead_s for c in deploys if c.lead_s is not None]
    failures = [c for c in changes if c.failed]
    rate = len(failures) / len(changes) if changes else None
    restores = [c.restore_s for c in failures if c.restore_s is not None]
    incident_times = [float(i["resolved_at"]) - float(i["created_at"]) for i in resolved
                      if since <= float(i["created_at"]) <= now]  # fmt: skip
    restore = _median(restores) if restores else _median(incident_times)
    source = "deployments" if restores else ("incidents" if incident_times else None)
    return {
        "app": app, "env": env, "since": since, "until": now, "days": round(days, 3),
        "deployment_frequency": {"deploys": len(deploys), "per_day": per_day, "per_week": per_day * 7,
                                 "band": frequency_band(per_day)},
        "lead_time": {"median_s": _median(leads), "mean_s": statistics.fmean(leads) if leads else None,
                      "samples": len(leads), "band": lead_time_band(_median(leads))},
        "change_failure_rate": {"changes": len(changes), "failures": len(failures), "rate": rate,
                                "band": failure_rate_band(rate)},
        "time_to_restore": {"median_s": restore, "samples": len(restores) if restores else len(incident_times),
                            "source": source, "band": restore_band(restore),
                            "incidents": {"resolved": len(incident_times), "median_s": _median(incident_times)}},
        "changes": [asdict(c) for c in changes],
    }  # fmt: skip
