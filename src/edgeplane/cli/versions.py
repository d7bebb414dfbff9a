"""``edgeplane versions upload|list|view``."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from edgeplane.cli.client import current_client, current_project
from edgeplane.cli.options import app_name, app_option
from edgeplane.cli.output import console, emit, short_time, table
from edgeplane.config.load import load_app_config
from edgeplane.runtime.bundles import pack_directory

__all__ = ["COMMANDS"]


@click.group()
def versions() -> None:
    """Immutable, content-addressed versions of the worker."""


@versions.command("upload")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("-m", "--message", default="", help="What changed.")
@click.option("-t", "--tag", default=None, help="A label you can deploy by (e.g. a git sha or 'v1.2').")
def upload(directory: Path | None, message: str, tag: str | None) -> None:
    """Pack the worker directory into a bundle and record it as a new version."""
    root = directory or current_project()
    config = load_app_config(root)
    data = pack_directory(root)
    params = {"message": message, "author": getpass.getuser()}
    if tag:
        params["tag"] = tag
    version = current_client().post(
        f"/v1/apps/{config.name}/versions",
        content=data,
        headers={"content-type": "application/gzip"},
        params=params,
    )
    if emit(version):
        return
    console.print(
        f"uploaded [bold]{config.name}[/] v{version['number']}  id {version['id']}  "
        f"sha256 {version['hash'][:12]}  ({len(data) / 1024:.1f} KiB)"
    )
    console.print(f"deploy it: edgeplane deploy v{version['number']} --env production")


@versions.command("list")
@app_option
def list_versions(app: str | None) -> None:
    """Versions of the app, newest first."""
    name = app_name(app)
    rows = current_client().get(f"/v1/apps/{name}/versions")["versions"]
    if emit(rows):
        return
    table(
        f"{name}: versions",
        ["version", "id", "tag", "sha256", "author", "created", "message"],
        [
            (f"v{v['number']}", v["id"][:8], v["tag"], v["hash"][:12], v["author"], short_time(v["created_at"]),
             v["message"])
            for v in rows
        ],
    )  # fmt: skip


@versions.command("view")
@click.argument("ref")
@app_option
def view(ref: str, app: str | None) -> None:
    """One version in full (REF: vN, tag, id prefix or 'latest')."""
    v = current_client().get(f"/v1/apps/{app_name(app)}/versions/{ref}")
    if emit(v):
        return
    cfg = v["config"]
    table(
        f"{v['app']} v{v['number']}",
        ["field", "value"],
        [
            ("id", v["id"]), ("sha256", v["hash"]), ("tag", v["tag"]), ("message", v["message"]),
            ("author", v["author"]), ("created", short_time(v["created_at"])),
            ("main", cfg.get("main") or f"upstream {cfg.get('upstream')}"),
            ("environments", ", ".join(sorted(cfg.get("env") or {})) or "(standard)"),
            ("vars", ", ".join(sorted(cfg.get("vars") or {}))),
        ],
    )  # fmt: skip


COMMANDS = [versions]
