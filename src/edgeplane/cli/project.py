"""``edgeplane init`` (a new worker project) and ``edgeplane dev`` (run it locally, reload on change)."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from edgeplane.cli.client import current_project
from edgeplane.cli.output import console
from edgeplane.cli.serve import banner
from edgeplane.cli.templates import FILES
from edgeplane.config.load import CONFIG_FILE, load_app_config, load_server_config
from edgeplane.delivery.splits import Split
from edgeplane.errors import EdgeplaneError
from edgeplane.runtime.bundles import pack_directory

if TYPE_CHECKING:
    from edgeplane.server import Platform

__all__ = ["COMMANDS"]


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="App name (default: the directory name).")
def init(directory: Path, name: str | None) -> None:
    """Create DIRECTORY with an edgeplane.toml and a minimal FastAPI worker."""
    app_name = name or re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-") or "worker"
    if (directory / CONFIG_FILE).exists():
        raise click.ClickException(f"{directory / CONFIG_FILE} already exists; not overwriting it")
    directory.mkdir(parents=True, exist_ok=True)
    today = datetime.date.today().isoformat()
    for filename, text in FILES.items():
        path = directory / filename
        if not path.exists():
            path.write_text(text.format(name=app_name, today=today))
    load_app_config(directory)  # the template must always be valid
    console.print(f"created {directory}/ ({', '.join(FILES)})")
    console.print(f"next: cd {directory} && edgeplane dev")


async def _watch(platform: Platform, root: Path, env: str, deployed_hash: str) -> None:
    """Redeploy when the project's bundle changes. The watcher compares bundle hashes, so edits made before it
    was ready (and edits that change nothing) are handled too."""
    from watchfiles import DefaultFilter, awatch

    app = load_app_config(root).name
    last, checked = deployed_hash, False
    ignore = DefaultFilter(ignore_dirs=(".edgeplane", "__pycache__", ".git"))
    # Filtered here, not by awatch: the platform keeps writing under .edgeplane (analytics spool, state), and
    # awatch only yields on a timeout when nothing at all changed, so with its filter a change made before the
    # watcher started would wait for a quiet moment that never comes.
    async for changes in awatch(root, watch_filter=None, yield_on_timeout=True, rust_timeout=500):
        if checked and not any(ignore(change, path) for change, path in changes):
            continue
        checked = True
        started = time.perf_counter()
        try:
            load_app_config(root)
            data = await asyncio.to_thread(pack_directory, root)
            if hashlib.sha256(data).hexdigest() == last:
                continue
            last = hashlib.sha256(data).hexdigest()
            version = await platform.control.upload(app, data, message="dev reload", tag=None, actor="dev")
            await platform.control.deploy(app, env, [Split(version["id"], 100)], message="dev reload", actor="dev")
        except EdgeplaneError as exc:
            console.print(f"[red]reload failed[/] ({exc.code}): {exc.message}; still serving the previous version")
            if exc.details.get("stderr"):
                console.print(str(exc.details["stderr"]).rstrip())
            continue
        console.print(f"reloaded: v{version['number']} serves {env} ({(time.perf_counter() - started) * 1000:.0f} ms)")


@click.command()
@click.option("--env", "-e", default="development", show_default=True)
@click.option("--port", type=int, default=None, help="Gateway port (default 8787).")
@click.option("--admin-port", type=int, default=None, help="Admin API port (default 8788).")
def dev(env: str, port: int | None, admin_port: int | None) -> None:
    """Run this project locally on :8787 and reload the worker when its files change."""
    root = current_project().resolve()
    app = load_app_config(root).name
    config = load_server_config(
        root, port=port, admin_port=admin_port, data_dir=root / ".edgeplane" / "dev", keep_warm=0,
        workers_inherit_stdio=True, fallback=f"{app}/{env}",
    )  # fmt: skip

    from edgeplane.server import run

    async def ready(platform: Platform, token: str | None) -> None:
        banner(config, token, platform)
        console.print(f"  watching {root} for changes")
        current = await platform.control.status(app, env)
        serving = await platform.control.version(current["versions"][0]["version_id"])
        platform.control.spawn(_watch(platform, root, env, serving["hash"]))

    run(config, deploy=root, env=env, on_ready=ready)


COMMANDS = [init, dev]
