"""``edgeplane serve``: run the platform (gateway, admin API, workers) in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from edgeplane import __version__
from edgeplane.cli.client import current_project
from edgeplane.cli.output import console
from edgeplane.config.load import CONFIG_FILE, load_app_config, load_server_config
from edgeplane.config.server import ServerConfig
from edgeplane.control.tokens import TOKEN_FILE

if TYPE_CHECKING:
    from edgeplane.server import Platform

__all__ = ["COMMANDS", "banner"]


def banner(config: ServerConfig, token: str | None, platform: Platform) -> None:
    """Print where everything is, once the platform serves."""
    table = platform.gateway.routes.table
    served = ", ".join(sorted(f"{a}/{e}" for a, e in table.targets)) or "nothing deployed yet"
    console.print(f"[bold green]edgeplane {__version__}[/] is serving ({served})")
    console.print(f"  app        http://{config.host}:{config.port}/")
    console.print(f"  admin API  http://{config.admin_host}:{config.admin_port}/  (OpenAPI: /docs, /openapi.json)")
    token_file = config.data_dir / TOKEN_FILE
    if token:
        console.print(f"  admin token (shown once, stored hashed): [bold]{token}[/]")
    if token_file.exists():
        console.print(f"  the CLI reads the token from {token_file} (or set EDGEPLANE_TOKEN)")
    elif not token:
        console.print("  admin token: created at first start; create more with 'edgeplane tokens create'")
    console.print("  stop with Ctrl-C")


@click.command()
@click.option("--host", default=None, help="Gateway bind address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Gateway port (default 8787).")
@click.option("--admin-port", type=int, default=None, help="Admin API port (default 8788).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="State directory (default .edgeplane).")
@click.option("--deploy", "deploy_dir", type=click.Path(path_type=Path), default=None,
              help="Upload this worker directory at start and deploy it (skipped when unchanged).")  # fmt: skip
@click.option("--env", "-e", default="production", show_default=True, help="Environment for --deploy.")
@click.option("--fallback", default=None, help="app/env serving requests that match no route.")
def serve(
    host: str | None, port: int | None, admin_port: int | None, data_dir: Path | None,
    deploy_dir: Path | None, env: str, fallback: str | None,
) -> None:  # fmt: skip
    """Run the platform in the foreground (settings from [server] in edgeplane.toml, flags win)."""
    project = current_project()
    config = load_server_config(
        project if (project / CONFIG_FILE).is_file() else None,
        host=host, port=port, admin_port=admin_port, data_dir=data_dir, fallback=fallback,
    )  # fmt: skip
    if deploy_dir is not None:
        load_app_config(deploy_dir)  # fail before starting anything

    from edgeplane.server import run

    def ready(platform: Platform, token: str | None) -> None:
        banner(config, token, platform)

    run(config, deploy=deploy_dir, env=env, on_ready=ready)


COMMANDS = [serve]
