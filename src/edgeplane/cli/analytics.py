"""``edgeplane analytics query|datasets`` — SQL over Analytics Engine datasets, like Cloudflare's SQL API."""

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


COMMANDS = [analytics]
