"""Options and lookups every app-scoped command shares (``--env``, ``--app``)."""

from __future__ import annotations

import click

from edgeplane.cli.client import current_project
from edgeplane.config.load import load_app_config

__all__ = ["app_name", "app_option", "env_option"]

env_option = click.option("--env", "-e", default="production", show_default=True, help="Environment.")
app_option = click.option("--app", default=None, help="App name (default: name in edgeplane.toml).")


def app_name(app: str | None) -> str:
    """``--app``, or the name in the project's edgeplane.toml."""
    return app or load_app_config(current_project()).name
