"""The admin API (FastAPI): everything the CLI does. Every ``/v1`` endpoint needs a bearer token."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from edgeplane import __version__
from edgeplane.control.routes import analytics, d1, deployments, kv, r2, rollouts, tokens, versions
from edgeplane.control.routes.auth import Reader
from edgeplane.control.service import ControlPlane
from edgeplane.errors import EdgeplaneError

__all__ = ["create_admin_app"]

log = logging.getLogger("edgeplane.admin")


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(EdgeplaneError)
    async def _edgeplane(_: Request, exc: EdgeplaneError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        body = {"error": {"code": "invalid_request", "message": "; ".join(problems)}}
        return JSONResponse(body, status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code)

    @api.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("admin API error")
        body = {"error": {"code": "internal", "message": "internal error; see the server log"}}
        return JSONResponse(body, status_code=500)


def create_admin_app(control: ControlPlane) -> FastAPI:
    api = FastAPI(title="edgeplane admin API", version=__version__)
    api.state.control = control
    _install_error_handlers(api)

    @api.get("/health", tags=["health"])
    async def health() -> dict[str, Any]:
        """Liveness without details (no token needed); details are under /v1/status."""
        return {"status": "healthy"}

    @api.get("/v1/status", tags=["health"])
    async def status(_: Reader) -> dict[str, Any]:
        return {"version": __version__, "pools": control.runtime.status()}

    for router in (
        versions.router,
        deployments.router,
        rollouts.router,
        kv.router,
        r2.router,
        d1.router,
        analytics.router,
        tokens.router,
    ):
        api.include_router(router)
    return api
