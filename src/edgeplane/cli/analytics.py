"""``edgeplane analytics query|datasets|requests`` — SQL over Analytics Engine datasets, like Cloudflare's SQL
API, and the gateway's request analytics dashboard."""

from __future__ import annotations

import sys
from typing import IO

import click

from edgeplane.cli.client import current_client
from edgeplane.cli.output import console, emit, table

__all__ = ["COMMANDS"]


@click.group()
def analytics() -> None:
    """Workers Analytics Engine datasets."""


@analytics.command("query")
@click.argument("sql", required=False)
@click.option("--file", "-f", "path", type=click.File("r"), default=None, help="Read the query from a file.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds before the query is stopped.")
def query(sql: str | None, path: IO[str] | None, timeout: float) -> None:
    """Run SQL (one SELECT, Cloudflare's dialect) and print the rows as a table."""
    if (sql is None) == (path is None):
        raise click.UsageError("give either SQL or --file FILE")
    text = sql if sql is not None else path.read() if path is not None else ""
    result = current_client().request(
        "POST", "/v1/analytics/sql", content=text.encode(), params={"timeout": timeout},
        headers={"content-type": "text/plain"},
    )  # fmt: skip
    if emit(result):
        return
    names = [m["name"] for m in result["meta"]]
    table(None, names, [[row[n] for n in names] for row in result["data"]])
    more = " (truncated)" if result.get("truncated") else ""
    print(f"{result['rows']} rows{more} in {result['elapsed_ms']:.1f} ms", file=sys.stderr)


@analytics.command("datasets")
def datasets() -> None:
    """Datasets with their point counts and time span."""
    result = current_client().get("/v1/analytics/datasets")
    if emit(result):
        return
    rows = [(d["dataset"], d["points"], d["first"], d["last"]) for d in result["datasets"]]
    if not rows:
        console.print("no analytics points yet")
        return
    table("analytics datasets", ["dataset", "points", "first", "last"], rows)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


@analytics.command("requests")
@click.option("--app", default=None, help="Only this app (default: every app).")
@click.option("--env", "-e", default=None, help="Only this environment (default: every environment).")
@click.option("--since", default="1h", show_default=True, help="How far back: 15m, 1h, 7d…")
def requests(app: str | None, env: str | None, since: str) -> None:
    """Request analytics from the gateway: latency, throughput, error and cache hit rates, top countries, colos
    and routes, and the same per version."""
    s = current_client().get("/v1/observe/requests", app=app, env=env, since=since)
    if emit(s):
        return
    where = " ".join(f"{k}={v}" for k, v in (("app", app), ("env", env)) if v) or "all apps"
    lat, classes = s["latency_ms"], s["status_classes"]
    table(
        f"requests · {where} · last {since}",
        ["requests", "req/s", "error rate", "p50", "p95", "p99", "cache hit rate", "2xx/3xx/4xx/5xx"],
        [[s["requests"], s["throughput_rps"], _pct(s["error_rate"]), _ms(lat["p50"]), _ms(lat["p95"]),
          _ms(lat["p99"]), _pct(s["cache"]["hit_rate"]), "/".join(str(classes[k]) for k in classes)]],
    )  # fmt: skip
    if not s["requests"]:
        return
    table("versions", ["app", "env", "version", "requests", "req/s", "error rate", "p50", "p95", "p99"], [
        [v["app"] or "(no route)", v["env"], f"v{v['number']}" if v.get("number") else v["version_id"][:8],
         v["requests"], v["throughput_rps"], _pct(v["error_rate"]), *(_ms(v["latency_ms"][q]) for q in lat)]
        for v in s["versions"]
    ])  # fmt: skip
    for key, name in (("top_countries", "country"), ("top_colos", "colo"), ("top_routes", "route")):
        rows = [(r[name] or "(unknown)", r["requests"], _pct(r["requests"] / s["requests"])) for r in s[key]]
        table(key.replace("_", " "), [name, "requests", "share"], rows)


COMMANDS = [analytics]
