"""``edgeplane health`` (the node's components) and ``edgeplane probes`` (synthetic checks and their figures)."""

from __future__ import annotations

import sys
from typing import Any

import click
import httpx

from edgeplane.cli.client import current_client
from edgeplane.cli.output import console, emit, short_time, table
from edgeplane.errors import EdgeplaneError

__all__ = ["COMMANDS"]

STYLES = {"healthy": "green", "degraded": "yellow", "unhealthy": "red"}


def _fetch_health() -> dict[str, Any]:
    """``/health`` whatever its status (503 still carries the report); the token, when there is one, adds the
    components' details."""
    client = current_client()
    headers = {"authorization": f"Bearer {client.token}"} if client.token else {}
    try:
        response = client.http.get("/health", headers=headers, timeout=30.0)
    except httpx.HTTPError:
        raise EdgeplaneError(
            f"cannot reach the admin API at {client.base_url}: is 'edgeplane serve' (or 'make up') running?",
            code="unreachable",
        ) from None
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if "components" not in body:
        raise client._error(response)
    result: dict[str, Any] = body
    return result


def _summary(entry: dict[str, Any]) -> str:
    """One line of what matters in a component's details."""
    details = entry.get("details") or {}
    if not isinstance(details, dict):
        return ""
    keep = ("reason", "backlog_files", "oldest_age_s", "age_s", "failing", "stalled", "bindings", "errors")
    parts = [f"{k}={details[k]}" for k in keep if details.get(k) not in (None, [], {}, "")]
    return ", ".join(parts)[:120]


@click.command()
@click.option("--details", "-d", "show_details", is_flag=True, help="Add a column with each component's details.")
def health(show_details: bool) -> None:
    """The node's health: overall status and each component's status and response time (exit 1 when unhealthy;
    details need a token with the read scope)."""
    report = _fetch_health()
    if not emit(report):
        style = STYLES.get(report["status"], "")
        console.print(
            f"[{style}]{report['status']}[/]  version {report['version']}  colo {report['colo']}  "
            f"up {report['uptime_s']:.0f} s  checked {short_time(report['checked_at'])}"
        )
        columns = ["component", "status", "ms", "error"] + (["details"] if show_details else [])
        rows = [
            (name, f"[{STYLES.get(c['status'], '')}]{c['status']}[/]", f"{c['response_ms']:.1f}", c.get("error") or "",
             *([_summary(c)] if show_details else []))
            for name, c in report["components"].items()
        ]  # fmt: skip
        table(None, columns, rows)
    if report["status"] == "unhealthy":
        sys.exit(1)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f}%"


@click.command()
@click.argument("name", required=False)
@click.option("--results", "-n", type=int, default=10, show_default=True, help="Latest results shown for NAME.")
def probes(name: str | None, results: int) -> None:
    """Synthetic probes run from this node: latest result, success rate and p95 latency over the last hour.
    With NAME, that probe's latest results."""
    client = current_client()
    if name is not None:
        probe = client.get(f"/v1/probes/{name}", results=results)
        if emit(probe):
            return
        console.print(f"{probe['name']}  {probe['method']} {probe['url']}  every {probe['interval_s']:g} s "
                      f"from {probe['colo']}")  # fmt: skip
        results_rows = [(short_time(r["at"]), "ok" if r["ok"] else "[red]failed[/]", r["status"],
                         f"{r['latency_ms']:.1f}", r["error"] or "") for r in probe["results"]]  # fmt: skip
        table(None, ["at", "result", "status", "ms", "error"], results_rows)
        return
    listing = client.get("/v1/probes")
    if emit(listing):
        return
    if not listing["probes"]:
        console.print("no probes configured (add [[probes]] to the alerting file, see docs/observability.md)")
        return
    rows: list[tuple[Any, ...]] = []
    for p in listing["probes"]:
        latest = p["latest"] or {}
        result = "" if not latest else "ok" if latest["ok"] else "[red]failed[/]"
        p95 = "" if p["p95_latency_ms_1h"] is None else f"{p['p95_latency_ms_1h']:.1f}"
        rows.append((p["name"], p["url"], result, latest.get("status"), latest.get("error") or "",
                     _percent(p["success_rate_1h"]), p95, p["checks_1h"]))  # fmt: skip
    table(f"probes from {listing['colo']}", ["probe", "url", "latest", "status", "error", "success 1h",
                                             "p95 ms 1h", "checks 1h"], rows)  # fmt: skip


COMMANDS = [health, probes]
