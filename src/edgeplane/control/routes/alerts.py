"""``/v1/alerts``, ``/v1/silences``, ``/v1/slo``: alert states, rules, acknowledgement, reloading the alerting
file, silences and SLO status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from edgeplane.config.deploy import Duration
from edgeplane.control.routes.auth import Admin, Deployer, Reader, control_of

__all__ = ["router"]

router = APIRouter(tags=["alerts"])


@router.get("/v1/alerts")
async def list_alerts(request: Request, _: Reader, state: str | None = None) -> dict[str, Any]:
    """Alert instances (pending, firing, resolved, error) with their labels, value and what their actions did."""
    alerts = control_of(request).observe.alerts
    return {"alerts": alerts.listing(state), "last_cycle_at": alerts.last_cycle_at or None,
            "last_cycle_ms": alerts.last_cycle_ms, "errors": alerts.errors}  # fmt: skip


@router.get("/v1/alerts/rules")
async def list_rules(request: Request, _: Reader) -> dict[str, Any]:
    """Every rule the evaluator runs: the alerting file's and the SLO burn-rate alerts."""
    hub = control_of(request).observe
    alerts = hub.alerts
    if not alerts.rules:
        alerts.rules = await alerts._all_rules()
    configs = {r.name: r for r in hub.alerting.rules}
    out = []
    for rule in alerts.rules:
        config = configs.get(rule.name)
        states = [i.state for i in alerts.known.values() if i.rule == rule.name]
        out.append({
            "name": rule.name, "source": rule.source, "severity": rule.severity, "for": rule.for_,
            "expr": config.expr if config else rule.summary, "query": config.query if config else None,
            "actions": [a if isinstance(a, str) else a.kind for a in rule.actions],
            "firing": states.count("firing"), "pending": states.count("pending"), "error": states.count("error"),
        })  # fmt: skip
    return {"rules": out, "file": str(hub.alerting_file) if hub.alerting_file else None}


@router.post("/v1/alerts/reload")
async def reload(request: Request, _: Admin) -> dict[str, Any]:
    """Re-read the alerting file; a bad file is a 400 naming the key, and the running config stays."""
    hub = control_of(request).observe
    config = await hub.reload()
    return {"rules": len(config.rules), "receivers": len(config.receivers), "probes": len(config.probes),
            "file": str(hub.alerting_file) if hub.alerting_file else None}  # fmt: skip


@router.post("/v1/alerts/evaluate")
async def evaluate(request: Request, _: Admin) -> dict[str, Any]:
    """Run one evaluation cycle now (it also runs every ``evaluation_interval``)."""
    return await control_of(request).observe.alerts.cycle()


@router.post("/v1/alerts/{ref}/ack")
async def ack(ref: str, request: Request, token: Deployer) -> dict[str, Any]:
    """Acknowledge firing alerts (fingerprint prefix or alert name): stops their escalation."""
    return {"alerts": await control_of(request).observe.alerts.ack(ref, token["name"])}


class SilenceIn(BaseModel):
    matchers: dict[str, str] = Field(description="labels an alert must all have, e.g. {'alertname': 'HighErrorRate'}")
    duration: Duration = Field(description="how long, e.g. '2h'")
    comment: str = ""


@router.get("/v1/silences")
async def list_silences(request: Request, _: Reader, expired: bool = False) -> dict[str, Any]:
    return {"silences": await control_of(request).observe.alerts.silences.listing(expired)}


@router.post("/v1/silences", status_code=201)
async def create_silence(body: SilenceIn, request: Request, token: Deployer) -> dict[str, Any]:
    silences = control_of(request).observe.alerts.silences
    return await silences.create(body.matchers, body.duration, comment=body.comment, actor=token["name"])


@router.delete("/v1/silences/{ref}")
async def expire_silence(ref: str, request: Request, token: Deployer) -> dict[str, Any]:
    return await control_of(request).observe.alerts.silences.expire(ref, token["name"])


@router.get("/v1/slo")
async def slo_status(
    request: Request, _: Reader, app: str | None = None, env: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:  # fmt: skip
    """Every SLO: SLI over its window, target, error budget left, burn rates over the standard windows, and the
    state of its burn-rate alerts."""
    alerts = control_of(request).observe.alerts
    rows = (await alerts.slos.status(app, env))[:limit]
    for row in rows:
        prefix = f"{row['app']}/{row['env']}/{row['slo']}"
        row["alerts"] = {
            i.rule.split(":", 1)[0].removeprefix("slo-"): i.state
            for i in alerts.known.values()
            if i.rule.endswith(":" + prefix) and i.state in ("pending", "firing")
        }
    return {"slos": rows}
