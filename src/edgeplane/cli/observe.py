"""``edgeplane observe …``: observability helpers that run locally (no admin API call)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeplane.observe.grafana import dashboard

__all__ = ["COMMANDS"]


@click.group()
def observe() -> None:
    """Observability: dashboards for the platform's metrics."""


@observe.command("grafana-dashboard")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the JSON to FILE instead of standard output.")  # fmt: skip
@click.option("--title", default="edgeplane", show_default=True, help="Dashboard title.")
@click.option("--uid", default="edgeplane", show_default=True, help="Dashboard uid (stable across imports).")
def grafana_dashboard(output: Path | None, title: str, uid: str) -> None:
    """Print a Grafana dashboard (JSON) over the /metrics series: rates, errors, latency, versions, pools,
    rollouts, alerts. Import it in Grafana and pick the Prometheus that scrapes the admin API's /metrics."""
    text = json.dumps(dashboard(title=title, uid=uid), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text)
    click.echo(f"wrote {output}", err=True)


COMMANDS = [observe]
