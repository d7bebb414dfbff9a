"""Files written by ``edgeplane init``."""

from __future__ import annotations

__all__ = ["FILES"]

EDGEPLANE_TOML = """\
name = "{name}"
main = "app.py"
compatibility_date = "{today}"

[vars]
GREETING = "hello from edgeplane"

[runtime]
pool_size = 2
health_check_path = "/health"

[env.development]
routes = ["dev.localhost/*"]
vars = {{ GREETING = "hello from development" }}

[env.staging]
routes = ["staging.localhost/*"]

[env.production]
routes = ["localhost/*", "127.0.0.1/*"]
"""

APP_PY = '''\
"""A minimal edgeplane worker: any ASGI app works; this one is FastAPI."""

from fastapi import FastAPI, Request

from edgeplane.worker import ctx_of, env_of, info_of

app = FastAPI()


@app.get("/")
async def index(request: Request) -> dict[str, str]:
    info = info_of(request)
    return {{"message": env_of(request).GREETING, "version": info.version_id, "env": info.environment}}


@app.get("/health")
async def health() -> dict[str, str]:
    return {{"status": "ok"}}


async def _after_response() -> None:
    """Work passed to ctx.wait_until runs after the response is sent."""


@app.post("/echo")
async def echo(request: Request) -> dict[str, object]:
    ctx_of(request).wait_until(_after_response())
    return {{"received": len(await request.body())}}
'''

GITIGNORE = ".edgeplane/\n__pycache__/\n"

FILES = {"edgeplane.toml": EDGEPLANE_TOML, "app.py": APP_PY, ".gitignore": GITIGNORE}
