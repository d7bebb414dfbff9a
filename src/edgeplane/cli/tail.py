"""``edgeplane tail``: live request records from the gateway, like ``wrangler tail`` (SSE from ``/v1/tail``)."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import click
from rich.text import Text

from edgeplane.cli.client import current_client
from edgeplane.cli.output import console

__all__ = ["COMMANDS", "pretty_line"]

STATUS_STYLES = {2: "green", 3: "cyan", 4: "yellow", 5: "bold red"}


def pretty_line(r: dict[str, Any]) -> Text:
    """``12:00:01.234  200  GET  /path  12.3 ms  v3  US``, the status coloured by class."""
    version = f"v{r['version']}" if r.get("version") else (r.get("version_id") or "-")[:8]
    return Text.assemble(
        (r["time"][11:23], "dim"), "  ",
        (str(r["status"]), STATUS_STYLES.get(r["status"] // 100, "")), "  ",
        f"{r['method']:<6} {r['path']}  ",
        (f"{r['latency_ms']:.1f} ms", "bold" if r["latency_ms"] >= 1000 else ""), "  ",
        (f"{r['app']}/{r['env']} {version}" if r.get("app") else "(no route)", "blue"), "  ",
        r.get("country") or "-",
    )  # fmt: skip


@click.command()
@click.option("--app", default=None, help="Only this app (default: every app).")
@click.option("--env", "-e", default=None, help="Only this environment (default: every environment).")
@click.option(
    "--version", "version", default=None, help="Only this version: vN, tag or id with --app; else an id prefix."
)
@click.option("--status", default=None, help="5xx, 4xx, 2xx, a code like 404, or a comma list.")
@click.option("--search", default=None, help="Only paths containing this text (case-insensitive).")
@click.option("--method", default=None, help="Only this method (or a comma list).")
@click.option("--sample", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Share of matching requests shown.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["pretty", "json"]), default=None,
              help="pretty: a coloured line a request; json: a JSON object a line (default with --json).")  # fmt: skip
def tail(
    app: str | None, env: str | None, version: str | None, status: str | None, search: str | None,
    method: str | None, sample: float, fmt: str | None,
) -> None:  # fmt: skip
    """Stream live requests through the gateway until Ctrl-C."""
    as_json = fmt == "json" or (fmt is None and bool(click.get_current_context().find_root().params.get("as_json")))
    params = {"app": app, "env": env, "version": version, "status": status, "search": search, "method": method,
              "sample": sample if sample < 1 else None}  # fmt: skip
    shown = dropped = 0
    frames = current_client().sse("/v1/tail", **params)
    try:
        with contextlib.closing(frames):
            for kind, data in frames:
                if kind == "ready":
                    click.echo("tailing live requests (Ctrl-C to stop)", err=True)
                elif kind == "request":
                    shown += 1
                    if as_json:
                        click.echo(json.dumps(data))
                    else:
                        console.print(pretty_line(data))
                elif kind == "dropped":
                    dropped = int(data["dropped"])
                    click.echo(f"(too slow: {dropped} requests dropped so far; narrow the filters or --sample)",
                               err=True)  # fmt: skip
    except KeyboardInterrupt:
        click.echo(f"stopped: {shown} requests shown, {dropped} dropped", err=True)
        return
    click.echo("the platform ended the stream (it is stopping)", err=True)
    sys.exit(1)


COMMANDS = [tail]
