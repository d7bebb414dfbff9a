"""What a worker sees: ``scope["env"]`` (vars and bindings) and ``scope["ctx"]`` (``wait_until``).

Inside a FastAPI/Starlette handler::

    from edgeplane.worker import env_of, ctx_of

    @app.get("/")
    async def index(request: Request):
        greeting = env_of(request).GREETING
        ctx_of(request).wait_until(send_audit_event())
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

__all__ = ["Env", "ExecutionContext", "RequestInfo", "ctx_of", "env_of", "info_of"]


class _HasScope(Protocol):
    @property
    def scope(self) -> Any: ...


class Env(Mapping[str, Any]):
    """Vars and bindings of the running version, by attribute (``env.API_URL``) or by key."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no var or binding named {name!r} in this environment") from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Env({sorted(self._values)})"


class ExecutionContext:
    """Per-request context: ``wait_until`` runs work after the response has been sent."""

    __slots__ = ("_pending", "_tasks")

    def __init__(self, tasks: set[asyncio.Task[Any]]) -> None:
        self._tasks = tasks
        self._pending: list[Awaitable[Any]] = []

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        """Run ``awaitable`` once the response is complete; the process waits for it before exiting."""
        self._pending.append(awaitable)

    def _start(self) -> None:
        for awaitable in self._pending:
            task = asyncio.ensure_future(awaitable)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._pending.clear()


class RequestInfo:
    """What the gateway knows about the request (request id, client ip, colo, country, version, env)."""

    __slots__ = ("client_ip", "colo", "country", "environment", "request_id", "version_id")

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.request_id = headers.get("edgeplane-request-id", "")
        self.client_ip = headers.get("edgeplane-client-ip", "")
        self.colo = headers.get("edgeplane-colo", "")
        self.country = headers.get("edgeplane-country") or None
        self.version_id = headers.get("edgeplane-version", "")
        self.environment = headers.get("edgeplane-env", "")


def env_of(request: _HasScope) -> Env:
    """``request.scope["env"]`` with a clear error outside edgeplane."""
    try:
        env: Env = request.scope["env"]
    except KeyError:
        raise RuntimeError("not running under edgeplane: scope has no 'env'") from None
    return env


def ctx_of(request: _HasScope) -> ExecutionContext:
    """``request.scope["ctx"]``."""
    try:
        ctx: ExecutionContext = request.scope["ctx"]
    except KeyError:
        raise RuntimeError("not running under edgeplane: scope has no 'ctx'") from None
    return ctx


def info_of(request: _HasScope) -> RequestInfo:
    """``request.scope["edgeplane"]``: the gateway's view of this request."""
    info: RequestInfo = request.scope["edgeplane"]
    return info
