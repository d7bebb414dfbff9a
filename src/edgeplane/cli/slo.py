"""``edgeplane slo status``: every SLO's SLI, target, error budget left, burn rates and alert state."""

from __future__ import annotations

import click
from rich.table import Table

from edgeplane.cli.client import current_client
from edgeplane.cli.output import console, emit

__all__ = ["COMMANDS", "budget_bar"]


def budget_bar(remaining: float | None, width: int = 20) -> str:
    """The error budget left as a bar: green while most is left, yellow under half, red when spent."""
    if remaining is None:
        return "[dim]no traffic[/]"
    share = min(max(remaining, 0.0), 1.0)
    filled = round(share * width)
    color = "green" if share >= 0.5 else "yellow" if share > 0 else "red"
    return f"[{color}]{'█' * filled}[/][dim]{'░' * (width - filled)}[/] {remaining * 100:5.1f}%"


def _burn(value: float | None) -> str:
    if value is None:
        return "[dim]-[/]"
    color = "red" if value >= 6 else "yellow" if value > 1 else "green"
    return f"[{color}]{value:.2f}x[/]"


@click.group()
def slo() -> None:
    """Service level objectives ([[slos]] in edgeplane.toml)."""


@slo.command("status")
@click.option("--app", default=None, help="Only this app.")
@click.option("--env", "-e", default=None, help="Only this environment.")
def status(app: str | None, env: str | None) -> None:
    """SLI, target, error budget remaining and burn rates over the standard windows (5m 30m 1h 6h 3d for a
    30-day SLO; scaled for other windows), with the burn-rate alerts' state."""
    result = current_client().get("/v1/slo", app=app, env=env)
    if emit(result):
        return
    rows = result["slos"]
    if not rows:
        console.print("no SLOs: add [[slos]] to an app's edgeplane.toml (see docs/alerting.md)")
        return
    windows = list(rows[0]["burn_rates"])
    t = Table(header_style="bold")
    for col in ("app/env", "slo", "kind", "target", "window", "SLI", "budget left", *[f"burn {w}" for w in windows],
                "alerts"):  # fmt: skip
        t.add_column(col)
    for r in rows:
        target = f"{r['target']:g}%" if r["kind"] != "latency" else f"{r['target']:g}% < {r['threshold_ms']:g} ms"
        if r["kind"] == "error_rate":
            target = f"errors < {r['target']:g}%"
        sli = "-" if r["sli"] is None else f"{r['sli'] * 100:.3f}%"
        alerts = ", ".join(f"[red]{k} {v}[/]" if v == "firing" else f"{k} {v}" for k, v in r["alerts"].items())
        burns = [_burn(r["burn_rates"].get(w)) for w in windows]
        t.add_row(f"{r['app']}/{r['env']}", r["slo"], r["kind"], target, r["window"], sli,
                  budget_bar(r["budget_remaining"]), *burns, alerts or "[green]ok[/]")  # fmt: skip
    console.print(t)


COMMANDS = [slo]
