"""The admin API (FastAPI): everything the CLI does. Every ``/v1`` endpoint needs a bearer token."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from edgeplane import __version__
from edgeplane.control.routes import (
    alerts,
    analytics,
    cache,
    d1,
    deployments,
    incidents,
    kv,
    metrics,
    notifications,
    observe,
    probes,
    r2,
    rollouts,
    tokens,
    versions,
)
from edgeplane.control.routes.auth import Reader
from edgeplane.control.service import ControlPlane
from edgeplane.errors import EdgeplaneError
from edgeplane.observe.health import http_status, public_view

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
    async def health(authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
        """Overall and per-component status with timings, without a token (load balancers); with a ``read``
        token each component's details too. 200 while the node can serve (healthy, degraded), else 503."""
        report = await control.observe.health.current()
        body = report if authorization and await control.auth.check(authorization, "read") else public_view(report)
        return JSONResponse(body, status_code=http_status(report))

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
        incidents.router,
        alerts.router,
        notifications.router,
        probes.router,
        observe.router,
        metrics.router,
        cache.router,
    ):
        api.include_router(router)
    return api
