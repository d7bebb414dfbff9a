"""``edgeplane serve``: gateway, admin API and worker supervisor in one process and one event loop.

One loop means a deploy or rollback swaps the gateway's routing table directly (no IPC), which is what makes
rollback take effect on the very next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from edgeplane.config.server import ServerConfig
from edgeplane.control.api import create_admin_app
from edgeplane.control.service import ControlPlane
from edgeplane.delivery.splits import Split
from edgeplane.errors import ConfigError, EdgeplaneError
from edgeplane.gateway.app import Gateway
from edgeplane.gateway.protocol import GatewayProtocol
from edgeplane.gctune import freeze_startup_heap
from edgeplane.observe.logs import configure_logging
from edgeplane.runtime.bundles import pack_directory

__all__ = ["Platform", "bind_socket", "run"]

log = logging.getLogger("edgeplane")


class _Server(uvicorn.Server):
    """uvicorn server without its own signal handling: the platform stops all servers together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int, what: str) -> socket.socket:
    """Bind now, so a busy port is a clear error before anything starts."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = "; stop the other process or pick another port" if exc.errno == errno.EADDRINUSE else ""
        raise ConfigError(f"cannot listen for the {what} on {host}:{port}: {exc.strerror}{hint}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Platform:
    """The running platform: control plane + gateway + admin API servers."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.gateway = Gateway(config)
        self.control = ControlPlane(config, self.gateway)
        self.servers: list[_Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.stopping = False
        self.first_token: str | None = None

    async def start(
        self, preset_token: str | None = None, deploy: Path | None = None, env: str = "production"
    ) -> str | None:
        """Bind, restore state, deploy ``deploy`` (if given), and only then serve: never half-configured."""
        gw_sock = bind_socket(self.config.host, self.config.port, "gateway")
        admin_sock = bind_socket(self.config.admin_host, self.config.admin_port, "admin API")
        self.sockets = [gw_sock, admin_sock]
        token = self.first_token = await self.control.start(preset_token)
        if deploy is not None:
            await self.deploy_directory(deploy, env)
        if self.stopping:
            return token
        common: dict[str, Any] = {"lifespan": "off", "log_level": "warning", "access_log": False, "log_config": None}
        gw = uvicorn.Config(
            self.gateway.app, http=GatewayProtocol.serving(self.gateway.hits), ws="none", loop="none",
            timeout_keep_alive=75, server_header=False,
            proxy_headers=False,  # the client ip comes only from the socket or the configured trusted header
            **common,
        )  # fmt: skip
        admin = uvicorn.Config(create_admin_app(self.control), loop="none", **common)
        self.servers = [_Server(gw), _Server(admin)]
        self._tasks = [
            asyncio.create_task(self.servers[0].serve(sockets=[gw_sock])),
            asyncio.create_task(self.servers[1].serve(sockets=[admin_sock])),
        ]
        while not all(s.started for s in self.servers):
            if any(t.done() for t in self._tasks):
                raise EdgeplaneError("a listener failed to start; see the log above", code="listen_failed")
            await asyncio.sleep(0.01)
        return token

    async def deploy_directory(self, directory: Path, env: str) -> None:
        """Upload ``directory``, apply its pending D1 migrations, and deploy it to ``env`` unless that exact
        bundle already serves there."""
        from edgeplane.bindings.sql.migrations import apply, local_migrations
        from edgeplane.config.load import load_app_config

        config = load_app_config(directory)
        app = config.name
        data = await asyncio.to_thread(pack_directory, directory)
        version = await self.control.upload(app, data, message="deployed at start-up", tag=None, actor="serve")
        for database in config.d1_for(env):
            db, _ = await self.control.bindings.d1(app, env, database.binding)
            done = await apply(db, local_migrations(directory / database.migrations_dir), database.migrations_table)
            if done:
                log.info("applied D1 migrations to %s: %s", database.binding, ", ".join(done))
        current = [d for d in await self.control.store.current_deployments() if (d["app"], d["env"]) == (app, env)]
        if current and [s["version_id"] for s in current[0]["splits"]] == [version["id"]]:
            return
        if current and len(current[0]["splits"]) == 1:
            serving = await self.control.version(current[0]["splits"][0]["version_id"])
            if serving["hash"] == version["hash"]:
                return
        await self.control.deploy(app, env, [Split(version["id"], 100)], message="deployed at start-up", actor="serve")

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def request_stop(self) -> None:
        self.stopping = True
        self.control.observe.tail.close()  # uvicorn waits for open responses; tail streams never end by themselves
        for server in self.servers:
            server.should_exit = True

    async def stop(self) -> None:
        self.request_stop()
        await self.wait()
        await self.control.close()


def run(
    config: ServerConfig,
    *,
    deploy: Path | None = None,
    env: str = "production",
    on_ready: Callable[[Platform, str | None], Awaitable[None] | None] | None = None,
) -> None:
    """Run until SIGINT/SIGTERM; ``on_ready`` is called once the platform serves."""
    import uvloop

    configure_logging(config.observe.logging)

    async def main() -> None:
        platform = Platform(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, platform.request_stop)
        try:
            try:
                token = await platform.start(os.environ.get("EDGEPLANE_ADMIN_TOKEN"), deploy, env)
            except EdgeplaneError:
                if platform.first_token:  # shown once: do not lose it because the first deploy failed
                    print(f"admin token (shown once, stored hashed): {platform.first_token}")
                raise
            if platform.stopping:
                return
            freeze_startup_heap()
            if on_ready is not None:
                result = on_ready(platform, token)
                if asyncio.iscoroutine(result):
                    await result
            await platform.wait()
        finally:
            await platform.control.close()

    uvloop.run(main())
