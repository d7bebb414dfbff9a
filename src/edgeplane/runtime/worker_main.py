"""Entry point of one worker process: import the user's ASGI app and serve it on a Unix socket.

Run by the supervisor as ``python -m edgeplane.runtime.worker_main`` with a JSON spec in
``EDGEPLANE_WORKER_SPEC``. Import errors go to stderr and exit with status 3 so the supervisor can report them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import json
import os
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from edgeplane.worker import Env, ExecutionContext, RequestInfo

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

READY_PATH = "/__edgeplane/ready"
EXIT_IMPORT_ERROR = 3
DRAIN_SECONDS = 30


class WorkerApp:
    """Wraps the user's app: injects env/ctx, answers the readiness probe, drains wait_until on shutdown."""

    def __init__(self, app: ASGIApp, env: Env, closers: list[Callable[[], Awaitable[None]]] | None = None) -> None:
        self.app = app
        self.env = env
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closers = closers or []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["path"] == READY_PATH:
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"ready"})
                return
            ctx = ExecutionContext(self.tasks)
            scope["env"] = self.env
            scope["ctx"] = ctx
            scope["edgeplane"] = RequestInfo({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
            try:
                await self.app(scope, receive, send)
            finally:
                ctx._start()
        elif scope["type"] == "lifespan":
            await self.app(scope, self._draining(receive), send)
        else:
            scope["env"] = self.env
            await self.app(scope, receive, send)

    def _draining(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                if self.tasks:
                    await asyncio.wait(list(self.tasks), timeout=DRAIN_SECONDS)
                for close in self.closers:
                    await close()
            return message

        return wrapped


def load_app(root: Path, main: str) -> ASGIApp:
    """Import ``main`` (``path/to/file.py[:attr]``) relative to ``root``."""
    file_part, _, attr = main.partition(":")
    path = (root / file_part).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"main = {main!r}: {path} does not exist in the bundle")
    for extra in (str(path.parent), str(root)):
        if extra not in sys.path:
            sys.path.insert(0, extra)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    app = getattr(module, attr or "app", None)
    if app is None or not callable(app):
        raise AttributeError(f"main = {main!r}: {path.name} has no ASGI app named {attr or 'app'!r}")
    return app  # type: ignore[no-any-return]


def _open_kv(item: dict[str, Any], data_dir: Path) -> Any:
    from edgeplane.bindings.kv import open_namespace

    return open_namespace(item["backend"], item["id"], data_dir, item.get("url"))


def _open_d1(item: dict[str, Any], data_dir: Path) -> Any:
    from edgeplane.bindings.sql import open_database

    return open_database(item["backend"], item["database_id"], data_dir, item.get("url"))


def _open_r2(item: dict[str, Any], data_dir: Path) -> Any:
    from edgeplane.bindings.objects import open_bucket
    from edgeplane.bindings.objects.presign import url_signer

    presign = item["presign"]
    sign = url_signer(presign["base_url"], bytes.fromhex(presign["key"]), presign["app"], presign["env"],
                      item["binding"])  # fmt: skip
    return open_bucket(item["backend"], item["bucket_name"], data_dir, item.get("url"), item.get("options"), sign)


def _open_analytics(item: dict[str, Any], data_dir: Path) -> Any:
    from edgeplane.bindings.analytics import open_dataset_writer

    return open_dataset_writer(item["dataset"], data_dir)


OPENERS: dict[str, Callable[[dict[str, Any], Path], Any]] = {
    "kv": _open_kv, "d1": _open_d1, "r2": _open_r2, "analytics": _open_analytics,
}  # fmt: skip
"""Binding kind -> how a worker opens one (each result has ``async close()``)."""


def build_env(spec: dict[str, Any]) -> tuple[dict[str, Any], list[Callable[[], Awaitable[None]]]]:
    """Vars plus one object per binding; and the functions that close the bindings at shutdown."""
    values: dict[str, Any] = dict(spec.get("vars", {}))
    closers: list[Callable[[], Awaitable[None]]] = []
    data_dir = Path(spec["data_dir"])
    for kind, items in spec.get("bindings", {}).items():
        for item in items:
            binding = OPENERS[kind](item, data_dir)
            values[item["binding"]] = binding
            closers.append(binding.close)
    return values, closers


def _die_with_parent() -> None:
    """Linux: get SIGTERM when the supervisor dies, so no worker outlives the platform."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def main() -> None:
    _die_with_parent()
    spec = json.loads(os.environ["EDGEPLANE_WORKER_SPEC"])
    root = Path(spec["root"])
    os.chdir(root)
    try:
        app = load_app(root, spec["main"])
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(EXIT_IMPORT_ERROR)
    import uvicorn

    from edgeplane.gctune import freeze_startup_heap

    values, closers = build_env(spec)
    freeze_startup_heap()
    wrapped = WorkerApp(app, Env(values), closers)
    config = uvicorn.Config(
        wrapped,
        uds=spec["socket"],
        loop="uvloop",
        http="httptools",
        lifespan="auto",
        access_log=False,
        log_level=spec.get("log_level", "warning"),
        timeout_keep_alive=300,
        server_header=False,
        date_header=False,
        proxy_headers=True,  # only the gateway can reach this socket: request.client is the real client
        forwarded_allow_ips="*",
        timeout_graceful_shutdown=DRAIN_SECONDS,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(EXIT_IMPORT_ERROR)


if __name__ == "__main__":
    main()
