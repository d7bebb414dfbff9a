"""Checks of a new version outside the traffic judges: a health probe of its processes, and blue-green's
pre-switch smoke requests (through the gateway, with the override header, while it has 0% of traffic) and
webhook."""

from __future__ import annotations

from typing import Any

import httpx

from edgeplane.config.app import Route
from edgeplane.delivery.judges import Finding, Verdict
from edgeplane.gateway.proxy import UpstreamError
from edgeplane.gateway.stages.router import OVERRIDE_HEADER
from edgeplane.runtime.supervisor import probe

__all__ = ["probe_health", "smoke_and_webhook"]

TIMEOUT = 10.0


async def probe_health(pool: Any) -> str:
    """One probe: "" when a healthy process answers the version's health path below 500, else why not."""
    endpoint = pool.pick() if pool is not None else None
    if endpoint is None:
        return "no healthy process"
    path = pool.spec.health_check_path
    if not path:
        return ""
    try:
        status = await probe(endpoint, getattr(pool, "base_path", "") + path)
    except (UpstreamError, TimeoutError, OSError) as exc:
        return f"{path}: {exc or type(exc).__name__}"
    return f"{path} answered {status}" if status >= 500 else ""


async def smoke_and_webhook(
    gateway_url: str, routes: list[Route], rollout: dict[str, Any], step: dict[str, Any]
) -> list[Finding]:
    """The step's smoke requests (sent to the environment's first plain-host route) and webhook, as findings."""
    route = next((r for r in routes if not r.wildcard_host), routes[0] if routes else None)
    host = route.host.lstrip(".") if route is not None else "localhost"
    prefix = route.path_prefix.rstrip("/") if route is not None else ""
    override = {OVERRIDE_HEADER.decode(): rollout["version_id"]}
    findings: list[Finding] = []
    async with httpx.AsyncClient(base_url=gateway_url, timeout=TIMEOUT) as client:
        if step.get("smoke"):
            results, failed = [], []
            for check in step["smoke"]:
                headers = {**check["headers"], "host": host, **override}
                try:
                    resp = await client.request(
                        check["method"], prefix + check["path"], headers=headers, content=check["body"]
                    )
                    body_ok = check["expect_body"] is None or check["expect_body"] in resp.text
                    ok = resp.status_code == check["expect_status"] and body_ok
                    got = f"{resp.status_code}" + ("" if body_ok else f", body lacks {check['expect_body']!r}")
                except httpx.HTTPError as exc:
                    ok, got = False, f"error: {exc}"
                results.append({"method": check["method"], "path": check["path"], "expected": check["expect_status"],
                                "got": got, "ok": ok})  # fmt: skip
                if not ok:
                    failed.append(f"{check['method']} {check['path']} -> {got}")
            verdict: Verdict = "fail" if failed else "pass"
            reason = "; ".join(failed) or f"{len(results)} check(s) passed"
            findings.append(Finding("smoke", verdict, reason, {"checks": results}))
        if step.get("webhook"):
            payload = {"rollout": rollout["id"], "app": rollout["app"], "env": rollout["env"],
                       "version_id": rollout["version_id"], "stable_id": rollout["stable_id"],
                       "preview": {"header": OVERRIDE_HEADER.decode(), "value": rollout["version_id"]}}  # fmt: skip
            try:
                resp = await client.post(step["webhook"], json=payload)
                ok, got = resp.is_success, f"{resp.status_code}"
            except httpx.HTTPError as exc:
                ok, got = False, f"error: {exc}"
            evidence = {"url": step["webhook"], "status": got}
            findings.append(Finding("webhook", "pass" if ok else "fail", f"webhook answered {got}", evidence))
    return findings
