"""Entry point of the ``edgeplane`` command; each command group lives in its own module."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgeplane import __version__
from edgeplane.cli import (
    alerting,
    alerts,
    analytics,
    cache,
    d1,
    deploy,
    health,
    incidents,
    kv,
    observe,
    project,
    r2,
    rollout,
    serve,
    slo,
    tail,
    tokens,
    versions,
)
from edgeplane.cli.client import ClientOptions
from edgeplane.errors import EdgeplaneError

__all__ = ["cli", "main"]


@click.group()
@click.version_option(__version__, prog_name="edgeplane")
@click.option("--admin-url", envvar="EDGEPLANE_ADMIN_URL", help="Admin API URL (default from edgeplane.toml or :8788).")
@click.option("--token", envvar="EDGEPLANE_TOKEN", help="Admin API token (default: .edgeplane/admin.token).")
@click.option(
    "--dir",
    "project",
    type=click.Path(path_type=Path),
    default=".",
    help="Project directory (default: current).",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def cli(ctx: click.Context, admin_url: str | None, token: str | None, project: Path, as_json: bool) -> None:
    """edgeplane: versioned workers behind a fast gateway, on your own machines."""
    ctx.obj = ClientOptions(admin_url=admin_url, token=token, project=project)


for module in (
    project,
    serve,
    versions,
    deploy,
    rollout,
    kv,
    r2,
    d1,
    analytics,
    tokens,
    incidents,
    alerts,
    alerting,
    health,
    tail,
    slo,
    observe,
    cache,
):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except EdgeplaneError as exc:
        click.echo(f"error [{exc.code}]: {exc.message}", err=True)
        stderr = exc.details.get("stderr") if exc.details else None
        if stderr:
            click.echo("--- worker output ---\n" + str(stderr).rstrip(), err=True)
        sys.exit(1)
